/**
 * Image geometry, always explicit, always in LPS world coordinates (DICOM patient space, millimetres).
 *
 * A voxel index (i, j, k) maps to world as
 *   world = originLps + i * spacingMm[0] * axis0 + j * spacingMm[1] * axis1 + k * spacingMm[2] * axis2
 * where axisN = directionLps[3N .. 3N+2] is the LPS unit vector of voxel axis N. This is ITK's
 * direction matrix read column by column, and the layout Cornerstone3D's `direction` uses.
 * Voxel data is stored with axis 0 fastest (index = i + dims[0] * (j + dims[1] * k)).
 */
export type Vec3 = [number, number, number]
export type Mat3 = [number, number, number, number, number, number, number, number, number]

export interface VolumeGeometry {
  /** Voxel count along axes 0, 1, 2. */
  dims: Vec3
  /** Voxel spacing along axes 0, 1, 2 in millimetres. */
  spacingMm: Vec3
  /** LPS world position (mm) of the centre of voxel (0, 0, 0). */
  originLps: Vec3
  /** Three LPS unit vectors, one per voxel axis (axis 0 first). */
  directionLps: Mat3
}

export function voxelCount(g: Pick<VolumeGeometry, 'dims'>): number {
  return g.dims[0] * g.dims[1] * g.dims[2]
}

export function axisDirection(g: VolumeGeometry, axis: 0 | 1 | 2): Vec3 {
  const d = g.directionLps
  return [d[3 * axis], d[3 * axis + 1], d[3 * axis + 2]]
}

/** World (LPS mm) position of a continuous voxel index. */
export function indexToWorld(g: VolumeGeometry, ijk: Vec3): Vec3 {
  const { originLps: o, spacingMm: s, directionLps: d } = g
  const a = ijk[0] * s[0]
  const b = ijk[1] * s[1]
  const c = ijk[2] * s[2]
  return [
    o[0] + a * d[0] + b * d[3] + c * d[6],
    o[1] + a * d[1] + b * d[4] + c * d[7],
    o[2] + a * d[2] + b * d[5] + c * d[8],
  ]
}

/**
 * Continuous voxel index of a world (LPS mm) position. Uses the inverse of the direction matrix, so
 * it stays exact for sheared (non-orthogonal) directions too.
 */
export function worldToIndex(g: VolumeGeometry, xyz: Vec3): Vec3 {
  const inv = invertMat3(g.directionLps)
  const p: Vec3 = [xyz[0] - g.originLps[0], xyz[1] - g.originLps[1], xyz[2] - g.originLps[2]]
  // inv maps world offsets to axis coordinates (mm); divide by spacing for indices.
  const out: Vec3 = [0, 0, 0]
  for (let axis = 0; axis < 3; axis++) {
    out[axis] = (inv[3 * axis] * p[0] + inv[3 * axis + 1] * p[1] + inv[3 * axis + 2] * p[2]) / g.spacingMm[axis]
  }
  return out
}

/**
 * Inverse of the matrix whose columns are the three axis vectors of `directionLps`. Returned row-major:
 * row N (entries 3N..3N+2) projects a world offset onto voxel axis N.
 */
export function invertMat3(directionLps: Mat3): Mat3 {
  // M has columns a0, a1, a2: M[r][c] = d[3c + r].
  const m = (r: number, c: number): number => directionLps[3 * c + r]
  const c00 = m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)
  const c01 = m(1, 2) * m(2, 0) - m(1, 0) * m(2, 2)
  const c02 = m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0)
  const det = m(0, 0) * c00 + m(0, 1) * c01 + m(0, 2) * c02
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new Error('Direction matrix is singular: the image axes are not independent')
  }
  const inv = 1 / det
  return [
    c00 * inv, (m(0, 2) * m(2, 1) - m(0, 1) * m(2, 2)) * inv, (m(0, 1) * m(1, 2) - m(0, 2) * m(1, 1)) * inv,
    c01 * inv, (m(0, 0) * m(2, 2) - m(0, 2) * m(2, 0)) * inv, (m(0, 2) * m(1, 0) - m(0, 0) * m(1, 2)) * inv,
    c02 * inv, (m(0, 1) * m(2, 0) - m(0, 0) * m(2, 1)) * inv, (m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)) * inv,
  ]
}

/** World-space axis-aligned bounding box (LPS mm) of the voxel centres of a grid. */
export function worldBoundsLps(g: VolumeGeometry): { min: Vec3; max: Vec3 } {
  const min: Vec3 = [Infinity, Infinity, Infinity]
  const max: Vec3 = [-Infinity, -Infinity, -Infinity]
  for (const ci of [0, 1]) for (const cj of [0, 1]) for (const ck of [0, 1]) {
    const w = indexToWorld(g, [ci * (g.dims[0] - 1), cj * (g.dims[1] - 1), ck * (g.dims[2] - 1)])
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a], w[a])
      max[a] = Math.max(max[a], w[a])
    }
  }
  return { min, max }
}

/** True when two grids are the same within a tolerance (mm for positions, unitless for directions). */
export function sameGrid(a: VolumeGeometry, b: VolumeGeometry, toleranceMm = 1e-3): boolean {
  if (a.dims.some((n, i) => n !== b.dims[i])) return false
  if (a.spacingMm.some((s, i) => Math.abs(s - b.spacingMm[i]) > toleranceMm)) return false
  if (a.originLps.some((o, i) => Math.abs(o - b.originLps[i]) > toleranceMm)) return false
  return a.directionLps.every((d, i) => Math.abs(d - b.directionLps[i]) < 1e-4)
}
