/**
 * Random affine augmentation, as MONAI RandAffined(prob, rotate_range=(0, 0, r), translate_range,
 * scale_range, padding_mode='reflection', mode=('bilinear', 'nearest')) with the output size equal to
 * the patch size.
 *
 * MONAI's convention, kept: the matrix maps OUTPUT positions to INPUT positions, in coordinates centred
 * on the patch centre c = (n - 1) / 2, composed as A = R T S (AffineGrid: rotate @ translate @ scale):
 *
 *     p - c = R (S (q - c) + t)
 *
 * so a translation t moves the content by -t, a rotation by +angle turns the content by -angle, and a
 * scale s > 1 shrinks the content. The ranges are symmetric, so the sign conventions don't bias training.
 * Rotation is about the axial axis (our axis 2, Superior), i.e. in the (axis 0, axis 1) plane, with
 * MONAI's third-angle matrix [[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]].
 *
 * Deviation, a choice MONAI leaves to its caller: the scale factor is drawn independently per axis,
 * 1 + U(-s, s) each (MONAI scale_range=(s, s, s)). A scalar MONAI scale_range=s would scale axis 0 only
 * (ensure_tuple_size pads the other factors with 1), which is surely not what "scale 1 +- 0.1" means.
 */
import type { Vec3 } from '../../../shared/geometry'
import { assertPatch, copyPatch, type TrainingPatch } from './patchLayout'
import { uniformBetween } from './randomDeviates'
import { resamplePatch, type GridMap } from './resample'

export interface AffineSettings {
  /** Probability of applying the transform. */
  readonly p: number
  /** Translation per axis drawn from U(-translateVoxels, translateVoxels), in voxels. */
  readonly translateVoxels: number
  /** Rotation about the axial axis drawn from U(-rotateDeg, rotateDeg), in degrees. */
  readonly rotateDeg: number
  /** Scale factor per axis drawn from 1 + U(-scale, scale). */
  readonly scale: number
}

export interface AffineParams {
  translate: Vec3
  rotateRad: number
  scale: Vec3
}

/** The parameters of one affine, in MONAI's draw order (rotation, translation, scale). */
export function drawAffineParams(rng: () => number, settings: AffineSettings): AffineParams {
  const r = (settings.rotateDeg * Math.PI) / 180
  const rotateRad = uniformBetween(rng, -r, r)
  const t = settings.translateVoxels
  const translate: Vec3 = [uniformBetween(rng, -t, t), uniformBetween(rng, -t, t), uniformBetween(rng, -t, t)]
  const s = settings.scale
  const scale: Vec3 = [1 + uniformBetween(rng, -s, s), 1 + uniformBetween(rng, -s, s), 1 + uniformBetween(rng, -s, s)]
  return { translate, rotateRad, scale }
}

/** The output-to-input voxel map of `params` on a patch of `dims` (no displacement). */
export function affineGridMap(dims: Vec3, params: AffineParams): GridMap {
  const cos = Math.cos(params.rotateRad)
  const sin = Math.sin(params.rotateRad)
  const R = [cos, -sin, 0, sin, cos, 0, 0, 0, 1]
  const [s0, s1, s2] = params.scale
  // L = R S: column c of R scaled by s_c.
  const linear = [R[0] * s0, R[1] * s1, R[2] * s2, R[3] * s0, R[4] * s1, R[5] * s2, R[6] * s0, R[7] * s1, R[8] * s2]
  const c = dims.map((d) => (d - 1) / 2)
  const t = params.translate
  // p = L (q - c) + R t + c  =>  b = c - L c + R t.
  const offset = [0, 1, 2].map(
    (r) =>
      c[r] -
      (linear[3 * r] * c[0] + linear[3 * r + 1] * c[1] + linear[3 * r + 2] * c[2]) +
      (R[3 * r] * t[0] + R[3 * r + 1] * t[1] + R[3 * r + 2] * t[2]),
  )
  return { linear, offset, displacement: null }
}

/** Apply a given affine (deterministic; new arrays). */
export function applyAffine(sample: TrainingPatch, params: AffineParams): TrainingPatch {
  return resamplePatch(sample, affineGridMap(sample.dims, params))
}

/** With probability settings.p, a random affine; otherwise an unchanged copy. */
export function randomAffine(sample: TrainingPatch, rng: () => number, settings: AffineSettings): TrainingPatch {
  assertPatch('randomAffine', sample)
  if (!(rng() < settings.p)) return copyPatch(sample)
  return applyAffine(sample, drawAffineParams(rng, settings))
}
