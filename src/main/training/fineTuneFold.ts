import type { Vec3 } from '../../shared/geometry'
import { DEFAULT_FINE_TUNE_SETTINGS } from '../../shared/training'
import type { LayerDescription } from '../inference/network/layerDescription'
import type { ProviderName } from '../inference/segment/executionProvider'
import { uniformRandom } from '../imaging/seededRandom'
import { volumeToNcdhw } from '../inference/slidingWindow/patch'
import { TaskCancelledError } from '../workers/WorkerPool'
import { SEED_AUGMENTATION, type AugmentationSettings } from './data/augmentPatch'
import type { TrainingCase } from './data/prepareTrainingCase'
import { drawTrainingPatch } from './data/trainingPatch'
import { TrainingStepRunner } from './engine/trainingStepRunner'
import { trainableKeys, type TrainableSelection } from './graph/buildTrainingStep'
import { cosineLearningRate } from './schedule'
import { validationDice } from './validationDice'

/** What a user chooses for a fine-tuning run; `DEFAULT_FINE_TUNE` holds the defaults. */
export interface FineTuneSettings {
  steps: number
  /** Peak learning rate (cosine-annealed to 0 over `steps`). Low by default: the weights are trained. */
  learningRate: number
  /** Patch edge in voxels, a multiple of 16 (the method trains on 128; 64 suits a CPU). */
  patch: number
  batch: number
  trainable: TrainableSelection
  /** Probability of a lesion-centred patch. */
  foregroundProbability: number
  /** §5's augmentations; false: plain crops. */
  augment: boolean
  schedule: 'cosine' | 'constant'
  /** Validation Dice on the held-out case every this many steps (0: only before and after). */
  validateEvery: number
  /** Stop after this many validations without improvement (0: never stop early). */
  patience: number
  seed: number
  threads: number
}

/** The defaults live in src/shared so the renderer's form shows exactly what the main process applies. */
export const DEFAULT_FINE_TUNE: FineTuneSettings = { ...DEFAULT_FINE_TUNE_SETTINGS, trainable: { ...DEFAULT_FINE_TUNE_SETTINGS.trainable } }

export interface FineTuneProgress {
  step: number
  steps: number
  loss: number
  learningRate: number
  validationDice?: number
  bestDice?: number
  secondsLeft: number
  message: string
}

export interface FoldTrainingResult {
  /** The kept state: the best validation Dice, or the last step without a validation case. */
  weights: Map<string, Float32Array>
  diceBefore?: number
  diceAfter?: number
  bestStep: number
  stepsRun: number
  stoppedEarly: boolean
  losses: number[]
  validations: { step: number; dice: number }[]
}

export interface FoldTrainingHooks {
  onProgress?: (p: FineTuneProgress) => void
  signal?: AbortSignal
  /** Resolves when training may go on (pause). */
  waitWhilePaused?: () => Promise<void>
  /** The validation window; default: see `validationWindow`. */
  validationRoi?: Vec3
}

/**
 * Fine-tunes one fold: lesion-centred, augmented patches from the cases (one per case in turn, as §5
 * draws one patch per volume per epoch), AdamW through the generated training graph, cosine schedule,
 * validation Dice on the held-out case, early stopping, best state kept.
 */
export async function fineTuneFold(
  desc: LayerDescription,
  initial: ReadonlyMap<string, Float32Array>,
  cases: readonly TrainingCase[],
  validation: TrainingCase | undefined,
  settings: FineTuneSettings,
  provider: ProviderName,
  hooks: FoldTrainingHooks = {},
): Promise<FoldTrainingResult> {
  checkSettings(settings, desc)
  if (cases.length === 0) throw new Error('no training cases')
  if (validation && validation.lesionVoxels === 0) {
    // §5 ignores empty ground truths: with no lesion there is no Dice to select the best state by.
    throw new Error(`the validation case ${validation.name} has no lesion on the training grid, so it has no Dice; choose a case with lesions (or none)`)
  }
  const patch: Vec3 = [settings.patch, settings.patch, settings.patch]
  const rng = uniformRandom(settings.seed)
  const augmentation: AugmentationSettings = settings.augment ? SEED_AUGMENTATION : { ...SEED_AUGMENTATION, affine: { ...SEED_AUGMENTATION.affine, p: 0 }, elastic: { ...SEED_AUGMENTATION.elastic, p: 0 }, contrast: { ...SEED_AUGMENTATION.contrast, p: 0 }, noise: { ...SEED_AUGMENTATION.noise, p: 0 } }
  const roi = hooks.validationRoi ?? validationWindow(desc, settings.patch)
  const runner = await TrainingStepRunner.create(desc, initial, { batch: settings.batch, patch, trainable: trainableKeys(desc, settings.trainable), provider, threads: settings.threads })
  const started = performance.now()
  const losses: number[] = []
  const validations: { step: number; dice: number }[] = []
  const check = (): void => {
    if (hooks.signal?.aborted) throw new TaskCancelledError('fine-tuning')
  }
  try {
    const validate = async (weights: ReadonlyMap<string, Float32Array>): Promise<number | undefined> =>
      validation ? validationDice(desc, weights, validation, roi, provider, settings.threads, hooks.signal) : undefined
    const diceBefore = await validate(initial)
    let best = { dice: diceBefore ?? -Infinity, step: 0, weights: new Map(initial) }
    let sinceBest = 0
    let stoppedEarly = false
    let caseIndex = 0
    const voxels = settings.patch ** 3
    for (let step = 1; step <= settings.steps; step++) {
      check()
      await hooks.waitWhilePaused?.()
      check() // a cancel that came during the pause must not run one more step
      const image = new Float32Array(settings.batch * 2 * voxels)
      const label = new Float32Array(settings.batch * voxels)
      for (let b = 0; b < settings.batch; b++) {
        const c = cases[caseIndex++ % cases.length]
        const p = drawTrainingPatch(c.image, c.channels, c.dims, c.label, patch, rng, { foregroundProbability: settings.foregroundProbability, augmentation })
        image.set(volumeToNcdhw(p.image, 2, patch), b * 2 * voxels)
        label.set(volumeToNcdhw(Float32Array.from(p.label), 1, patch), b * voxels)
      }
      const lr = settings.schedule === 'cosine' ? cosineLearningRate(settings.learningRate, step - 1, settings.steps) : settings.learningRate
      const { loss } = await runner.step(image, label, lr)
      losses.push(loss)
      let dice: number | undefined
      if (validation && settings.validateEvery > 0 && (step % settings.validateEvery === 0 || step === settings.steps)) {
        const current = runner.weights()
        dice = await validate(current)
        if (dice !== undefined) {
          validations.push({ step, dice })
          if (dice > best.dice) {
            best = { dice, step, weights: current }
            sinceBest = 0
          } else if (++sinceBest >= settings.patience && settings.patience > 0) {
            stoppedEarly = true
          }
        }
      }
      const elapsed = (performance.now() - started) / 1000
      hooks.onProgress?.({
        step,
        steps: settings.steps,
        loss,
        learningRate: lr,
        validationDice: dice,
        bestDice: Number.isFinite(best.dice) ? best.dice : undefined,
        secondsLeft: (elapsed / step) * (settings.steps - step),
        message: `Step ${step} of ${settings.steps}: loss ${loss.toFixed(4)}${dice !== undefined ? `, validation Dice ${dice.toFixed(3)}` : ''}`,
      })
      if (stoppedEarly) break
    }
    const stepsRun = losses.length
    if (!validation) return { weights: finiteWeights(runner.weights(), stepsRun), bestStep: stepsRun, stepsRun, stoppedEarly, losses, validations }
    if (validations.length === 0 || validations[validations.length - 1].step !== stepsRun) {
      const current = runner.weights()
      const dice = await validate(current)
      if (dice !== undefined) {
        validations.push({ step: stepsRun, dice })
        if (dice > best.dice) best = { dice, step: stepsRun, weights: current }
      }
    }
    return { weights: finiteWeights(best.weights, best.step), diceBefore, diceAfter: Number.isFinite(best.dice) ? best.dice : undefined, bestStep: best.step, stepsRun, stoppedEarly, losses, validations }
  } finally {
    await runner.release()
  }
}

/** The weights, unless an update made any of them NaN or infinite (a model set must never hold those). */
function finiteWeights(weights: Map<string, Float32Array>, step: number): Map<string, Float32Array> {
  for (const [key, values] of weights) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new Error(`training diverged: ${key} is not finite after step ${step}; lower the learning rate`)
    }
  }
  return weights
}

function checkSettings(s: FineTuneSettings, desc: LayerDescription): void {
  const problems: string[] = []
  if (!Number.isInteger(s.steps) || s.steps < 1) problems.push(`steps ${s.steps} must be a positive integer`)
  if (!(s.learningRate > 0 && s.learningRate < 1)) problems.push(`learning rate ${s.learningRate} must be between 0 and 1`)
  if (!Number.isInteger(s.patch) || s.patch < 16 || s.patch % 16 !== 0 || s.patch % desc.spatialMultiple !== 0) problems.push(`patch ${s.patch} must be a multiple of 16`)
  if (!Number.isInteger(s.batch) || s.batch < 1) problems.push(`batch ${s.batch} must be a positive integer`)
  if (!(s.foregroundProbability >= 0 && s.foregroundProbability <= 1)) problems.push('the lesion-centred share must be between 0 and 1')
  if (problems.length) throw new Error(`fine-tuning settings: ${problems.join('; ')}`)
}

/**
 * The default validation window: the training patch size (overlap 0.25). §5 validates with 192³
 * windows on GPUs; the network is fully convolutional, so smaller windows change the Dice only at window
 * borders while keeping a CPU's memory small. fineTuneModelSet passes the set's own window, capped.
 */
function validationWindow(desc: LayerDescription, patch: number): Vec3 {
  const edge = Math.max(patch, desc.spatialMultiple)
  return [edge, edge, edge]
}

/** The model set's inference window capped at 128³ (memory on a CPU), never below the patch. */
export function validationWindowFor(roiSize: readonly number[], patch: number): Vec3 {
  return roiSize.map((r) => Math.max(patch, Math.min(r, 128))) as Vec3
}
