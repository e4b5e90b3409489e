import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { modelCommand } from '../../src/main/cli/commands/model'
import { buildResUnetOnnx, RANDOM_INIT_MARK } from '../../src/main/inference/network/buildOnnx'
import { blockParameterCounts, describeResUnet, parameterCount, type LayerDescription } from '../../src/main/inference/network/layerDescription'
import { describeOnnxModel } from '../../src/main/inference/network/modelInfo'
import { PAPER_RESUNET, PAPER_RESUNET_PARAMETERS, resUnetConfig, type ResUnetConfig } from '../../src/main/inference/network/resUnetConfig'
import { uniformRandom as mulberry32 } from '../../src/main/imaging/seededRandom'
import { validateWeights, WeightMismatchError } from '../../src/main/inference/network/validateWeights'
import { makeTempDir, REPO_ROOT } from './helpers/data'

const KEYS_FILE = join(REPO_ROOT, '../shared/spec/monai-unet-state-dict-keys.txt')
const CHECKPOINT_LOADER = join(REPO_ROOT, 'src/main/inference/checkpoint/loadCheckpoint.ts')

const tmp = makeTempDir('lesionlab-resunet-')
afterAll(() => tmp.cleanup())

// ---------------------------------------------------------------------------------------------------
// An independent reference: MONAI's UNet forward pass (method.md §3) with plain loops in float64, batch 1.
// It shares nothing with the description walker: it derives the state_dict keys itself, so a naming or
// wiring difference fails as a missing key or a numerical mismatch.
// ---------------------------------------------------------------------------------------------------

interface Vol {
  c: number
  d: number
  h: number
  w: number
  data: Float64Array
}

type Weights = Map<string, Float32Array>

const vol = (c: number, d: number, h: number, w: number): Vol => ({ c, d, h, w, data: new Float64Array(c * d * h * w) })

function get(W: Weights, key: string): Float32Array {
  const v = W.get(key)
  if (!v) throw new Error(`reference: no weight ${key}`)
  return v
}

/** Conv3d, weight (out, in, k, k, k), zero padding. */
function conv3d(x: Vol, W: Weights, prefix: string, outC: number, k: number, stride: number, pad: number): Vol {
  const w = get(W, `${prefix}.weight`)
  const b = get(W, `${prefix}.bias`)
  expect(w.length).toBe(outC * x.c * k ** 3)
  const od = Math.floor((x.d + 2 * pad - k) / stride) + 1
  const oh = Math.floor((x.h + 2 * pad - k) / stride) + 1
  const ow = Math.floor((x.w + 2 * pad - k) / stride) + 1
  const y = vol(outC, od, oh, ow)
  for (let o = 0; o < outC; o++) {
    for (let z = 0; z < od; z++) {
      for (let yy = 0; yy < oh; yy++) {
        for (let xx = 0; xx < ow; xx++) {
          let s = b[o]
          for (let i = 0; i < x.c; i++) {
            for (let kz = 0; kz < k; kz++) {
              const iz = z * stride - pad + kz
              if (iz < 0 || iz >= x.d) continue
              for (let ky = 0; ky < k; ky++) {
                const iy = yy * stride - pad + ky
                if (iy < 0 || iy >= x.h) continue
                for (let kx = 0; kx < k; kx++) {
                  const ix = xx * stride - pad + kx
                  if (ix < 0 || ix >= x.w) continue
                  s += x.data[((i * x.d + iz) * x.h + iy) * x.w + ix] * w[(((o * x.c + i) * k + kz) * k + ky) * k + kx]
                }
              }
            }
          }
          y.data[((o * od + z) * oh + yy) * ow + xx] = s
        }
      }
    }
  }
  return y
}

/** ConvTranspose3d k3 s2 p1 output_padding 1 by scattering: out[2i - 1 + k] += x[i] * W[in, out, k]. */
function convTranspose3d(x: Vol, W: Weights, prefix: string, outC: number): Vol {
  const w = get(W, `${prefix}.weight`)
  const b = get(W, `${prefix}.bias`)
  expect(w.length).toBe(x.c * outC * 27)
  const [od, oh, ow] = [x.d, x.h, x.w].map((n) => (n - 1) * 2 - 2 * 1 + 3 + 1)
  const y = vol(outC, od, oh, ow)
  for (let o = 0; o < outC; o++) y.data.fill(b[o], o * od * oh * ow, (o + 1) * od * oh * ow)
  for (let i = 0; i < x.c; i++) {
    for (let z = 0; z < x.d; z++) {
      for (let yy = 0; yy < x.h; yy++) {
        for (let xx = 0; xx < x.w; xx++) {
          const v = x.data[((i * x.d + z) * x.h + yy) * x.w + xx]
          for (let o = 0; o < outC; o++) {
            for (let kz = 0; kz < 3; kz++) {
              const tz = 2 * z - 1 + kz
              if (tz < 0 || tz >= od) continue
              for (let ky = 0; ky < 3; ky++) {
                const ty = 2 * yy - 1 + ky
                if (ty < 0 || ty >= oh) continue
                for (let kx = 0; kx < 3; kx++) {
                  const tx = 2 * xx - 1 + kx
                  if (tx < 0 || tx >= ow) continue
                  y.data[((o * od + tz) * oh + ty) * ow + tx] += v * w[(((i * outC + o) * 3 + kz) * 3 + ky) * 3 + kx]
                }
              }
            }
          }
        }
      }
    }
  }
  return y
}

function norm(x: Vol, W: Weights, prefix: string, kind: 'batch' | 'instance'): Vol {
  const y = vol(x.c, x.d, x.h, x.w)
  const n = x.d * x.h * x.w
  for (let c = 0; c < x.c; c++) {
    let mean: number
    let variance: number
    let gamma = 1
    let beta = 0
    if (kind === 'batch') {
      mean = get(W, `${prefix}.running_mean`)[c]
      variance = get(W, `${prefix}.running_var`)[c]
      gamma = get(W, `${prefix}.weight`)[c]
      beta = get(W, `${prefix}.bias`)[c]
    } else {
      // InstanceNorm3d(affine=False): statistics of this sample and channel, biased variance.
      expect(W.has(`${prefix}.weight`)).toBe(false)
      mean = 0
      for (let i = 0; i < n; i++) mean += x.data[c * n + i]
      mean /= n
      variance = 0
      for (let i = 0; i < n; i++) variance += (x.data[c * n + i] - mean) ** 2
      variance /= n
    }
    const scale = gamma / Math.sqrt(variance + 1e-5)
    for (let i = 0; i < n; i++) y.data[c * n + i] = (x.data[c * n + i] - mean) * scale + beta
  }
  return y
}

function prelu(x: Vol, W: Weights, key: string): Vol {
  const a = get(W, key)
  expect(a.length).toBe(1)
  return { ...x, data: x.data.map((v) => (v >= 0 ? v : a[0] * v)) }
}

function add(a: Vol, b: Vol): Vol {
  expect([a.c, a.d, a.h, a.w]).toEqual([b.c, b.d, b.h, b.w])
  return { ...a, data: a.data.map((v, i) => v + b.data[i]) }
}

function concat(a: Vol, b: Vol): Vol {
  expect([a.d, a.h, a.w]).toEqual([b.d, b.h, b.w])
  const data = new Float64Array(a.data.length + b.data.length)
  data.set(a.data)
  data.set(b.data, a.data.length)
  return { c: a.c + b.c, d: a.d, h: a.h, w: a.w, data }
}

/** MONAI UNet(3, inC, outC, channels, strides, num_res_units, norm) forward, method.md §3. */
function referenceUnet(x: Vol, cfg: ResUnetConfig, W: Weights): Vol {
  const { channels, strides, numResUnits: units } = cfg
  // Convolution(conv + ADN "NDA"), optionally conv-only.
  const convolution = (p: string, v: Vol, outC: number, stride: number, convOnly: boolean): Vol => {
    const c = conv3d(v, W, `${p}.conv`, outC, 3, stride, 1)
    return convOnly ? c : prelu(norm(c, W, `${p}.adn.N`, cfg.norm), W, `${p}.adn.A.weight`)
  }
  const residualUnit = (p: string, v: Vol, outC: number, stride: number, subunits: number, lastConvOnly: boolean): Vol => {
    let y = v
    for (let u = 0; u < subunits; u++) y = convolution(`${p}.conv.unit${u}`, y, outC, u === 0 ? stride : 1, lastConvOnly && u === subunits - 1)
    let r = v
    if (stride !== 1) r = conv3d(v, W, `${p}.residual`, outC, 3, stride, 1)
    else if (v.c !== outC) r = conv3d(v, W, `${p}.residual`, outC, 1, 1, 0)
    return add(y, r)
  }
  const down = (p: string, v: Vol, outC: number, stride: number): Vol =>
    units > 0 ? residualUnit(p, v, outC, stride, units, false) : convolution(p, v, outC, stride, false)
  const up = (p: string, v: Vol, outC: number, isTop: boolean): Vol => {
    if (units === 0) {
      const t = convTranspose3d(v, W, `${p}.conv`, outC)
      return isTop ? t : prelu(norm(t, W, `${p}.adn.N`, cfg.norm), W, `${p}.adn.A.weight`)
    }
    let t = convTranspose3d(v, W, `${p}.0.conv`, outC)
    t = prelu(norm(t, W, `${p}.0.adn.N`, cfg.norm), W, `${p}.0.adn.A.weight`)
    return residualUnit(`${p}.1`, t, outC, 1, 1, isTop)
  }
  const level = (i: number, v: Vol, outC: number, p: string): Vol => {
    const d = down(`${p}.0`, v, channels[i], strides[i])
    const deeper = i === channels.length - 2 ? down(`${p}.1.submodule`, d, channels[i + 1], 1) : level(i + 1, d, channels[i], `${p}.1.submodule`)
    return up(`${p}.2`, concat(d, deeper), outC, i === 0)
  }
  return level(0, x, cfg.outChannels, 'model')
}

// ---------------------------------------------------------------------------------------------------

/** Random weights for every described tensor, chosen so BatchNorm and PReLU matter (non-trivial stats). */
function randomWeights(desc: LayerDescription, seed: number): Weights {
  const rand = mulberry32(seed)
  const u = (lo: number, hi: number): number => lo + (hi - lo) * rand()
  const W: Weights = new Map()
  for (const t of desc.tensors) {
    const n = t.shape.reduce((a, d) => a * d, 1)
    const k = t.key
    const fill = (f: () => number): Float32Array => Float32Array.from({ length: n }, f)
    if (k.endsWith('num_batches_tracked')) W.set(k, new Float32Array([7]))
    else if (k.endsWith('running_var')) W.set(k, fill(() => u(0.5, 2)))
    else if (k.endsWith('running_mean') || k.endsWith('adn.N.bias')) W.set(k, fill(() => u(-0.3, 0.3)))
    else if (k.endsWith('adn.N.weight')) W.set(k, fill(() => u(0.5, 1.5)))
    else if (k.endsWith('adn.A.weight')) W.set(k, fill(() => u(-0.2, 0.5)))
    else {
      const fan = t.shape.length === 5 ? n / t.shape[0] : 27
      const bound = Math.sqrt(3 / fan)
      W.set(k, fill(() => u(-bound, bound)))
    }
  }
  return W
}

function randomInput(c: number, d: number, h: number, w: number, seed: number): Vol {
  const rand = mulberry32(seed)
  const x = vol(c, d, h, w)
  for (let i = 0; i < x.data.length; i++) x.data[i] = 2 * rand() - 1
  return x
}

/** Run a model on a batch of volumes with ONNX Runtime (CPU, 1 thread). */
async function runOrt(bytes: Uint8Array, xs: Vol[], threads = 1): Promise<{ dims: readonly number[]; data: Float32Array }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads })
  const { c, d, h, w } = xs[0]
  const input = new Float32Array(xs.length * c * d * h * w)
  xs.forEach((x, i) => input.set(Float32Array.from(x.data), i * x.data.length))
  const out = await session.run({ image: new ort.Tensor('float32', input, [xs.length, c, d, h, w]) })
  const logits = out.logits
  await session.release()
  return { dims: logits.dims, data: logits.data as Float32Array }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, offset = 0): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[offset + i]))
  return m
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]))
  return m
}

describe('ResUNet description', () => {
  it('the paper network has 19,223,525 trainable parameters, per block as in method.md', () => {
    const desc = describeResUnet(PAPER_RESUNET)
    expect(parameterCount(desc)).toBe(PAPER_RESUNET_PARAMETERS)
    expect(parameterCount(desc)).toBe(19_223_525)
    expect(blockParameterCounts(desc).map((b) => [b.id, b.parameters])).toEqual([
      ['down0', 31_330],
      ['down1', 221_634],
      ['down2', 885_634],
      ['down3', 3_540_738],
      ['bottom', 10_751_490],
      ['up3', 3_097_346],
      ['up2', 553_346],
      ['up1', 138_434],
      ['up0', 3_573],
    ])
    expect(desc.spatialMultiple).toBe(16)
  })

  it('with InstanceNorm (affine=False, no running stats) 19,218,657', () => {
    const desc = describeResUnet(resUnetConfig({ norm: 'instance' }))
    expect(parameterCount(desc)).toBe(19_218_657)
    expect(desc.tensors.some((t) => t.key.includes('.adn.N.'))).toBe(false)
    expect(desc.ops.filter((o) => o.op === 'instanceNorm')).toHaveLength(17)
  })

  it('describes exactly the 148 state_dict keys and shapes of the spec file, in order', () => {
    const expected = readFileSync(KEYS_FILE, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('model.'))
      .map((l) => {
        const m = /^(\S+) \(([\d, ]*)\)\s*(\(buffer\))?\s*$/.exec(l)
        if (!m) throw new Error(`unparsed line ${l}`)
        return { key: m[1], shape: m[2].split(',').map((s) => s.trim()).filter(Boolean).map(Number), trainable: !m[3] }
      })
    expect(expected).toHaveLength(148)
    const desc = describeResUnet(PAPER_RESUNET)
    expect(desc.tensors.map((t) => ({ key: t.key, shape: t.shape, trainable: t.trainable }))).toEqual(expected)
  })

  it('ops form a valid data flow from image to logits, and every tensor is used', () => {
    const desc = describeResUnet(PAPER_RESUNET)
    const available = new Set(['image'])
    const usedKeys = new Set<string>()
    for (const op of desc.ops) {
      const inputs = 'inputs' in op ? op.inputs : [op.input]
      for (const i of inputs) expect(available.has(i), `${op.module} reads ${i}`).toBe(true)
      expect(available.has(op.output)).toBe(false)
      available.add(op.output)
      for (const [k, v] of Object.entries(op)) if (['weight', 'bias', 'runningMean', 'runningVar', 'numBatchesTracked', 'slope'].includes(k)) usedKeys.add(v as string)
    }
    expect(desc.ops[desc.ops.length - 1].output).toBe('logits')
    expect([...usedKeys].sort()).toEqual(desc.tensors.map((t) => t.key).sort())
    expect(JSON.parse(JSON.stringify(desc))).toEqual(desc) // plain data
  })

  it('validateWeights names missing, unexpected and mis-shaped keys', () => {
    const desc = describeResUnet(resUnetConfig({ channels: [4, 8, 16] }))
    const W = randomWeights(desc, 1)
    expect(validateWeights(desc, W).size).toBe(desc.tensors.length)
    W.delete('model.0.conv.unit0.conv.bias')
    W.delete('model.0.conv.unit0.adn.N.num_batches_tracked') // optional
    W.set('model.9.extra', new Float32Array(1))
    const withShapes = new Map([...W].map(([k, v]) => [k, { shape: desc.tensors.find((t) => t.key === k)?.shape ?? [1], data: v }]))
    withShapes.set('model.2.1.conv.unit0.conv.weight', { shape: [2, 2, 27], data: new Float32Array(108) })
    let error: unknown
    try {
      validateWeights(desc, withShapes)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WeightMismatchError)
    const m = error as WeightMismatchError
    expect(m.missing).toEqual(['model.0.conv.unit0.conv.bias'])
    expect(m.unexpected).toEqual(['model.9.extra'])
    expect(m.misshaped.map((x) => x.key)).toEqual(['model.2.1.conv.unit0.conv.weight'])
    expect(m.message).toMatch(/model\.0\.conv\.unit0\.conv\.bias.*model\.9\.extra.*model\.2\.1\.conv\.unit0\.conv\.weight is \(2, 2, 27\), expected \(2, 2, 3, 3, 3\)/)
    expect(() => buildResUnetOnnx(desc, { weights: W, convTranspose: 'native', batchNormMode: 'inference' })).toThrow(/missing: model\.0\.conv\.unit0\.conv\.bias/)
  })
})

describe('ResUNet ONNX graph against a naive reference forward pass', () => {
  const cases: { name: string; config: ResUnetConfig; sizes: [number, number, number][]; batch: number }[] = [
    { name: 'channels (4,8,16), 2 res units, BatchNorm', config: resUnetConfig({ channels: [4, 8, 16] }), sizes: [[16, 16, 16], [8, 16, 12]], batch: 1 },
    { name: 'channels (4,8,16), 1 res unit, InstanceNorm, batch 2', config: resUnetConfig({ channels: [4, 8, 16], numResUnits: 1, norm: 'instance' }), sizes: [[8, 12, 16]], batch: 2 },
    { name: 'channels (3,6), no res units, BatchNorm', config: resUnetConfig({ channels: [3, 6], numResUnits: 0 }), sizes: [[6, 8, 4]], batch: 1 },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const desc = describeResUnet(c.config)
      const W = randomWeights(desc, 11)
      for (const [d, h, w] of c.sizes) {
        const xs = Array.from({ length: c.batch }, (_, i) => randomInput(2, d, h, w, 100 + i))
        const refs = xs.map((x) => referenceUnet(x, c.config, W))
        expect([refs[0].c, refs[0].d, refs[0].h, refs[0].w]).toEqual([2, d, h, w])
        expect(maxAbs(refs[0].data)).toBeGreaterThan(0.1) // a non-trivial output, so the tolerance means something
        for (const mode of ['native', 'subpixel'] as const) {
          const bytes = buildResUnetOnnx(desc, { weights: W, convTranspose: mode, batchNormMode: 'inference' })
          const info = describeOnnxModel(bytes)
          if (mode === 'subpixel') expect(info.opTypes.ConvTranspose).toBeUndefined()
          else expect(info.opTypes.ConvTranspose).toBe(c.config.channels.length - 1)
          const out = await runOrt(bytes, xs)
          expect(out.dims).toEqual([c.batch, 2, d, h, w])
          refs.forEach((ref, i) => {
            const diff = maxAbsDiff(ref.data, out.data, i * ref.data.length)
            expect(diff, `${mode} ${d}x${h}x${w} sample ${i}: max |ORT - reference| = ${diff}`).toBeLessThan(1e-4)
          })
        }
      }
    })
  }
})

describe('paper ResUNet in ONNX Runtime', () => {
  const desc = describeResUnet(PAPER_RESUNET)
  let native: Uint8Array
  let subpixel: Uint8Array

  it('builds (random init, marked) and describes itself', () => {
    native = buildResUnetOnnx(desc, { convTranspose: 'native', batchNormMode: 'inference' })
    subpixel = buildResUnetOnnx(desc, { convTranspose: 'subpixel', batchNormMode: 'inference', opset: 17 })
    for (const bytes of [native, subpixel]) {
      const info = describeOnnxModel(bytes)
      expect(info.opset).toBe(17)
      expect(info.inputs).toEqual([{ name: 'image', shape: ['N', 2, 'D', 'H', 'W'], elemType: 'FLOAT' }])
      expect(info.outputs).toEqual([{ name: 'logits', shape: ['N', 2, 'D', 'H', 'W'], elemType: 'FLOAT' }])
      expect(info.parameterCount).toBe(19_223_525)
      expect(info.bufferCount).toBe(2 * 2434)
      expect(info.initializerCount).toBe(148 - 17) // all but num_batches_tracked
      expect(info.metadata.spatial_multiple).toBe('16')
      expect(info.metadata.architecture).toBe('monai-resunet')
      expect(info.metadata.weights).toContain(RANDOM_INIT_MARK)
      expect(info.docString).toMatch(/multiples of 16/)
      expect(info.opTypes.BatchNormalization).toBe(17)
    }
    expect(describeOnnxModel(native).opTypes.ConvTranspose).toBe(4)
    expect(describeOnnxModel(subpixel).opTypes.ConvTranspose).toBeUndefined()
    expect(describeOnnxModel(native).nodeCount).toBe(70)
  })

  it('runs on 1x2x16x16x16 and gives finite 1x2x16x16x16 logits in both variants', async () => {
    const x = randomInput(2, 16, 16, 16, 5)
    const a = await runOrt(native, [x])
    const b = await runOrt(subpixel, [x])
    expect(a.dims).toEqual([1, 2, 16, 16, 16])
    expect(b.dims).toEqual([1, 2, 16, 16, 16])
    expect(a.data.every(Number.isFinite)).toBe(true)
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-4)
  })

  it('throughput (printed only): one forward on 1x2x32x32x32', async () => {
    const x = randomInput(2, 32, 32, 32, 6)
    const input = new ort.Tensor('float32', Float32Array.from(x.data), [1, 2, 32, 32, 32])
    for (const [label, bytes] of [['native', native], ['subpixel', subpixel]] as const) {
      for (const threads of [1, 2]) {
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads })
        await session.run({ image: input }) // warm-up
        let best = Infinity
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now()
          await session.run({ image: input })
          best = Math.min(best, performance.now() - t0)
        }
        console.log(`paper ResUNet ${label}, 1x2x32^3, ${threads} thread(s): ${best.toFixed(0)} ms (best of 3; 2 shared vCPUs)`)
        await session.release()
      }
    }
  })
})

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function lesionlab(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/lesionlab.mjs', ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr })
    })
  })
}

/** `modelCommand.run` with console output captured. */
async function runModelCommand(args: string[]): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')))
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')))
  try {
    const code = await modelCommand.run(args)
    return { code, stdout: out.join('\n'), stderr: err.join('\n') }
  } finally {
    log.mockRestore()
    error.mockRestore()
  }
}

describe('lesionlab model', () => {
  it('model info --arch resunet-paper --json (through bin/lesionlab.mjs once registered)', async () => {
    let r = await lesionlab('model', 'info', '--arch', 'resunet-paper', '--json')
    if (/unknown command/.test(r.stderr)) r = await runModelCommand(['info', '--arch', 'resunet-paper', '--json'])
    expect(r.code).toBe(0)
    const info = JSON.parse(r.stdout) as { architecture: string; parameters: number; inputs: unknown; outputs: unknown; opset: number; stateDictEntries: number; blocks: { parameters: number }[] }
    expect(info.architecture).toBe('monai-resunet')
    expect(info.parameters).toBe(19_223_525)
    expect(info.inputs).toEqual([{ name: 'image', shape: ['N', 2, 'D', 'H', 'W'] }])
    expect(info.outputs).toEqual([{ name: 'logits', shape: ['N', 2, 'D', 'H', 'W'] }])
    expect(info.opset).toBe(17)
    expect(info.stateDictEntries).toBe(148)
    expect(info.blocks.map((b) => b.parameters)).toEqual([31_330, 221_634, 885_634, 3_540_738, 10_751_490, 3_097_346, 553_346, 138_434, 3_573])
    const inst = await runModelCommand(['info', '--arch', 'resunet-paper', '--norm', 'instance', '--json'])
    expect((JSON.parse(inst.stdout) as { parameters: number }).parameters).toBe(19_218_657)
  })

  it('model build (random, small, subpixel) then model info FILE', async () => {
    const file = join(tmp.dir, 'small.onnx')
    const b = await runModelCommand(['build', '--arch', 'resunet-paper', '--channels', '4,8,16', '--res-units', '1', '--convtranspose', 'subpixel', '--seed', '3', '--out', file])
    expect(b.code).toBe(0)
    expect(b.stderr).toMatch(/NOT A TRAINED MODEL/)
    const r = await runModelCommand(['info', file, '--json'])
    const info = JSON.parse(r.stdout) as { architecture: string; parameters: number; convTranspose: string; weights: string; opset: number; config: ResUnetConfig; opTypes: Record<string, number> }
    expect(info.architecture).toBe('monai-resunet')
    expect(info.parameters).toBe(parameterCount(describeResUnet(resUnetConfig({ channels: [4, 8, 16], numResUnits: 1 }))))
    expect(info.convTranspose).toBe('subpixel')
    expect(info.opTypes.ConvTranspose).toBeUndefined()
    expect(info.weights).toMatch(/NOT A TRAINED MODEL \(seed 3\)/)
    expect(info.config.channels).toEqual([4, 8, 16])
    const text = await runModelCommand(['info', file])
    expect(text.stdout).toMatch(/parameters\s+[\d,]+/)
    await expect(modelCommand.run(['build', '--arch', 'resunet-paper', '--out', join(tmp.dir, 'x.onnx'), '--norm', 'group'])).rejects.toThrow(/--norm group/)
    await expect(modelCommand.run(['info'])).rejects.toThrow(/either --arch or one ONNX file/)
  })

  it.skipIf(!existsSync(CHECKPOINT_LOADER))('model build --weights a .safetensors state_dict reproduces the reference', async () => {
    const config = resUnetConfig({ channels: [4, 8, 16] })
    const desc = describeResUnet(config)
    const W = randomWeights(desc, 21)
    W.delete('model.0.conv.unit0.adn.N.num_batches_tracked')
    const file = join(tmp.dir, 'small.safetensors')
    writeFileSync(file, safetensors(desc, W))
    const out = join(tmp.dir, 'small-ckpt.onnx')
    const b = await runModelCommand(['build', '--arch', 'resunet-paper', '--channels', '4,8,16', '--weights', file, '--out', out])
    expect(b.code).toBe(0)
    const meta = describeOnnxModel(new Uint8Array(readFileSync(out))).metadata
    expect(meta.weights).toBe('checkpoint')
    expect(meta.weights_source).toBe('small.safetensors')
    expect(meta.weights_sha256).toMatch(/^[0-9a-f]{64}$/)
    const x = randomInput(2, 8, 8, 8, 9)
    const ref = referenceUnet(x, config, W)
    const got = await runOrt(new Uint8Array(readFileSync(out)), [x])
    expect(maxAbsDiff(ref.data, got.data)).toBeLessThan(1e-4)
  })
})

/** A .safetensors file (F32 tensors only; num_batches_tracked left out). */
function safetensors(desc: LayerDescription, W: Weights): Uint8Array {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {}
  const chunks: Float32Array[] = []
  let offset = 0
  for (const t of desc.tensors) {
    const data = W.get(t.key)
    if (!data || t.role === 'numBatchesTracked') continue
    header[t.key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + data.byteLength] }
    chunks.push(data)
    offset += data.byteLength
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const bytes = new Uint8Array(8 + json.length + offset)
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true)
  bytes.set(new TextEncoder().encode(json), 8)
  let p = 8 + json.length
  for (const c of chunks) {
    bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), p)
    p += c.byteLength
  }
  return bytes
}
