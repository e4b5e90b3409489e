import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { indexToWorld, voxelCount, worldToIndex, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import type { VoxelArray } from '../../src/shared/volume'
import { readNiftiFile, type NiftiImage } from '../../src/main/io/nifti/readNifti'
import { resampleTrilinear } from '../../src/main/imaging/resample/resampleTrilinear'
import { TaskCancelledError, WorkerPool } from '../../src/main/workers/WorkerPool'
import { bytesOf, STS_001_CT, STS_001_PET } from './helpers/data'

let ct: NiftiImage
let pet: NiftiImage

beforeAll(async () => {
  ;[ct, pet] = await Promise.all([readNiftiFile(STS_001_CT), readNiftiFile(STS_001_PET)])
})

/** Where a target voxel centre falls in the source, by the definitions (no incremental stepping). */
function sourceIndexOf(source: VolumeGeometry, target: VolumeGeometry, i: number, j: number, k: number): Vec3 {
  return worldToIndex(source, indexToWorld(target, [i, j, k]))
}

const insideExtent = (p: Vec3, dims: Vec3, margin = 0): boolean =>
  p.every((v, a) => v >= -0.5 + margin && v <= dims[a] - 0.5 - margin)
const outsideExtent = (p: Vec3, dims: Vec3, margin = 0): boolean =>
  p.some((v, a) => v < -0.5 - margin || v > dims[a] - 0.5 + margin)

/** An independent, naive trilinear interpolation: eight corners, clamped to the image, weighted. */
function naiveTrilinear(voxels: VoxelArray, dims: Vec3, p: Vec3): number {
  const base = p.map(Math.floor)
  let sum = 0
  for (let corner = 0; corner < 8; corner++) {
    const offs = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1]
    let weight = 1
    const idx = [0, 0, 0]
    for (let a = 0; a < 3; a++) {
      const t = p[a] - base[a]
      weight *= offs[a] ? t : 1 - t
      idx[a] = Math.min(dims[a] - 1, Math.max(0, base[a] + offs[a]))
    }
    if (weight !== 0) sum += weight * voxels[idx[0] + dims[0] * (idx[1] + dims[1] * idx[2])]
  }
  return sum
}

describe('resampleTrilinear', () => {
  it('(a) onto its own grid: an exact copy (real CT)', () => {
    const progress: number[] = []
    const out = resampleTrilinear(ct, ct.geometry, { outsideValue: -1024, onProgress: (f) => progress.push(f) })
    expect(out.length).toBe(ct.voxels.length)
    expect(bytesOf(out).equals(bytesOf(ct.voxels))).toBe(true)
    expect(progress.length).toBe(ct.geometry.dims[2])
    expect(progress.at(-1)).toBe(1)
  })

  it('(a) onto its own grid, integer voxels: values converted exactly to float32', () => {
    const g: VolumeGeometry = { dims: [5, 4, 3], spacingMm: [1.5, 2, 3], originLps: [1, 2, 3], directionLps: [0, 1, 0, -1, 0, 0, 0, 0, 1] }
    const src = new Int16Array(voxelCount(g)).map((_, i) => i * 997 - 30000)
    const out = resampleTrilinear({ geometry: g, voxels: src }, g, { outsideValue: 0 })
    let bad = 0
    for (let i = 0; i < src.length; i++) if (out[i] !== src[i]) bad++
    expect(bad).toBe(0)
  })

  describe('(b) a linear field on the real CT grid, resampled onto the real PET grid', () => {
    const f = (w: Vec3): number => 0.5 * w[0] - 0.25 * w[1] + 0.1 * w[2] + 3
    const OUTSIDE = -7777
    let field: Float32Array

    beforeAll(() => {
      const g = ct.geometry
      field = new Float32Array(voxelCount(g))
      let o = 0
      for (let k = 0; k < g.dims[2]; k++) for (let j = 0; j < g.dims[1]; j++) for (let i = 0; i < g.dims[0]; i++) field[o++] = f(indexToWorld(g, [i, j, k]))
    })

    /** Check every voxel of `target`; returns counts by category and the number of failures. */
    function check(target: VolumeGeometry): { hull: number; band: number; outside: number; bad: number; worst: number } {
      const out = resampleTrilinear({ geometry: ct.geometry, voxels: field }, target, { outsideValue: OUTSIDE })
      const n = ct.geometry.dims
      let hull = 0, band = 0, outside = 0, bad = 0, worst = 0
      let o = 0
      for (let k = 0; k < target.dims[2]; k++) for (let j = 0; j < target.dims[1]; j++) for (let i = 0; i < target.dims[0]; i++, o++) {
        const p = sourceIndexOf(ct.geometry, target, i, j, k)
        const strictlyInsideHull = p.every((v, a) => v > 1e-6 && v < n[a] - 1 - 1e-6)
        if (strictlyInsideHull) {
          hull++
          const err = Math.abs(out[o] - f(indexToWorld(target, [i, j, k])))
          worst = Math.max(worst, err)
          if (!(err <= 1e-3)) bad++
        } else if (outsideExtent(p, n, 1e-6)) {
          outside++
          if (out[o] !== OUTSIDE) bad++
        } else if (insideExtent(p, n, 1e-6)) {
          // Between the outermost centres and the voxel edge: the edge voxel's value (ITK clamps).
          band++
          const clamped = p.map((v, a) => Math.min(n[a] - 1, Math.max(0, v))) as Vec3
          if (!(Math.abs(out[o] - f(indexToWorld(ct.geometry, clamped))) <= 1e-3)) bad++
        }
      }
      return { hull, band, outside, bad, worst }
    }

    it('on the PET grid itself', () => {
      const r = check(pet.geometry)
      // Most of the PET lies inside the CT; its last row (y) lies beyond the CT.
      expect(r.hull).toBeGreaterThan(0.8 * voxelCount(pet.geometry))
      expect(r.outside).toBeGreaterThan(1000)
      expect(r.band).toBeGreaterThan(0)
      expect(r.worst).toBeLessThan(1e-3)
      expect(r.bad).toBe(0)
    })

    it('on the PET grid grown by 5 voxels on every side (outside on all faces)', () => {
      const g = pet.geometry
      const grown: VolumeGeometry = {
        ...g,
        dims: [g.dims[0] + 10, g.dims[1] + 10, g.dims[2] + 10],
        originLps: indexToWorld(g, [-5, -5, -5]),
      }
      const r = check(grown)
      expect(r.hull).toBeGreaterThan(0.8 * voxelCount(pet.geometry))
      expect(r.outside).toBeGreaterThan(voxelCount(grown) - voxelCount(g))
      expect(r.bad).toBe(0)
    })

    it('on an oblique, left-handed grid through the CT', () => {
      const c = Math.cos(0.4)
      const s = Math.sin(0.4)
      // axis 0 rotated in the x-y plane, axis 1 tilted towards z, axis 2 = -(axis0 x axis1): left-handed.
      const a0 = [c, s, 0]
      const a1 = [-s * 0.8, c * 0.8, 0.6]
      const a2 = [a0[1] * a1[2] - a0[2] * a1[1], a0[2] * a1[0] - a0[0] * a1[2], a0[0] * a1[1] - a0[1] * a1[0]].map((v) => -v)
      const target: VolumeGeometry = {
        dims: [30, 25, 20],
        spacingMm: [5.5, 6.25, 7],
        originLps: indexToWorld(ct.geometry, [20, 10, 5]),
        directionLps: [...a0, ...a1, ...a2] as VolumeGeometry['directionLps'],
      }
      const r = check(target)
      expect(r.hull).toBeGreaterThan(1000)
      expect(r.outside).toBeGreaterThan(1000)
      expect(r.bad).toBe(0)
    })
  })

  it('(c) real CT onto the real PET grid equals a naive per-voxel reference, -1024 outside', () => {
    const target = pet.geometry
    const out = resampleTrilinear(ct, target, { outsideValue: -1024 })
    const n = ct.geometry.dims
    let compared = 0, outside = 0, bad = 0, worst = 0
    let o = 0
    for (let k = 0; k < target.dims[2]; k++) for (let j = 0; j < target.dims[1]; j++) for (let i = 0; i < target.dims[0]; i++, o++) {
      const p = sourceIndexOf(ct.geometry, target, i, j, k)
      if (outsideExtent(p, n, 1e-6)) {
        outside++
        if (out[o] !== -1024) bad++
      } else if (insideExtent(p, n, 1e-6)) {
        compared++
        const err = Math.abs(out[o] - naiveTrilinear(ct.voxels, n, p))
        worst = Math.max(worst, err)
        if (!(err <= 1e-3)) bad++
      }
    }
    expect(compared).toBeGreaterThan(0.9 * voxelCount(target))
    expect(outside).toBeGreaterThan(1000)
    expect(worst).toBeLessThan(1e-3)
    expect(bad).toBe(0)
  })

  it('(c) the naive reference is not trivially satisfied: a shifted target differs', () => {
    // Guards the check above: moving the target by a third of a CT voxel must change the values.
    const target: VolumeGeometry = { ...pet.geometry, originLps: [pet.geometry.originLps[0] + 0.33, pet.geometry.originLps[1], pet.geometry.originLps[2]] }
    const moved = resampleTrilinear(ct, target, { outsideValue: -1024 })
    const original = resampleTrilinear(ct, pet.geometry, { outsideValue: -1024 })
    let differing = 0
    for (let i = 0; i < moved.length; i++) if (Math.abs(moved[i] - original[i]) > 1e-3) differing++
    expect(differing).toBeGreaterThan(0.5 * moved.length)
  })
})

describe('(d) WorkerPool running resampleTrilinear', () => {
  const pool = new WorkerPool(1)
  afterAll(() => pool.close())

  /** A fine target grid (the CT grid with 4x the slices): enough work to be caught mid-run. */
  const fineTarget = (): VolumeGeometry => ({
    ...ct.geometry,
    dims: [ct.geometry.dims[0], ct.geometry.dims[1], ct.geometry.dims[2] * 4],
    spacingMm: [ct.geometry.spacingMm[0], ct.geometry.spacingMm[1], ct.geometry.spacingMm[2] / 4],
  })

  it('gives the in-thread result, with increasing progress ending at 1', async () => {
    const fractions: number[] = []
    const result = await pool.run(
      'resampleTrilinear',
      { source: { geometry: ct.geometry, voxels: ct.voxels }, target: pet.geometry, outsideValue: -1024 },
      { onProgress: (f) => fractions.push(f) },
    )
    const expected = resampleTrilinear(ct, pet.geometry, { outsideValue: -1024 })
    expect(result).toBeInstanceOf(Float32Array)
    expect(result.length).toBe(expected.length)
    expect(bytesOf(result).equals(bytesOf(expected))).toBe(true)
    expect(fractions.length).toBeGreaterThanOrEqual(2)
    expect(fractions.every((f, i) => f > 0 && f <= 1 && (i === 0 || f > fractions[i - 1]))).toBe(true)
    expect(fractions.at(-1)).toBe(1)
  })

  it('cancels a running task with TaskCancelledError, and then still works', async () => {
    const controller = new AbortController()
    const fractions: number[] = []
    const running = pool.run(
      'resampleTrilinear',
      { source: { geometry: ct.geometry, voxels: ct.voxels }, target: fineTarget(), outsideValue: -1024 },
      {
        signal: controller.signal,
        onProgress: (f) => {
          fractions.push(f)
          controller.abort() // at the first progress report: the task is certainly running
        },
      },
    )
    await expect(running).rejects.toBeInstanceOf(TaskCancelledError)
    expect(fractions.length).toBe(1)
    expect(fractions[0]).toBeLessThan(1)

    // Already aborted: rejected without running.
    await expect(
      pool.run('resampleTrilinear', { source: { geometry: ct.geometry, voxels: ct.voxels }, target: pet.geometry, outsideValue: 0 }, { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(TaskCancelledError)

    // Queued behind another task (pool of one), then cancelled: the first one still completes.
    const queuedController = new AbortController()
    const first = pool.run('resampleTrilinear', { source: { geometry: ct.geometry, voxels: ct.voxels }, target: pet.geometry, outsideValue: -1024 })
    const queued = pool.run(
      'resampleTrilinear',
      { source: { geometry: ct.geometry, voxels: ct.voxels }, target: pet.geometry, outsideValue: -1024 },
      { signal: queuedController.signal },
    )
    queuedController.abort()
    await expect(queued).rejects.toBeInstanceOf(TaskCancelledError)
    const expected = resampleTrilinear(ct, pet.geometry, { outsideValue: -1024 })
    expect(bytesOf(await first).equals(bytesOf(expected))).toBe(true)

    // And a fresh task after all that.
    const again = await pool.run('resampleTrilinear', { source: { geometry: ct.geometry, voxels: ct.voxels }, target: pet.geometry, outsideValue: -1024 })
    expect(bytesOf(again).equals(bytesOf(expected))).toBe(true)
  })

  it('reports a failing task as a rejection (not a crash) and keeps working', async () => {
    // An unknown task name makes the worker throw; the pool must turn that into a rejection.
    const bad = pool.run('noSuchTask' as 'resampleTrilinear', {} as never)
    await expect(bad).rejects.toThrow(/unknown worker task/)
    const ok = await pool.run('resampleTrilinear', { source: { geometry: pet.geometry, voxels: pet.voxels }, target: pet.geometry, outsideValue: 0 })
    expect(bytesOf(ok).equals(bytesOf(pet.voxels))).toBe(true)
  })
})
