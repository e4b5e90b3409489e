import { describe, expect, it } from 'vitest'
import type { Vec3 } from '../../src/shared/geometry'
import { axisStarts, planWindows, scanInterval } from '../../src/main/inference/slidingWindow/windows'
import { importanceMap, WindowAccumulator, type BlendMode } from '../../src/main/inference/slidingWindow/blend'
import { accumulatePatch, extractPatch, ncdhwToVolume, volumeToNcdhw } from '../../src/main/inference/slidingWindow/patch'
import { slidingWindowInference } from '../../src/main/inference/slidingWindow/slidingWindow'
import { TaskCancelledError } from '../../src/main/workers/WorkerPool'
import { bytesOf } from './helpers/data'
import { uniformRandom as seeded } from '../../src/main/imaging/seededRandom'


const randomVolume = (n: number, seed: number): Float32Array => {
  const rnd = seeded(seed)
  return Float32Array.from({ length: n }, () => rnd() * 4 - 2)
}

/** Largest |a - b| over two arrays (a scalar to assert on, never a deep array comparison). */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('planWindows (method §4, MONAI dense_patch_slices)', () => {
  const starts = (n: number, overlap = 0.5, roi = 192): number[] => planWindows([n, roi, roi], { roiSize: roi, overlap }).startsPerAxis[0]

  it('hand-computed placements at overlap 0.5 (step 96)', () => {
    expect(scanInterval(400, 192, 0.5)).toBe(96)
    expect(starts(192)).toEqual([0])
    expect(starts(200)).toEqual([0, 8])
    expect(starts(288)).toEqual([0, 96])
    expect(starts(289)).toEqual([0, 96, 97])
    expect(starts(400)).toEqual([0, 96, 192, 208])
    // 1 + ceil((n - 192) / 96) windows per axis
    for (const n of [193, 250, 383, 384, 385, 777]) expect(starts(n).length).toBe(1 + Math.ceil((n - 192) / 96))
  })

  it('a 192 axis is a single window that steps by its own size', () => {
    const p = planWindows([192, 192, 192], { roiSize: 192, overlap: 0.5 })
    expect(p.windows).toEqual([[0, 0, 0]])
    expect(p.scanInterval).toEqual([192, 192, 192])
    expect(p.padBefore).toEqual([0, 0, 0])
    expect(p.padAfter).toEqual([0, 0, 0])
  })

  it('short axes are zero-padded to the window, floor before and ceil after', () => {
    const p = planWindows([100, 101, 191], { roiSize: 192, overlap: 0.5 })
    expect(p.padBefore).toEqual([46, 45, 0])
    expect(p.padAfter).toEqual([46, 46, 1])
    expect(p.paddedDims).toEqual([192, 192, 192])
    expect(p.windows).toEqual([[0, 0, 0]])
  })

  it('other overlaps: step int(roi * (1 - overlap)), at least 1', () => {
    expect(scanInterval(400, 192, 0.25)).toBe(144)
    expect(starts(400, 0.25)).toEqual([0, 144, 208])
    expect(starts(200, 0.25)).toEqual([0, 8])
    expect(scanInterval(400, 192, 0.75)).toBe(48)
    expect(starts(400, 0.75)).toEqual([0, 48, 96, 144, 192, 208])
    expect(starts(400, 0)).toEqual([0, 192, 208])
    // Python int() truncates 30 * (1 - 0.9) = 2.9999999999999996 to 2, as Math.trunc does.
    expect(scanInterval(100, 30, 0.9)).toBe(2)
    expect(scanInterval(10, 3, 0.9)).toBe(1)
    expect(axisStarts(5, 3, 1)).toEqual([0, 1, 2])
    expect(() => planWindows([10, 10, 10], { roiSize: 4, overlap: 1 })).toThrow(/overlap/)
  })

  it('windows in MONAI order (axis 2 fastest), one per combination of axis starts', () => {
    const p = planWindows([400, 200, 192], { roiSize: [192, 192, 192], overlap: 0.5 })
    expect(p.windows.length).toBe(4 * 2 * 1)
    expect(p.windows.slice(0, 3)).toEqual([[0, 0, 0], [0, 8, 0], [96, 0, 0]])
    const q = planWindows([30, 30, 30], { roiSize: 10, overlap: 0.5 })
    expect(q.windows[0]).toEqual([0, 0, 0])
    expect(q.windows[1]).toEqual([0, 0, 5])
    expect(q.windows.length).toBe(125)
  })

  it('roiSize <= 0 falls back to the whole axis', () => {
    const p = planWindows([37, 50, 20], { roiSize: [16, 0, -1], overlap: 0.5 })
    expect(p.roiSize).toEqual([16, 50, 20])
    expect(p.startsPerAxis).toEqual([[0, 8, 16, 21], [0], [0]])
  })

  it('skips windows with no foreground voxel (padding taken into account)', () => {
    const dims: Vec3 = [400, 100, 30]
    const mask = new Uint8Array(400 * 100 * 30)
    mask[395 + 400 * (50 + 100 * 10)] = 1 // only the last window along axis 0 holds it
    const p = planWindows(dims, { roiSize: 192, overlap: 0.5, foregroundMask: mask })
    expect(p.total).toBe(4)
    expect(p.skipped).toBe(3)
    expect(p.windows).toEqual([[208, 0, 0]])
    mask[150 + 400 * (50 + 100 * 10)] = 1 // in windows 0 and 1
    expect(planWindows(dims, { roiSize: 192, overlap: 0.5, foregroundMask: mask }).windows.map((w) => w[0])).toEqual([0, 96, 208])
  })
})

describe('importanceMap (MONAI compute_importance_map)', () => {
  it('constant is all ones (no map)', () => {
    expect(importanceMap([8, 8, 8], 'constant')).toBeNull()
  })

  it('gaussian: separable values, symmetric, maximal at the centre', () => {
    const roi: Vec3 = [16, 21, 24]
    const map = importanceMap(roi, 'gaussian') as Float32Array
    const g = (x: number, r: number): number => Math.exp(-((x - (r - 1) / 2) ** 2) / (2 * (0.125 * r) ** 2))
    let asym = 0
    let maxRel = 0
    let argmax = 0
    for (let a = 0; a < 16; a++) for (let b = 0; b < 21; b++) for (let d = 0; d < 24; d++) {
      const p = (a * 21 + b) * 24 + d
      const mirror = ((15 - a) * 21 + (20 - b)) * 24 + (23 - d)
      asym = Math.max(asym, Math.abs(map[p] - map[mirror]))
      const expected = Math.max(g(a, 16) * g(b, 21) * g(d, 24), 1e-3)
      maxRel = Math.max(maxRel, Math.abs(map[p] - expected) / expected)
      if (map[p] > map[argmax]) argmax = p
    }
    expect(asym).toBe(0)
    expect(maxRel).toBeLessThan(1e-5)
    // even sizes: the centre lies between voxels 7/8 and 11/12; odd 21: voxel 10
    expect(argmax).toBe((7 * 21 + 10) * 24 + 11)
    expect(map[argmax]).toBe(map[(8 * 21 + 10) * 24 + 12])
  })

  it('gaussian 192^3: corners clamped to 1e-3, faces not', () => {
    const map = importanceMap([192, 192, 192], 'gaussian') as Float32Array
    expect(map[0]).toBeCloseTo(1e-3, 9)
    expect(map[map.length - 1]).toBeCloseTo(1e-3, 9)
    const centre = (95 * 192 + 95) * 192 + 95
    expect(map[centre]).toBeCloseTo(Math.exp(-3 * 0.25 / (2 * 576)), 6)
    // centre of a face: one axis at its edge, exp(-95.5^2 / 1152) ~ 3.6e-4 -> clamped too
    expect(map[(95 * 192 + 95) * 192 + 0]).toBeCloseTo(1e-3, 9)
  })
})

describe('patch extraction and insertion (layout [1, C, D=axis0, H=axis1, W=axis2])', () => {
  it('volumeToNcdhw puts our axis 2 fastest, and round-trips exactly', () => {
    const dims: Vec3 = [23, 17, 11]
    const n = 23 * 17 * 11
    const vol = randomVolume(2 * n, 1)
    const t = volumeToNcdhw(vol, 2, dims)
    for (const [c, i, j, k] of [[0, 0, 0, 0], [0, 1, 0, 0], [1, 22, 16, 10], [1, 5, 9, 3], [0, 0, 0, 1]]) {
      expect(t[((c * 23 + i) * 17 + j) * 11 + k]).toBe(vol[c * n + i + 23 * (j + 17 * k)])
    }
    expect(bytesOf(ncdhwToVolume(t, 2, dims)).equals(bytesOf(vol))).toBe(true)
  })

  it('extract -> insert over a full window grid reproduces a random volume (each voxel / its coverage)', () => {
    const dims: Vec3 = [70, 45, 33]
    const n = 70 * 45 * 33
    const vol = randomVolume(2 * n, 2)
    const plan = planWindows(dims, { roiSize: [32, 48, 16], overlap: 0.5 }) // axis 1 padded (45 -> 48)
    const sum = new Float32Array(2 * n)
    const count = new Float32Array(n)
    const patch = new Float32Array(2 * 32 * 48 * 16)
    for (const s of plan.windows) {
      const origin: Vec3 = [s[0] - plan.padBefore[0], s[1] - plan.padBefore[1], s[2] - plan.padBefore[2]]
      extractPatch(vol, 2, dims, origin, plan.roiSize, patch)
      accumulatePatch(patch, 2, sum, dims, origin, plan.roiSize, null, count)
    }
    let worst = 0
    for (let c = 0; c < 2; c++) for (let v = 0; v < n; v++) worst = Math.max(worst, Math.abs(sum[c * n + v] / count[v] - vol[c * n + v]))
    expect(worst).toBeLessThan(1e-6)
    // A single window: the copy is exact and the padding reads 0.
    const one = extractPatch(vol, 2, dims, [60, -2, 0], [16, 8, 8])
    expect(one[((0 * 16 + 0) * 8 + 2) * 8 + 3]).toBe(vol[60 + 70 * (0 + 45 * 3)])
    expect(one[((1 * 16 + 9) * 8 + 7) * 8 + 7]).toBe(vol[n + 69 + 70 * (5 + 45 * 7)])
    expect(one[((0 * 16 + 10) * 8 + 3) * 8 + 0]).toBe(0) // axis 0 index 70: outside
    expect(one[((1 * 16 + 3) * 8 + 1) * 8 + 0]).toBe(0) // axis 1 index -1: outside
  })
})

/** Independent reference: every window's contribution summed voxel by voxel in double precision. */
function naiveBlend(dims: Vec3, roi: Vec3, windows: Vec3[], padBefore: Vec3, value: (w: number, x: number, y: number, z: number) => number, weight: (a: number, b: number, d: number) => number): Float64Array {
  const n = dims[0] * dims[1] * dims[2]
  const sum = new Float64Array(n)
  const cnt = new Float64Array(n)
  windows.forEach((s, w) => {
    for (let a = 0; a < roi[0]; a++) for (let b = 0; b < roi[1]; b++) for (let d = 0; d < roi[2]; d++) {
      const x = s[0] - padBefore[0] + a, y = s[1] - padBefore[1] + b, z = s[2] - padBefore[2] + d
      if (x < 0 || y < 0 || z < 0 || x >= dims[0] || y >= dims[1] || z >= dims[2]) continue
      const v = x + dims[0] * (y + dims[1] * z)
      sum[v] += weight(a, b, d) * value(w, x, y, z)
      cnt[v] += weight(a, b, d)
    }
  })
  return sum.map((s, v) => s / cnt[v])
}

describe('slidingWindowInference', () => {
  it('constant windows valued by their index: hand-checked averages at the overlaps', async () => {
    const dims: Vec3 = [400, 8, 8]
    let w = 0
    const out = await slidingWindowInference(new Float32Array(400 * 64), dims, async () => new Float32Array(192 * 8 * 8).fill(w++), {
      roiSize: [192, 8, 8], overlap: 0.5, mode: 'constant', outChannels: 1,
    })
    // windows 0..3 at 0, 96, 192, 208
    const expected = (x: number): number => (x < 96 ? 0 : x < 192 ? 0.5 : x < 208 ? 1.5 : x < 288 ? 2 : x < 384 ? 2.5 : 3)
    let bad = 0
    for (let v = 0; v < out.length; v++) if (out[v] !== expected(v % 400)) bad++
    expect(bad).toBe(0)
    expect([out[95], out[96], out[191], out[192], out[207], out[208], out[287], out[288], out[383], out[384]]).toEqual([0, 0.5, 0.5, 1.5, 1.5, 2, 2, 2.5, 2.5, 3])
  })

  for (const mode of ['constant', 'gaussian'] as BlendMode[]) {
    it(`${mode}: 3-D overlaps match a naive per-voxel reference (padding on one axis)`, async () => {
      const dims: Vec3 = [10, 7, 3]
      const roi: Vec3 = [6, 4, 5]
      const plan = planWindows(dims, { roiSize: roi, overlap: 0.5 })
      expect(plan.startsPerAxis).toEqual([[0, 3, 4], [0, 2, 3], [0]])
      expect(plan.padBefore).toEqual([0, 0, 1])
      let w = 0
      const run = async (): Promise<Float32Array> => {
        const k = w++
        const o = new Float32Array(2 * 6 * 4 * 5)
        for (let c = 0; c < 2; c++) for (let p = 0; p < 120; p++) o[c * 120 + p] = (c + 1) * (k + 1) + p / 1000
        return o
      }
      const out = await slidingWindowInference(new Float32Array(2 * 210), dims, run, { roiSize: roi, overlap: 0.5, mode })
      const imp = importanceMap(roi, mode)
      for (let c = 0; c < 2; c++) {
        const ref = naiveBlend(dims, roi, plan.windows, plan.padBefore, (k, x, y, z) => {
          const s = plan.windows[k]
          const p = ((x - s[0]) * 4 + (y - s[1])) * 5 + (z - s[2] + 1)
          return (c + 1) * (k + 1) + p / 1000
        }, (a, b, d) => (imp ? imp[(a * 4 + b) * 5 + d] : 1))
        expect(maxAbsDiff(out.subarray(c * 210, (c + 1) * 210), ref)).toBeLessThan(1e-5)
      }
    })
  }

  // 192^3 windows for the method's constant blending; smaller ones keep the Gaussian case quick.
  for (const [mode, dims, roi] of [['constant', [250, 150, 290], 192], ['gaussian', [150, 40, 170], [64, 48, 80]]] as Array<[BlendMode, Vec3, number | Vec3]>) {
    it(`${mode}: identity network keeps a constant field constant and a random field unchanged (roi ${roi})`, async () => {
      // constant: axis 1 padded to 192, 2 x 1 x 3 windows; gaussian: 4 x 1 x 4 windows, axis 1 padded
      const n = dims[0] * dims[1] * dims[2]
      const field = new Float32Array(2 * n)
      field.fill(0.75, 0, n)
      field.fill(-3.5, n)
      const progress: number[] = []
      const identity = async (p: Float32Array): Promise<Float32Array> => p.slice()
      const out = await slidingWindowInference(field, dims, identity, { roiSize: roi, overlap: 0.5, mode, onProgress: (d) => progress.push(d) })
      expect(progress.length).toBe(mode === 'constant' ? 6 : 16)
      expect(progress.at(-1)).toBe(progress.length)
      // float32 sums of weights x values: a few ulps of 3.5 at most
      expect(maxAbsDiff(out, field)).toBeLessThan(4e-6)
      const rnd = randomVolume(2 * n, 3)
      const back = await slidingWindowInference(rnd, dims, identity, { roiSize: roi, overlap: 0.5, mode })
      expect(maxAbsDiff(back, rnd)).toBeLessThan(1e-5)
    })
  }

  it('the network sees our axes as D, H, W: W (fastest in the patch) is our axis 2', async () => {
    const dims: Vec3 = [5, 6, 7]
    // A "network" that answers each voxel with its own D (channel 0) and W (channel 1) coordinate.
    const run = async (p: Float32Array): Promise<Float32Array> => {
      expect(p.length).toBe(2 * 5 * 6 * 7)
      const o = new Float32Array(2 * 210)
      for (let a = 0, q = 0; a < 5; a++) for (let b = 0; b < 6; b++) for (let d = 0; d < 7; d++, q++) {
        o[q] = a
        o[210 + q] = d
      }
      return o
    }
    const out = await slidingWindowInference(new Float32Array(2 * 210), dims, run, { roiSize: dims, overlap: 0.5, mode: 'constant' })
    let bad = 0
    for (let k = 0, v = 0; k < 7; k++) for (let j = 0; j < 6; j++) for (let i = 0; i < 5; i++, v++) {
      if (out[v] !== i || out[210 + v] !== k) bad++
    }
    expect(bad).toBe(0)
  })

  it('skipEmpty: skipped windows are not run, uncovered voxels get the fill', async () => {
    const dims: Vec3 = [400, 20, 20]
    const n = 400 * 400
    const mask = new Uint8Array(n)
    mask[10 + 400 * (5 + 20 * 5)] = 1
    let calls = 0
    const out = await slidingWindowInference(new Float32Array(2 * n), dims, async () => { calls++; return new Float32Array(2 * 192 ** 3).fill(1) }, {
      roiSize: 192, overlap: 0.5, mode: 'constant', skipEmpty: mask, emptyFill: [5, -5],
    })
    expect(calls).toBe(1)
    expect([out[0], out[191], out[192], out[399], out[n + 191], out[n + 192]]).toEqual([1, 1, 5, 5, 1, -5])
  })

  it('stops with TaskCancelledError when aborted between windows', async () => {
    const ctl = new AbortController()
    let calls = 0
    const run = async (p: Float32Array): Promise<Float32Array> => {
      if (++calls === 2) ctl.abort()
      return new Float32Array(p.length)
    }
    await expect(slidingWindowInference(new Float32Array(2 * 40 * 40 * 40), [40, 40, 40], run, { roiSize: 16, overlap: 0.5, mode: 'constant', signal: ctl.signal }))
      .rejects.toBeInstanceOf(TaskCancelledError)
    expect(calls).toBe(2)
  })

  it('rejects a network output of the wrong size', async () => {
    await expect(slidingWindowInference(new Float32Array(2 * 8 ** 3), [8, 8, 8], async () => new Float32Array(8), { roiSize: 8, overlap: 0.5, mode: 'constant' }))
      .rejects.toThrow(/expected 2 x 8x8x8/)
  })

  it('WindowAccumulator keeps no full count buffer for constant blending of a full grid', () => {
    const plan = planWindows([300, 200, 100], { roiSize: 192, overlap: 0.5 })
    expect(new WindowAccumulator(plan, 2, 'constant').count).toBeNull()
    expect(new WindowAccumulator(plan, 2, 'gaussian').count).not.toBeNull()
  })
})
