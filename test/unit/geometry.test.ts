import { describe, expect, it } from 'vitest'
import {
  axisDirection,
  indexToWorld,
  invertMat3,
  sameGrid,
  voxelCount,
  worldBoundsLps,
  worldToIndex,
  type Mat3,
  type Vec3,
  type VolumeGeometry,
} from '../../src/shared/geometry'
import { uniformRandom as seeded } from '../../src/main/imaging/seededRandom'


/** A uniformly random rotation (from a random unit quaternion), as our column-per-axis layout. */
function randomRotation(rnd: () => number): Mat3 {
  const u1 = rnd()
  const u2 = rnd() * 2 * Math.PI
  const u3 = rnd() * 2 * Math.PI
  const a = Math.sqrt(1 - u1) * Math.sin(u2)
  const b = Math.sqrt(1 - u1) * Math.cos(u2)
  const c = Math.sqrt(u1) * Math.sin(u3)
  const d = Math.sqrt(u1) * Math.cos(u3)
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ]
  return [R[0][0], R[1][0], R[2][0], R[0][1], R[1][1], R[2][1], R[0][2], R[1][2], R[2][2]]
}

/** Column-per-axis matrix times a vector: sum over axes of v[axis] * axisVector. */
function apply(d: Mat3, v: Vec3): Vec3 {
  return [0, 1, 2].map((r) => d[r] * v[0] + d[3 + r] * v[1] + d[6 + r] * v[2]) as Vec3
}

/** Row-major matrix (as invertMat3 returns) times a vector. */
function applyRowMajor(m: Mat3, v: Vec3): Vec3 {
  return [0, 1, 2].map((r) => m[3 * r] * v[0] + m[3 * r + 1] * v[1] + m[3 * r + 2] * v[2]) as Vec3
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i])))

const AXIS_ALIGNED: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]

describe('invertMat3', () => {
  it('inverts 200 random rotations: the inverse is the transpose, and M^-1 M = I', () => {
    const rnd = seeded(1)
    let worst = 0
    for (let n = 0; n < 200; n++) {
      const d = randomRotation(rnd)
      const inv = invertMat3(d)
      // For a rotation, row N of the inverse is axis vector N.
      worst = Math.max(worst, maxAbsDiff(inv, d))
      for (let axis = 0; axis < 3; axis++) {
        const unit: Vec3 = [0, 0, 0]
        unit[axis] = 1
        const back = applyRowMajor(inv, apply(d, unit))
        worst = Math.max(worst, maxAbsDiff(back, unit))
      }
    }
    expect(worst).toBeLessThan(1e-12)
  })

  it('inverts sheared, scaled and left-handed matrices (M^-1 M = I)', () => {
    const rnd = seeded(2)
    let worst = 0
    for (let n = 0; n < 200; n++) {
      const d = Array.from({ length: 9 }, () => rnd() * 4 - 2) as Mat3
      const det = d[0] * (d[4] * d[8] - d[7] * d[5]) - d[3] * (d[1] * d[8] - d[7] * d[2]) + d[6] * (d[1] * d[5] - d[4] * d[2])
      if (Math.abs(det) < 0.1) continue
      const inv = invertMat3(d)
      const v: Vec3 = [rnd() - 0.5, rnd() - 0.5, rnd() - 0.5]
      worst = Math.max(worst, maxAbsDiff(applyRowMajor(inv, apply(d, v)), v))
    }
    expect(worst).toBeLessThan(1e-10)
  })

  it('a known non-symmetric example (not its own transpose)', () => {
    // Axis 0 = (1, 0, 0), axis 1 = (1, 1, 0) (sheared), axis 2 = (0, 0, 2).
    const inv = invertMat3([1, 0, 0, 1, 1, 0, 0, 0, 2])
    expect(maxAbsDiff(inv, [1, -1, 0, 0, 1, 0, 0, 0, 0.5])).toBeLessThan(1e-15)
  })

  it('throws on singular or non-finite matrices', () => {
    expect(() => invertMat3([1, 0, 0, 2, 0, 0, 0, 0, 1])).toThrow(/singular/)
    expect(() => invertMat3([0, 0, 0, 0, 0, 0, 0, 0, 0])).toThrow(/singular/)
    expect(() => invertMat3([NaN, 0, 0, 0, 1, 0, 0, 0, 1])).toThrow(/singular/)
  })
})

describe('indexToWorld / worldToIndex', () => {
  const rnd = seeded(3)
  const grids: [string, VolumeGeometry][] = [
    ['axis-aligned CT-like', { dims: [198, 202, 59], spacingMm: [0.977, 0.977, 3.27], originLps: [-23.4, -86.9, -881.3], directionLps: AXIS_ALIGNED }],
    ['left-handed (autoPET-like)', { dims: [200, 200, 448], spacingMm: [4.07, 4.07, 2], originLps: [-406.3, 195.6, -602.5], directionLps: [1, 0, 0, 0, -1, 0, 0, 0, 1] }],
    ...Array.from({ length: 5 }, (_, n): [string, VolumeGeometry] => [
      `random oblique anisotropic #${n}`,
      {
        dims: [50, 60, 70],
        spacingMm: [0.3 + rnd() * 5, 0.3 + rnd() * 5, 0.3 + rnd() * 5],
        originLps: [rnd() * 1000 - 500, rnd() * 1000 - 500, rnd() * 1000 - 500],
        directionLps: randomRotation(rnd),
      },
    ]),
    ['sheared (gantry tilt)', { dims: [64, 64, 30], spacingMm: [1, 1, 2.5], originLps: [10, 20, 30], directionLps: [1, 0, 0, 0, Math.cos(0.3), Math.sin(0.3), 0, 0, 1] }],
  ]

  it.each(grids)('%s: worldToIndex inverts indexToWorld', (_name, g) => {
    let worst = 0
    for (let n = 0; n < 500; n++) {
      const ijk: Vec3 = [rnd() * g.dims[0] - 0.5, rnd() * g.dims[1] - 0.5, rnd() * g.dims[2] - 0.5]
      worst = Math.max(worst, maxAbsDiff(worldToIndex(g, indexToWorld(g, ijk)), ijk))
      const xyz: Vec3 = [rnd() * 800 - 400, rnd() * 800 - 400, rnd() * 800 - 400]
      // World -> index -> world, in mm.
      worst = Math.max(worst, maxAbsDiff(indexToWorld(g, worldToIndex(g, xyz)), xyz) / 10)
    }
    expect(worst).toBeLessThan(1e-9)
  })

  it.each(grids)('%s: a step of one index along axis N moves spacing[N] mm along axis N', (_name, g) => {
    const base: Vec3 = [3, 4, 5]
    const w0 = indexToWorld(g, base)
    for (const axis of [0, 1, 2] as const) {
      const next: Vec3 = [...base]
      next[axis] += 1
      const w1 = indexToWorld(g, next)
      const step = [w1[0] - w0[0], w1[1] - w0[1], w1[2] - w0[2]]
      const expected = axisDirection(g, axis).map((v) => v * g.spacingMm[axis])
      expect(maxAbsDiff(step, expected)).toBeLessThan(1e-9)
    }
  })

  it('index (0,0,0) is the origin, and a hand-worked oblique example', () => {
    const g: VolumeGeometry = {
      dims: [10, 10, 10],
      spacingMm: [2, 3, 4],
      originLps: [100, -50, 25],
      // axis 0 -> +y, axis 1 -> -x, axis 2 -> +z
      directionLps: [0, 1, 0, -1, 0, 0, 0, 0, 1],
    }
    expect(indexToWorld(g, [0, 0, 0])).toEqual([100, -50, 25])
    // i=1 -> +2 mm in y; j=2 -> -6 mm in x; k=3 -> +12 mm in z.
    expect(maxAbsDiff(indexToWorld(g, [1, 2, 3]), [94, -48, 37])).toBeLessThan(1e-12)
    expect(maxAbsDiff(worldToIndex(g, [94, -48, 37]), [1, 2, 3])).toBeLessThan(1e-12)
  })
})

describe('worldBoundsLps', () => {
  it('axis-aligned: the first and last voxel centres', () => {
    const g: VolumeGeometry = { dims: [11, 21, 5], spacingMm: [2, 0.5, 3], originLps: [-10, 5, 100], directionLps: AXIS_ALIGNED }
    const b = worldBoundsLps(g)
    expect(b.min).toEqual([-10, 5, 100])
    expect(b.max).toEqual([10, 15, 112])
  })

  it('flipped axes: min and max swap sides', () => {
    const g: VolumeGeometry = { dims: [11, 21, 5], spacingMm: [2, 0.5, 3], originLps: [-10, 5, 100], directionLps: [-1, 0, 0, 0, -1, 0, 0, 0, -1] }
    const b = worldBoundsLps(g)
    expect(b.min).toEqual([-30, -5, 88])
    expect(b.max).toEqual([-10, 5, 100])
  })

  it('oblique: contains every voxel centre and is tight (some centre touches each face)', () => {
    const rnd = seeded(4)
    for (let n = 0; n < 5; n++) {
      const g: VolumeGeometry = { dims: [7, 9, 4], spacingMm: [1.5, 2.5, 4], originLps: [rnd() * 100, rnd() * 100, rnd() * 100], directionLps: randomRotation(rnd) }
      const b = worldBoundsLps(g)
      const lo: Vec3 = [Infinity, Infinity, Infinity]
      const hi: Vec3 = [-Infinity, -Infinity, -Infinity]
      for (let k = 0; k < g.dims[2]; k++) for (let j = 0; j < g.dims[1]; j++) for (let i = 0; i < g.dims[0]; i++) {
        const w = indexToWorld(g, [i, j, k])
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], w[a])
          hi[a] = Math.max(hi[a], w[a])
        }
      }
      expect(maxAbsDiff(b.min, lo)).toBeLessThan(1e-9)
      expect(maxAbsDiff(b.max, hi)).toBeLessThan(1e-9)
    }
  })

  it('a single voxel: min = max = origin', () => {
    const g: VolumeGeometry = { dims: [1, 1, 1], spacingMm: [1, 1, 1], originLps: [1, 2, 3], directionLps: randomRotation(seeded(5)) }
    expect(worldBoundsLps(g)).toEqual({ min: [1, 2, 3], max: [1, 2, 3] })
    expect(voxelCount(g)).toBe(1)
  })
})

describe('sameGrid', () => {
  const base: VolumeGeometry = { dims: [41, 43, 59], spacingMm: [4.6875, 4.6875, 3.27], originLps: [-21.09, -86.72, -881.3], directionLps: AXIS_ALIGNED }
  const variant = (change: Partial<VolumeGeometry>): VolumeGeometry => ({ ...base, ...change })

  it('a grid is the same as itself and as a copy within tolerance', () => {
    expect(sameGrid(base, base)).toBe(true)
    expect(sameGrid(base, variant({ originLps: [-21.0905, -86.72, -881.3] }))).toBe(true)
    expect(sameGrid(base, variant({ spacingMm: [4.6875 + 5e-4, 4.6875, 3.27] }))).toBe(true)
  })

  it('differs in dims, spacing, origin or direction', () => {
    expect(sameGrid(base, variant({ dims: [41, 43, 58] }))).toBe(false)
    expect(sameGrid(base, variant({ spacingMm: [4.6875, 4.6875, 3.28] }))).toBe(false)
    expect(sameGrid(base, variant({ originLps: [-21.09, -86.72, -881.2] }))).toBe(false)
    expect(sameGrid(base, variant({ directionLps: [1, 0, 0, 0, -1, 0, 0, 0, 1] }))).toBe(false)
    const tilted = randomRotation(seeded(6))
    expect(sameGrid(base, variant({ directionLps: tilted }))).toBe(false)
  })

  it('honours the tolerance argument', () => {
    const shifted = variant({ originLps: [-21.09 + 0.005, -86.72, -881.3] })
    expect(sameGrid(base, shifted)).toBe(false)
    expect(sameGrid(base, shifted, 0.01)).toBe(true)
  })
})
