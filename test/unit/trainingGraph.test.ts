import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { DEFAULT_OPSET, emitResUnetForward, irVersionFor } from '../../src/main/inference/network/buildOnnx'
import type { LayerOp } from '../../src/main/inference/network/layerDescription'
import { GraphWriter, tensorValueInfo } from '../../src/main/inference/network/onnxGraph'
import { onnxProto } from '../../src/main/inference/network/onnxProto'
import { uniformRandom } from '../../src/main/imaging/seededRandom'
import { activationShapes, type Shape5 } from '../../src/main/training/graph/activationShapes'
import { emitBackwardPass } from '../../src/main/training/graph/backward'
import { emitGeneralizedDiceFocal } from '../../src/main/training/graph/lossGraph'
import { generalizedDiceFocalLoss } from '../../src/main/training/loss/generalizedDiceFocal'

/**
 * The hand-derived backward pass, operator by operator, against central finite differences of the
 * forward graph run by ONNX Runtime. The probe loss L = Σ y·R (R random) makes dL/dy = R; every
 * operator here is linear in each single coordinate (PReLU piecewise, and the check avoids its kink),
 * so the differences are exact up to float32 rounding.
 */

type Tensors = Record<string, { shape: number[]; data: Float32Array }>

const random = uniformRandom(20261129)
const randn = (n: number, scale = 1, offset = 0): Float32Array => Float32Array.from({ length: n }, () => offset + scale * (2 * random() - 1))
const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

function modelBytes(g: GraphWriter, inputs: Tensors, outputs: string[]): Uint8Array {
  return onnxProto.ModelProto.encode({
    irVersion: irVersionFor(DEFAULT_OPSET),
    opsetImport: [{ domain: '', version: DEFAULT_OPSET }],
    producerName: 'lesionlab-test',
    graph: {
      name: 'check',
      node: g.nodes,
      input: Object.entries(inputs).map(([name, t]) => tensorValueInfo(name, t.shape)),
      output: outputs.map((name) => ({ name })),
    },
  }).finish()
}

async function run(bytes: Uint8Array, tensors: Tensors): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 })
  const feeds = Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, new ort.Tensor('float32', t.data, t.shape)]))
  const out = await session.run(feeds)
  await session.release()
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]))
}

/** Checks d(Σ y·R)/d(every parameter and the inputs) of `ops` against central differences. */
async function checkOps(ops: LayerOp[], inputs: Record<string, Shape5>, params: Tensors, output: string, options: { h?: number; avoidKinkAt0?: string } = {}) {
  const h = options.h ?? 0.1
  const shapes = new Map<string, Shape5>()
  for (const [name, shape] of Object.entries(inputs)) for (const [k, v] of activationShapes(ops, { name, shape })) shapes.set(k, v)
  const outShape = shapes.get(output)!
  const tensors: Tensors = { ...params, probe: { shape: outShape, data: randn(count(outShape)) } }
  for (const [name, shape] of Object.entries(inputs)) tensors[name] = { shape, data: randn(count(shape), 1, 0.1) }

  const forward = new GraphWriter()
  emitResUnetForward(forward, ops, 'native')
  forward.node('Mul', [output, 'probe'], ['yr'])
  forward.node('ReduceSum', ['yr'], ['L'], { keepdims: 0 })
  const forwardBytes = modelBytes(forward, tensors, ['L'])

  const backward = new GraphWriter()
  emitResUnetForward(backward, ops, 'native')
  const { paramGrads, inputGrads } = emitBackwardPass({
    g: backward,
    ops,
    shapes,
    trainable: new Set(Object.keys(params).filter((k) => !k.includes('running'))),
    seeds: new Map([[output, 'probe']]),
    inputsRequiringGrad: Object.keys(inputs),
  })
  const gradNames = new Map([...paramGrads, ...inputGrads])
  const grads = await run(modelBytes(backward, tensors, [...gradNames.values()]), tensors)

  let checked = 0
  for (const [name, gradName] of gradNames) {
    const analytic = grads[gradName]
    const t = tensors[name]
    expect(analytic.length, name).toBe(t.data.length)
    for (let trial = 0; trial < 6; trial++) {
      const i = Math.floor(random() * t.data.length)
      const original = t.data[i]
      const step = name === options.avoidKinkAt0 ? Math.min(h, Math.abs(original) / 4) : h
      if (step < 1e-3) continue
      t.data[i] = original + step
      const plus = (await run(forwardBytes, tensors)).L[0]
      t.data[i] = original - step
      const minus = (await run(forwardBytes, tensors)).L[0]
      t.data[i] = original
      const numeric = (plus - minus) / (2 * step)
      expect(analytic[i], `${name}[${i}]`).toBeCloseTo(numeric, 2)
      expect(Math.abs(analytic[i] - numeric), `${name}[${i}]`).toBeLessThan(2e-3 + 2e-3 * Math.abs(numeric))
      checked++
    }
  }
  expect(checked).toBeGreaterThan(6)
}

function conv(name: string, input: string, inC: number, outC: number, kernel: number, stride: number, padding: number): { op: LayerOp; params: Tensors } {
  return {
    op: { op: 'conv3d', module: name, input, output: `${name}/y`, inChannels: inC, outChannels: outC, kernel, stride, padding, weight: `${name}.weight`, bias: `${name}.bias` },
    params: {
      [`${name}.weight`]: { shape: [outC, inC, kernel, kernel, kernel], data: randn(outC * inC * kernel ** 3, 0.5) },
      [`${name}.bias`]: { shape: [outC], data: randn(outC, 0.5) },
    },
  }
}

describe('training graph: per-operator gradients against finite differences', () => {
  it('Conv3d k3 stride 1 padding 1 (input, weight and bias)', async () => {
    const c = conv('c', 'x', 3, 4, 3, 1, 1)
    await checkOps([c.op], { x: [2, 3, 6, 5, 4] }, c.params, 'c/y')
  })

  it('Conv3d k3 stride 2 padding 1 (the down-sampling convolution and residual)', async () => {
    const c = conv('c', 'x', 3, 4, 3, 2, 1)
    await checkOps([c.op], { x: [2, 3, 8, 6, 4] }, c.params, 'c/y')
  })

  it('Conv3d k1 (the channel-changing residual)', async () => {
    const c = conv('c', 'x', 3, 5, 1, 1, 0)
    await checkOps([c.op], { x: [2, 3, 4, 4, 4] }, c.params, 'c/y')
  })

  it('ConvTranspose3d k3 stride 2 padding 1 output_padding 1', async () => {
    const op: LayerOp = { op: 'convTranspose3d', module: 't', input: 'x', output: 't/y', inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1, weight: 't.weight', bias: 't.bias' }
    await checkOps([op], { x: [2, 4, 3, 4, 2] }, { 't.weight': { shape: [4, 3, 3, 3, 3], data: randn(4 * 3 * 27, 0.5) }, 't.bias': { shape: [3], data: randn(3) } }, 't/y')
  })

  it('BatchNorm with stored statistics (input, scale and shift; statistics fixed)', async () => {
    const op: LayerOp = { op: 'batchNorm', module: 'n', input: 'x', output: 'n/y', channels: 3, eps: 1e-5, momentum: 0.1, weight: 'n.weight', bias: 'n.bias', runningMean: 'n.running_mean', runningVar: 'n.running_var', numBatchesTracked: 'n.num_batches_tracked' }
    await checkOps([op], { x: [2, 3, 4, 3, 2] }, {
      'n.weight': { shape: [3], data: randn(3, 0.3, 1) },
      'n.bias': { shape: [3], data: randn(3, 0.2) },
      'n.running_mean': { shape: [3], data: randn(3, 0.3) },
      'n.running_var': { shape: [3], data: randn(3, 0.4, 1) },
    }, 'n/y')
  })

  it('PReLU with one shared slope', async () => {
    const op: LayerOp = { op: 'prelu', module: 'a', input: 'x', output: 'a/y', slope: 'a.weight' }
    await checkOps([op], { x: [2, 3, 4, 3, 2] }, { 'a.weight': { shape: [1], data: new Float32Array([0.25]) } }, 'a/y', { h: 0.01, avoidKinkAt0: 'x' })
  })

  it('Add and Concat, with a tensor read by two branches (gradients summed)', async () => {
    const c1 = conv('c1', 'x', 2, 3, 3, 1, 1)
    const c2 = conv('c2', 'x', 2, 3, 1, 1, 0)
    const ops: LayerOp[] = [
      c1.op,
      c2.op,
      { op: 'add', module: 'sum', inputs: ['c1/y', 'c2/y'], residual: 'conv', output: 'sum/y' },
      { op: 'concat', module: 'cat', inputs: ['x', 'sum/y'], axis: 1, channels: 5, output: 'cat/y' },
    ]
    await checkOps(ops, { x: [2, 2, 4, 4, 4] }, { ...c1.params, ...c2.params }, 'cat/y')
  })
})

describe('training graph: the loss', () => {
  it('matches the float64 Generalized Dice + Focal reference (value and gradient), with a sample without lesion', async () => {
    const shape: Shape5 = [2, 2, 6, 5, 4]
    const v = 6 * 5 * 4
    const logits = randn(count(shape), 3)
    const label = new Float32Array(2 * v)
    for (let i = 0; i < v; i++) label[i] = random() < 0.2 ? 1 : 0 // sample 1 keeps no lesion at all
    const g = new GraphWriter()
    const out = emitGeneralizedDiceFocal(g, 'logits', 'label', shape)
    const tensors: Tensors = { logits: { shape, data: logits }, label: { shape: [2, 1, 6, 5, 4], data: label } }
    const got = await run(modelBytes(g, tensors, [out.loss, out.dice, out.focal, out.gradLogits]), tensors)
    const ref = generalizedDiceFocalLoss(logits, Uint8Array.from(label), 2, v)
    expect(got[out.dice][0]).toBeCloseTo(ref.dice, 5)
    expect(got[out.focal][0]).toBeCloseTo(ref.focal, 4)
    expect(got[out.loss][0]).toBeCloseTo(ref.loss, 4)
    const grad = got[out.gradLogits]
    const scale = Math.max(...ref.gradLogits.map(Math.abs))
    for (let i = 0; i < grad.length; i++) expect(Math.abs(grad[i] - ref.gradLogits[i])).toBeLessThan(1e-4 * scale)
  })
})
