import { invertMat3, type Vec3, type VolumeGeometry } from '../../../shared/geometry'

/**
 * The affine map from voxel indices of `target` to continuous voxel indices of `source`, through
 * LPS world space: srcIndex = offset + i * stepI + j * stepJ + k * stepK.
 */
export interface IndexMapping {
  offset: Vec3
  stepI: Vec3
  stepJ: Vec3
  stepK: Vec3
}

export function indexMapping(source: VolumeGeometry, target: VolumeGeometry): IndexMapping {
  const inv = invertMat3(source.directionLps)
  const toSourceIndex = (worldOffset: Vec3): Vec3 => [
    (inv[0] * worldOffset[0] + inv[1] * worldOffset[1] + inv[2] * worldOffset[2]) / source.spacingMm[0],
    (inv[3] * worldOffset[0] + inv[4] * worldOffset[1] + inv[5] * worldOffset[2]) / source.spacingMm[1],
    (inv[6] * worldOffset[0] + inv[7] * worldOffset[1] + inv[8] * worldOffset[2]) / source.spacingMm[2],
  ]
  const axisStep = (axis: number): Vec3 => {
    const d = target.directionLps
    const s = target.spacingMm[axis]
    return toSourceIndex([d[3 * axis] * s, d[3 * axis + 1] * s, d[3 * axis + 2] * s])
  }
  return {
    offset: toSourceIndex([
      target.originLps[0] - source.originLps[0],
      target.originLps[1] - source.originLps[1],
      target.originLps[2] - source.originLps[2],
    ]),
    stepI: axisStep(0),
    stepJ: axisStep(1),
    stepK: axisStep(2),
  }
}
