import { indexToWorld, worldToIndex, type Vec3, type VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray } from '../../../shared/volume'

/** Nearest-voxel value at a world (LPS) position, or undefined outside the grid. */
export function valueAtWorld(geometry: VolumeGeometry, voxels: VoxelArray, worldLps: Vec3): number | undefined {
  const ijk = worldToIndex(geometry, worldLps).map(Math.round)
  const [nx, ny, nz] = geometry.dims
  if (ijk[0] < 0 || ijk[1] < 0 || ijk[2] < 0 || ijk[0] >= nx || ijk[1] >= ny || ijk[2] >= nz) return undefined
  return voxels[ijk[0] + nx * (ijk[1] + ny * ijk[2])]
}

/**
 * The hottest voxel along a ray (what a MIP pixel shows): samples the line through `worldLps` along
 * `directionLps` at half the smallest voxel size across the whole grid.
 */
export function hottestAlongRay(
  geometry: VolumeGeometry,
  voxels: VoxelArray,
  worldLps: Vec3,
  directionLps: Vec3,
): { value: number; worldLps: Vec3 } | undefined {
  const norm = Math.hypot(...directionLps)
  const d: Vec3 = [directionLps[0] / norm, directionLps[1] / norm, directionLps[2] / norm]
  const step = Math.min(...geometry.spacingMm) / 2
  const diagonalMm = Math.hypot(...geometry.dims.map((n, a) => n * geometry.spacingMm[a]))
  const centre = indexToWorld(geometry, geometry.dims.map((n) => (n - 1) / 2) as Vec3)
  // Start from the point on the ray closest to the grid centre and walk a diagonal each way.
  const t0 = (centre[0] - worldLps[0]) * d[0] + (centre[1] - worldLps[1]) * d[1] + (centre[2] - worldLps[2]) * d[2]
  let best: { value: number; worldLps: Vec3 } | undefined
  for (let t = t0 - diagonalMm; t <= t0 + diagonalMm; t += step) {
    const p: Vec3 = [worldLps[0] + t * d[0], worldLps[1] + t * d[1], worldLps[2] + t * d[2]]
    const v = valueAtWorld(geometry, voxels, p)
    if (v !== undefined && (!best || v > best.value)) best = { value: v, worldLps: p }
  }
  if (!best) return undefined
  // Snap to the voxel centre so all views land on the same voxel.
  const ijk = worldToIndex(geometry, best.worldLps).map(Math.round) as Vec3
  return { value: best.value, worldLps: indexToWorld(geometry, ijk) }
}
