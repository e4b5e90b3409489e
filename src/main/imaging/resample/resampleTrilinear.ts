import { voxelCount, type VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray } from '../../../shared/volume'
import { indexMapping } from './gridMapping'

export interface ResampleOptions {
  /** Value of target voxels whose centre falls outside the source image (e.g. -1024 HU for CT). */
  outsideValue: number
  /** Called with the fraction done, once per target slice. */
  onProgress?: (fraction: number) => void
}

/**
 * Trilinear resampling of `source` onto the `target` grid, in world (LPS) space.
 *
 * Follows ITK's LinearInterpolateImageFunction conventions so results match SimpleITK-made data:
 * a point is inside the source when its continuous index lies within [-0.5, n - 0.5] on every axis
 * (the voxel's extent, not just the centres), and neighbours beyond the edge are clamped to it.
 */
export function resampleTrilinear(
  source: { geometry: VolumeGeometry; voxels: VoxelArray },
  target: VolumeGeometry,
  options: ResampleOptions,
  out: Float32Array = new Float32Array(voxelCount(target)),
): Float32Array {
  const [nx, ny, nz] = source.geometry.dims
  const src = source.voxels
  const m = indexMapping(source.geometry, target)
  const [tx, ty, tz] = target.dims
  const sliceStride = nx * ny
  const outside = options.outsideValue
  let o = 0
  for (let k = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      let x = m.offset[0] + j * m.stepJ[0] + k * m.stepK[0]
      let y = m.offset[1] + j * m.stepJ[1] + k * m.stepK[1]
      let z = m.offset[2] + j * m.stepJ[2] + k * m.stepK[2]
      for (let i = 0; i < tx; i++, o++, x += m.stepI[0], y += m.stepI[1], z += m.stepI[2]) {
        if (x < -0.5 || y < -0.5 || z < -0.5 || x > nx - 0.5 || y > ny - 0.5 || z > nz - 0.5) {
          out[o] = outside
          continue
        }
        const x0f = Math.floor(x)
        const y0f = Math.floor(y)
        const z0f = Math.floor(z)
        const fx = x - x0f
        const fy = y - y0f
        const fz = z - z0f
        const x0 = x0f < 0 ? 0 : x0f
        const y0 = y0f < 0 ? 0 : y0f
        const z0 = z0f < 0 ? 0 : z0f
        const x1 = x0f + 1 > nx - 1 ? nx - 1 : x0f + 1
        const y1 = y0f + 1 > ny - 1 ? ny - 1 : y0f + 1
        const z1 = z0f + 1 > nz - 1 ? nz - 1 : z0f + 1
        const r00 = y0 * nx + z0 * sliceStride
        const r10 = y1 * nx + z0 * sliceStride
        const r01 = y0 * nx + z1 * sliceStride
        const r11 = y1 * nx + z1 * sliceStride
        const c00 = src[r00 + x0] + fx * (src[r00 + x1] - src[r00 + x0])
        const c10 = src[r10 + x0] + fx * (src[r10 + x1] - src[r10 + x0])
        const c01 = src[r01 + x0] + fx * (src[r01 + x1] - src[r01 + x0])
        const c11 = src[r11 + x0] + fx * (src[r11 + x1] - src[r11 + x0])
        const c0 = c00 + fy * (c10 - c00)
        const c1 = c01 + fy * (c11 - c01)
        out[o] = c0 + fz * (c1 - c0)
      }
    }
    options.onProgress?.((k + 1) / tz)
  }
  return out
}
