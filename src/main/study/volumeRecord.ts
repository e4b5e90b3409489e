import type { VolumeInfo } from '../../shared/study'
import type { VoxelArray } from '../../shared/volume'

/** A volume the main process holds: its description and its voxels. */
export interface VolumeRecord {
  info: VolumeInfo
  voxels: VoxelArray
}

/** Smallest and largest value, skipping NaN. */
export function valueRange(voxels: VoxelArray): [number, number] {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i]
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  return lo <= hi ? [lo, hi] : [0, 0]
}
