/**
 * The method's training augmentation (method.md §5), in its order: affine p=0.5 (translate +-10 voxels,
 * rotate +-15 deg about the axial axis, scale 1 +- 0.1, reflection padding); elastic p=0.5 (offsets
 * U(-1, 1) smoothed by a Gaussian of sigma U(0, 1), magnitude U(0, 1)); contrast p=0.3 (gamma
 * U(0.7, 1.5)); Gaussian noise p=0.5 (std U(0, 0.1)). Each transform's module documents its MONAI
 * counterpart and where we differ.
 *
 * Affine and elastic, when both apply, run as ONE resampling pass (the elastic displacement composed
 * into the affine map, see resample.ts). Every draw comes from `rng`, in a fixed order (affine decision
 * and parameters, elastic decision and field, contrast, noise), each transform's decision drawing one
 * uniform even when its p is 0 or 1, so a seed fixes the whole result.
 */
import { affineGridMap, drawAffineParams, type AffineSettings } from './affine'
import { drawElasticDisplacement, type ElasticSettings } from './elastic'
import {
  addGaussianNoiseInPlace,
  adjustContrastInPlace,
  drawContrastGamma,
  drawNoiseStd,
  type ContrastSettings,
  type NoiseSettings,
} from './intensity'
import { assertPatch, copyPatch, type TrainingPatch } from './patchLayout'
import { IDENTITY_LINEAR, resamplePatch, type GridMap } from './resample'

export interface AugmentationSettings {
  readonly affine: AffineSettings
  readonly elastic: ElasticSettings
  readonly contrast: ContrastSettings
  readonly noise: NoiseSettings
}

/** The method's settings (§5). */
export const SEED_AUGMENTATION = {
  affine: { p: 0.5, translateVoxels: 10, rotateDeg: 15, scale: 0.1 },
  elastic: { p: 0.5, sigma: [0, 1], magnitude: [0, 1] },
  contrast: { p: 0.3, gamma: [0.7, 1.5] },
  noise: { p: 0.5, std: [0, 0.1] },
} as const satisfies AugmentationSettings

/** One random augmentation of `sample` (new arrays; the input is never modified). */
export function augmentPatch(
  sample: TrainingPatch,
  rng: () => number,
  settings: AugmentationSettings = SEED_AUGMENTATION,
): TrainingPatch {
  assertPatch('augmentPatch', sample)
  const affine = rng() < settings.affine.p ? drawAffineParams(rng, settings.affine) : null
  const displacement = rng() < settings.elastic.p ? drawElasticDisplacement(sample.dims, rng, settings.elastic) : null

  let out: TrainingPatch
  if (affine !== null || displacement !== null) {
    const map: GridMap = affine !== null ? { ...affineGridMap(sample.dims, affine), displacement } : { linear: IDENTITY_LINEAR, offset: [0, 0, 0], displacement }
    out = resamplePatch(sample, map)
  } else {
    out = copyPatch(sample)
  }

  const gamma = drawContrastGamma(rng, settings.contrast)
  if (gamma !== null) adjustContrastInPlace(out.image, out.channels, gamma)
  const std = drawNoiseStd(rng, settings.noise)
  if (std !== null) addGaussianNoiseInPlace(out.image, std, rng)
  return out
}
