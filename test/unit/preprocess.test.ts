import { beforeAll, describe, expect, it } from 'vitest'
import { indexToWorld, voxelCount, type Mat3, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { clipScaleCt, petAsFloat32 } from '../../src/main/inference/preprocess/clipScaleCt'
import { cropGeometry, cropVolume, foregroundBox, uncropVolume } from '../../src/main/inference/preprocess/cropForeground'
import {
  applyAxisTransform,
  axisCodes,
  inverseAxisTransform,
  rasOrientation,
  transformGeometry,
} from '../../src/main/inference/preprocess/orientRas'
import { planIsotropic, resampleBack, resampledLength, resampleIsotropic, roundHalfEven } from '../../src/main/inference/preprocess/resampleIsotropic'
import { argmaxToMask } from '../../src/main/inference/preprocess/pipeline'
import { bytesOf, FDG_LABEL, PSMA_LABEL, STS_001_PET } from './helpers/data'

let sts: VolumeGeometry
let psma: VolumeGeometry
let fdg: VolumeGeometry

beforeAll(async () => {
  ;[sts, psma, fdg] = (await Promise.all([STS_001_PET, PSMA_LABEL, FDG_LABEL].map((f) => readNiftiFile(f)))).map((x) => x.geometry)
})

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])

describe('clipScaleCt (§2.1)', () => {
  it('clips to [-1024, 1024] HU and maps linearly to [0, 1]', () => {
    const out = clipScaleCt(Int16Array.from([-3024, -1025, -1024, -1023, 0, 512, 1024, 1025, 3071]))
    expect(Array.from(out)).toEqual([0, 0, 0, 1 / 2048, 0.5, 0.75, 1, 1, 1])
  })
  it('leaves the PET as it is', () => {
    const suv = Float32Array.from([0, 12.5, 100])
    expect(petAsFloat32(suv)).toBe(suv)
    expect(Array.from(petAsFloat32(Int16Array.from([3, -2])))).toEqual([3, -2])
  })
})

describe('cropForeground (§2.2)', () => {
  it('bounding box of values > 0, no margin; crop and uncrop round-trip', () => {
    const dims: Vec3 = [9, 8, 7]
    const v = new Float32Array(9 * 8 * 7)
    v[2 + 9 * (3 + 8 * 1)] = 0.1
    v[6 + 9 * (5 + 8 * 4)] = 1
    v[1 + 9 * (4 + 8 * 2)] = 1e-9
    v[8 + 9 * (7 + 8 * 6)] = 0 // zero is not foreground
    const box = foregroundBox(v, dims)
    expect(box).toEqual({ start: [1, 3, 1], end: [7, 6, 5] })
    expect(foregroundBox(new Float32Array(9 * 8 * 7), dims)).toBeNull()
    const cropped = cropVolume(v, dims, box!)
    expect(cropped.length).toBe(6 * 3 * 4)
    expect(cropped[(2 - 1) + 6 * (0 + 3 * 0)]).toBe(v[2 + 9 * (3 + 8 * 1)])
    const back = uncropVolume(cropped, { fullDims: dims, box: box! }, 0)
    expect(bytesOf(back).equals(bytesOf(v))).toBe(true)
    const filled = uncropVolume(cropped, { fullDims: dims, box: box! }, -7)
    expect(filled[0]).toBe(-7)
  })

  it('on a real grid: the cropped grid keeps world positions', () => {
    const box = { start: [3, 5, 7] as Vec3, end: [30, 40, 50] as Vec3 }
    const g = cropGeometry(psma, box)
    expect(g.dims).toEqual([27, 35, 43])
    for (const ijk of [[0, 0, 0], [26, 34, 42], [4, 9, 11]] as Vec3[]) {
      expect(dist(indexToWorld(g, ijk), indexToWorld(psma, [ijk[0] + 3, ijk[1] + 5, ijk[2] + 7]))).toBeLessThan(1e-9)
    }
  })
})

/** Voxel values = their own linear index, to trace where every voxel went. */
const indexVolume = (g: VolumeGeometry): Int32Array => Int32Array.from({ length: voxelCount(g) }, (_, i) => i)

/** Largest world displacement of any voxel (every `stride`-th) through the reorientation. */
function worstDisplacement(g: VolumeGeometry, stride = 1): number {
  const t = rasOrientation(g)
  const og = transformGeometry(g, t)
  const moved = applyAxisTransform(indexVolume(g), t)
  const [nx, ny] = g.dims
  const [ox, oy] = og.dims
  let worst = 0
  for (let v = 0; v < moved.length; v += stride) {
    const src = moved[v]
    const a = indexToWorld(og, [v % ox, Math.floor(v / ox) % oy, Math.floor(v / (ox * oy))])
    const b = indexToWorld(g, [src % nx, Math.floor(src / nx) % ny, Math.floor(src / (nx * ny))])
    worst = Math.max(worst, dist(a, b))
  }
  return worst
}

describe('orientRas (§2.3)', () => {
  it('real grids: axis codes, and the transform MONAI Orientation("RAS") applies', () => {
    expect(axisCodes(psma)).toBe('LAS')
    expect(axisCodes(fdg)).toBe('LAS')
    expect(axisCodes(sts)).toBe('LPS')
    // "for a typical LAS autoPET case: flip axis 0"
    expect(rasOrientation(fdg)).toEqual({ perm: [0, 1, 2], flip: [true, false, false], inputDims: [400, 400, 326] })
    expect(rasOrientation(sts)).toEqual({ perm: [0, 1, 2], flip: [true, true, false], inputDims: [41, 43, 59] })
    for (const g of [psma, fdg, sts]) {
      const og = transformGeometry(g, rasOrientation(g))
      expect(axisCodes(og)).toBe('RAS')
      expect(og.directionLps).toEqual([-1, 0, 0, 0, -1, 0, 0, 0, 1])
    }
  })

  it('real grids: every voxel keeps its world position; the inverse is exact', () => {
    expect(worstDisplacement(sts)).toBeLessThan(1e-6)
    expect(worstDisplacement(psma, 7)).toBeLessThan(1e-6)
    for (const g of [sts, psma]) {
      const t = rasOrientation(g)
      const v = indexVolume(g)
      const there = applyAxisTransform(v, t)
      const back = applyAxisTransform(there, inverseAxisTransform(t))
      expect(bytesOf(back).equals(bytesOf(v))).toBe(true)
      const og = transformGeometry(g, t)
      const g2 = transformGeometry(og, inverseAxisTransform(t))
      expect(g2.dims).toEqual(g.dims)
      expect(dist(g2.originLps, g.originLps)).toBeLessThan(1e-9)
      expect(Math.max(...g2.directionLps.map((d, i) => Math.abs(d - g.directionLps[i])))).toBe(0)
    }
  })

  it('permuted, oblique axes: picks the largest component per axis (nibabel io_orientation)', () => {
    // axis 0 mostly Superior, axis 1 mostly Right, axis 2 mostly Posterior, all tilted by ~8 degrees
    const c = Math.cos(0.14), s = Math.sin(0.14)
    const a0: Vec3 = [0, s, c] // LPS
    const a1: Vec3 = [-c, 0, s * 0.3]
    const n1 = Math.hypot(...a1)
    const a1n: Vec3 = [a1[0] / n1, a1[1] / n1, a1[2] / n1]
    // minus the cross product: a left-handed set, which real files have too
    const a2: Vec3 = [-(a0[1] * a1n[2] - a0[2] * a1n[1]), -(a0[2] * a1n[0] - a0[0] * a1n[2]), -(a0[0] * a1n[1] - a0[1] * a1n[0])]
    const g: VolumeGeometry = { dims: [20, 30, 25], spacingMm: [3, 4, 5], originLps: [10, -20, 30], directionLps: [...a0, ...a1n, ...a2] as Mat3 }
    expect(a2[1]).toBeGreaterThan(0.9) // +P in LPS
    expect(axisCodes(g)).toBe('SRP')
    const t = rasOrientation(g)
    expect(t).toEqual({ perm: [1, 2, 0], flip: [false, true, false], inputDims: [20, 30, 25] })
    const og = transformGeometry(g, t)
    expect(og.dims).toEqual([30, 25, 20])
    expect(og.spacingMm).toEqual([4, 5, 3])
    expect(axisCodes(og)).toBe('RAS')
    expect(worstDisplacement(g)).toBeLessThan(1e-9)
  })
})

describe('resampleIsotropic (§2.4)', () => {
  it('round_half_even output sizes', () => {
    expect([roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(488.5), roundHalfEven(407.182), roundHalfEven(0.5000001)]).toEqual([2, 4, 488, 407, 1])
    expect(resampledLength(326, 3)).toBe(488) // 325 * 1.5 + 1 = 488.5
    expect(resampledLength(400, 2.036)).toBe(407) // 399 * 1.018 + 1 = 407.182
    expect(resampledLength(4, 3)).toBe(6) // 5.5
    expect(resampledLength(2, 3)).toBe(2) // 2.5
    expect(resampledLength(448, 2)).toBe(448)
    expect(resampledLength(1, 4)).toBe(1)
    expect(planIsotropic(transformGeometry(fdg, rasOrientation(fdg))).record.outputDims).toEqual([407, 407, 488])
    expect(planIsotropic(psma).record.outputDims).toEqual([406, 406, 448])
  })

  it('first voxel centre keeps its world position; output index j sits at input index j * 2 / spacing', () => {
    for (const g of [sts, psma, fdg]) {
      const { geometry: out } = planIsotropic(g)
      expect(out.originLps).toEqual(g.originLps)
      expect(out.spacingMm).toEqual([2, 2, 2])
      for (const j of [[0, 0, 0], [1, 2, 3], out.dims.map((d) => d - 1)] as Vec3[]) {
        const src: Vec3 = [0, 1, 2].map((a) => (j[a] * 2) / g.spacingMm[a]) as Vec3
        expect(dist(indexToWorld(out, j), indexToWorld(g, src))).toBeLessThan(1e-6)
      }
    }
  })

  it('a linear field is reproduced exactly inside the grid, border-clamped outside; and back', () => {
    const g: VolumeGeometry = { dims: [37, 29, 23], spacingMm: [2.0364201068878174, 3, 4.0728302001953125], originLps: [0, 0, 0], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
    const f = (x: number, y: number, z: number): number => 3 + 0.5 * x - 0.25 * y + 0.125 * z
    const src = new Float32Array(voxelCount(g))
    for (let k = 0, v = 0; k < 23; k++) for (let j = 0; j < 29; j++) for (let i = 0; i < 37; i++, v++) src[v] = f(i, j, k)
    const { record } = planIsotropic(g)
    expect(record.outputDims).toEqual([38, 43, 46]) // 37.66, 43, 45.80 rounded
    const out = resampleIsotropic(src, record)
    const [ox, oy, oz] = record.outputDims
    const clamp = (x: number, n: number): number => Math.min(Math.max(x, 0), n - 1)
    let worst = 0
    let clamped = 0
    for (let k = 0, v = 0; k < oz; k++) for (let j = 0; j < oy; j++) for (let i = 0; i < ox; i++, v++) {
      const p = [(i * 2) / g.spacingMm[0], (j * 2) / g.spacingMm[1], (k * 2) / g.spacingMm[2]]
      if (p[0] > 36 || p[1] > 28 || p[2] > 22) clamped++
      worst = Math.max(worst, Math.abs(out[v] - f(clamp(p[0], 37), clamp(p[1], 29), clamp(p[2], 23))))
    }
    expect(clamped).toBeGreaterThan(0) // the last axis-0 and axis-2 planes read past the last centre
    expect(worst).toBeLessThan(2e-5)
    // back: original index u reads 2 mm index u * spacing / 2 (border-clamped), checked against an
    // independent 8-corner interpolation, and exact on the linear part of the 2 mm field
    const back = resampleBack(out, record)
    const naive = (q: number[]): number => {
      const b = q.map(Math.floor)
      let sum = 0
      for (let corner = 0; corner < 8; corner++) {
        const o = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1]
        const idx = [0, 1, 2].map((a) => Math.min(b[a] + o[a], record.outputDims[a] - 1))
        const w = [0, 1, 2].reduce((p, a) => p * (o[a] ? q[a] - b[a] : 1 - (q[a] - b[a])), 1)
        sum += w * out[idx[0] + ox * (idx[1] + oy * idx[2])]
      }
      return sum
    }
    let worstBack = 0
    let worstLinear = 0
    for (let k = 0, v = 0; k < 23; k++) for (let j = 0; j < 29; j++) for (let i = 0; i < 37; i++, v++) {
      const q = [clamp((i * g.spacingMm[0]) / 2, ox), clamp((j * g.spacingMm[1]) / 2, oy), clamp((k * g.spacingMm[2]) / 2, oz)]
      worstBack = Math.max(worstBack, Math.abs(back[v] - naive(q)))
      const linear = [0, 1, 2].every((a) => (Math.ceil(q[a]) * 2) / g.spacingMm[a] <= g.dims[a] - 1)
      if (linear) worstLinear = Math.max(worstLinear, Math.abs(back[v] - src[v]))
    }
    expect(worstBack).toBeLessThan(2e-5)
    expect(worstLinear).toBeLessThan(2e-5)
    // inside the shared extent the round trip is the identity on a linear field
    expect(Math.abs(back[10 + 37 * (10 + 29 * 10)] - src[10 + 37 * (10 + 29 * 10)])).toBeLessThan(2e-5)
  })

  it('at 2 mm already: an exact copy both ways', () => {
    const g: VolumeGeometry = { dims: [11, 7, 5], spacingMm: [2, 2, 2], originLps: [1, 2, 3], directionLps: [-1, 0, 0, 0, -1, 0, 0, 0, 1] }
    const src = Float32Array.from({ length: 385 }, (_, i) => Math.sin(i) * 100)
    const { record } = planIsotropic(g)
    expect(record.outputDims).toEqual([11, 7, 5])
    expect(bytesOf(resampleIsotropic(src, record)).equals(bytesOf(src))).toBe(true)
    expect(bytesOf(resampleBack(src, record)).equals(bytesOf(src))).toBe(true)
  })
})

describe('argmaxToMask (§4)', () => {
  it('lesion where channel 1 is larger; ties and NaN are background', () => {
    const m = argmaxToMask(Float32Array.from([0.2, 0.5, 0, 0.7, NaN]), Float32Array.from([0.8, 0.5, 0, 0.3, 1]))
    expect(Array.from(m)).toEqual([1, 0, 0, 0, 0])
  })
})
