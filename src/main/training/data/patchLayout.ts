/**
 * The training sample every data step takes and returns: an image patch and its label on the same grid.
 *
 * Layout as everywhere in the project (see inference/preprocess/pipeline.ts): dims [n0, n1, n2] in RAS
 * after preprocessing (axis 0 = Right, 1 = Anterior, 2 = Superior), voxel (i, j, k) at
 * i + n0 * (j + n1 * k) (axis 0 fastest); the image is channel-major, element (c, i, j, k) at
 * c * n + i + n0 * (j + n1 * k) with n = n0 * n1 * n2; the label is 0/1 in the same voxel order.
 */
import type { Vec3 } from '../../../shared/geometry'

export interface TrainingPatch {
  image: Float32Array
  channels: number
  dims: Vec3
  label: Uint8Array
}

export function voxelsOf(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2]
}

/** Throws on dims, channel count or array lengths that do not fit together. */
export function assertVolume(where: string, image: ArrayLike<number>, channels: number, dims: Vec3, label: ArrayLike<number>): void {
  if (!dims.every((d) => Number.isInteger(d) && d >= 1)) throw new RangeError(`${where}: dims must be positive integers (got ${dims.join('x')})`)
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`${where}: channels must be a positive integer (got ${channels})`)
  const n = voxelsOf(dims)
  if (image.length !== channels * n) throw new RangeError(`${where}: image length ${image.length} != channels * voxels = ${channels * n}`)
  if (label.length !== n) throw new RangeError(`${where}: label length ${label.length} != voxels = ${n}`)
}

export function assertPatch(where: string, p: TrainingPatch): void {
  assertVolume(where, p.image, p.channels, p.dims, p.label)
}

/** A deep copy: transforms that decide not to act still return new arrays, never their input's. */
export function copyPatch(p: TrainingPatch): TrainingPatch {
  return { image: p.image.slice(), channels: p.channels, dims: [p.dims[0], p.dims[1], p.dims[2]], label: p.label.slice() }
}
