import type { ApiArgs } from './api/contract'

/** Every fine-tuning setting, as `train.start` takes them (there each one is optional). */
export type FineTuneSettingsValues = Required<NonNullable<ApiArgs<'train.start'>['settings']>>

/**
 * The defaults of a fine-tuning run: the renderer's form shows them and the main process
 * (`DEFAULT_FINE_TUNE` in src/main/training/fineTuneFold.ts) applies them to any setting left out.
 * The learning rate is low because the weights are already trained.
 */
export const DEFAULT_FINE_TUNE_SETTINGS: Readonly<FineTuneSettingsValues> = Object.freeze({
  steps: 200,
  learningRate: 2e-5,
  patch: 64,
  batch: 2,
  trainable: Object.freeze({ layers: 'all' as const, normAffine: true }),
  foregroundProbability: 2 / 3,
  augment: true,
  schedule: 'cosine' as const,
  validateEvery: 50,
  patience: 0,
  seed: 1,
  threads: 2,
})

/** Patch edges the form offers (multiples of 16, as the network's four downsamplings need). */
export const FINE_TUNE_PATCH_SIZES = [32, 48, 64, 96, 128] as const
