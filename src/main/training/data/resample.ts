/**
 * The one resampling pass shared by the affine and elastic augmentations: every output voxel reads the
 * input at a mapped, usually fractional, position. Image channels are trilinear, the label is nearest
 * neighbour, so it stays exactly 0/1 (MONAI RandAffined / Rand3DElasticd with mode=('bilinear',
 * 'nearest')).
 *
 * Coordinates are voxel indices of the patch. Output voxel q = (i, j, k) reads the input at
 *
 *     p = L (q + d(q)) + b
 *
 * where d is an optional displacement field on the output grid (elastic, in voxels) and L, b the affine
 * part. That is exactly an elastic deformation applied AFTER an affine one: E(A(img))(q) =
 * A(img)(q + d(q)) = img(L (q + d(q)) + b). Composing them costs one interpolation instead of two
 * (less blur) and one pass instead of two. (Deviation from running MONAI's two transforms in turn:
 * there, an elastic sample that falls outside the patch reads the affine output reflected at the patch
 * border; here the composed position is reflected once on the input. Displacements are under a voxel,
 * so only a one-voxel rim can differ.)
 *
 * Padding: 'reflection' as torch.nn.functional.grid_sample with align_corners=False (MONAI Resample's
 * default), i.e. positions are mirrored at the voxel BORDERS -0.5 and n - 0.5 (index -1 reads 0, -2 reads
 * 1, n reads n - 1), then clipped to [0, n - 1]. Every output value is thus an interpolation of input
 * values: no zeros are introduced at the borders. Nearest rounds half to even (torch's nearbyint).
 */
import type { Vec3 } from '../../../shared/geometry'
import { assertPatch, voxelsOf, type TrainingPatch } from './patchLayout'

export interface GridMap {
  /** L, row-major 3 x 3: p[r] = sum_c linear[3 r + c] * q[c] + offset[r]. */
  linear: readonly number[]
  offset: readonly number[]
  /** d, component-major [3, n] in voxels on the (output = input) patch grid; null for none. */
  displacement: Float32Array | null
}

export const IDENTITY_LINEAR: readonly number[] = [1, 0, 0, 0, 1, 0, 0, 0, 1]

/** grid_sample's reflect_coordinates(align_corners=False) followed by clip_coordinates. */
export function reflectCoordinate(x: number, size: number): number {
  if (x >= 0 && x <= size - 1) return x
  if (!Number.isFinite(x)) return 0
  const t = Math.abs(x + 0.5)
  const extra = t % size
  const flips = Math.floor(t / size)
  const reflected = flips % 2 === 0 ? extra - 0.5 : size - extra - 0.5
  return Math.min(size - 1, Math.max(0, reflected))
}

/** Round half to even, as torch's nearbyint in grid_sample mode='nearest' (x >= 0 here). */
function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** Resample image (trilinear) and label (nearest) through `map`; the patch grid is kept. New arrays. */
export function resamplePatch(sample: TrainingPatch, map: GridMap): TrainingPatch {
  assertPatch('resamplePatch', sample)
  const [n0, n1, n2] = sample.dims
  const n = voxelsOf(sample.dims)
  const plane = n0 * n1
  const channels = sample.channels
  const src = sample.image
  const srcLabel = sample.label
  const d = map.displacement
  if (map.linear.length !== 9 || map.offset.length !== 3) throw new RangeError('resamplePatch: linear must have 9 entries, offset 3')
  if (d !== null && d.length !== 3 * n) throw new RangeError(`resamplePatch: displacement length ${d.length} != 3 * voxels = ${3 * n}`)

  const [l00, l01, l02, l10, l11, l12, l20, l21, l22] = map.linear
  const [b0, b1, b2] = map.offset
  const image = new Float32Array(channels * n)
  const label = new Uint8Array(n)

  let v = 0
  for (let k = 0; k < n2; k++) {
    for (let j = 0; j < n1; j++) {
      for (let i = 0; i < n0; i++, v++) {
        let qx = i
        let qy = j
        let qz = k
        if (d !== null) {
          qx += d[v]
          qy += d[n + v]
          qz += d[2 * n + v]
        }
        const px = reflectCoordinate(l00 * qx + l01 * qy + l02 * qz + b0, n0)
        const py = reflectCoordinate(l10 * qx + l11 * qy + l12 * qz + b1, n1)
        const pz = reflectCoordinate(l20 * qx + l21 * qy + l22 * qz + b2, n2)

        label[v] = srcLabel[roundHalfEven(px) + n0 * (roundHalfEven(py) + n1 * roundHalfEven(pz))]

        const x0 = Math.floor(px)
        const y0 = Math.floor(py)
        const z0 = Math.floor(pz)
        const fx = px - x0
        const fy = py - y0
        const fz = pz - z0
        // At the last voxel the upper neighbour has weight 0; reuse the lower one to stay in bounds.
        const dx = x0 + 1 < n0 ? 1 : 0
        const dy = y0 + 1 < n1 ? n0 : 0
        const dz = z0 + 1 < n2 ? plane : 0
        const w000 = (1 - fx) * (1 - fy) * (1 - fz)
        const w100 = fx * (1 - fy) * (1 - fz)
        const w010 = (1 - fx) * fy * (1 - fz)
        const w110 = fx * fy * (1 - fz)
        const w001 = (1 - fx) * (1 - fy) * fz
        const w101 = fx * (1 - fy) * fz
        const w011 = (1 - fx) * fy * fz
        const w111 = fx * fy * fz
        const base = x0 + n0 * y0 + plane * z0
        for (let c = 0, o = base; c < channels; c++, o += n) {
          image[c * n + v] =
            w000 * src[o] +
            w100 * src[o + dx] +
            w010 * src[o + dy] +
            w110 * src[o + dx + dy] +
            w001 * src[o + dz] +
            w101 * src[o + dx + dz] +
            w011 * src[o + dy + dz] +
            w111 * src[o + dx + dy + dz]
        }
      }
    }
  }
  return { image, channels, dims: [n0, n1, n2], label }
}
