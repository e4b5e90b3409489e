/**
 * One training example from one preprocessed volume: a lesion-centred (or random) patch, cropped with
 * zero padding, then augmented (method.md §5: "one random 128^3 patch per volume per epoch").
 */
import type { Vec3 } from '../../../shared/geometry'
import { augmentPatch, SEED_AUGMENTATION, type AugmentationSettings } from './augmentPatch'
import type { TrainingPatch } from './patchLayout'
import { cropPatch, FOREGROUND_PROBABILITY, samplePatchOrigin } from './patchSampling'

export type { TrainingPatch } from './patchLayout'

export interface TrainingPatchOptions {
  /** Probability of centring on a lesion voxel (default 2/3, MONAI pos=2, neg=1). */
  foregroundProbability?: number
  /** Default SEED_AUGMENTATION; pass settings with every p = 0 for the plain crop. */
  augmentation?: AugmentationSettings
}

/** Sample an origin, crop, augment. `origin` is where the patch's first voxel lies on the volume. */
export function drawTrainingPatch(
  image: Float32Array,
  channels: number,
  dims: Vec3,
  label: Uint8Array,
  patch: Vec3,
  rng: () => number,
  options: TrainingPatchOptions = {},
): TrainingPatch & { origin: Vec3 } {
  const origin = samplePatchOrigin(dims, patch, label, rng, options.foregroundProbability ?? FOREGROUND_PROBABILITY)
  const cropped = cropPatch(image, channels, dims, label, origin, patch)
  const augmented = augmentPatch(cropped, rng, options.augmentation ?? SEED_AUGMENTATION)
  return { ...augmented, origin }
}
