import { copyFile, stat, writeFile } from 'node:fs/promises'
import { InputError } from '../io/InputError'
import { join } from 'node:path'
import { APP_VERSION } from '../appVersion'
import { buildResUnetOnnx } from '../inference/network/buildOnnx'
import { describeResUnet } from '../inference/network/layerDescription'
import { readOnnxWeights } from '../inference/network/readOnnxWeights'
import { resUnetConfig } from '../inference/network/resUnetConfig'
import { validateWeights } from '../inference/network/validateWeights'
import { installModelSet, modelSetId } from '../inference/modelSet/installModelSet'
import type { ModelSetManifest } from '../inference/modelSet/manifest'
import { listModelSets, modelSetLocations, sha256Of, verifyFold, type InstalledModelSet } from '../inference/modelSet/modelSetRegistry'
import { isotropicSpacingMm } from '../inference/segment/segmentVolume'
import type { DeviceRequest } from '../inference/segment/executionProvider'
import { prepareTrainingCase, type TrainingCase, type TrainingCaseSource } from './data/prepareTrainingCase'
import { trainingSourceFromStudyFolder } from './data/studyCases'
import { TaskCancelledError } from '../workers/WorkerPool'
import { chooseTrainingProvider } from './engine/trainingProvider'
import { fineTuneFold, validationWindowFor, type FineTuneProgress, type FineTuneSettings, type FoldTrainingResult } from './fineTuneFold'

export interface FineTuneRequest {
  base: InstalledModelSet
  /** Name of the new model set (a new folder; never an existing one). */
  outName: string
  /** Cases already in memory (e.g. the open study with its correction). */
  cases: TrainingCaseSource[]
  /**
   * Study folders with masks, read here one at a time and kept only as prepared (2 mm) arrays, so a
   * cohort never sits in memory at full resolution.
   */
  casePaths?: string[]
  /** A held-out case for validation Dice, early stopping and keeping the best state. */
  validation?: TrainingCaseSource
  validationPath?: string
  settings: FineTuneSettings
  /** Indices of the folds to fine-tune (default all); the others are copied unchanged. */
  folds?: number[]
  device: DeviceRequest
  /** Where the new set goes (default: the user's model folder). */
  root?: string
  intendedUse?: ModelSetManifest['intendedUse']
  description?: string
}

export interface FineTuneRunProgress extends Partial<FineTuneProgress> {
  fraction: number
  message: string
  fold?: number
  foldCount?: number
}

export interface FineTuneHooks {
  onProgress?: (p: FineTuneRunProgress) => void
  signal?: AbortSignal
  waitWhilePaused?: () => Promise<void>
}

/**
 * Fine-tunes a model set's folds on corrected cases and installs the result as a NEW model set with its
 * provenance (base set, cases, settings, validation Dice before and after). The base set's files are
 * only read: the original can always be switched back to and compared against.
 */
export async function fineTuneModelSet(request: FineTuneRequest, hooks: FineTuneHooks = {}): Promise<{ set: InstalledModelSet; folds: (FoldTrainingResult & { fold: string })[]; provider: string }> {
  const { base, settings } = request
  const manifest = base.manifest
  if (!manifest) throw new Error(`model set ${base.id} cannot be used: ${base.problem ?? 'no manifest'}`)
  const { kind: _kind, parameters: _parameters, ...architecture } = manifest.architecture
  const desc = describeResUnet(resUnetConfig({ inChannels: architecture.inChannels, outChannels: architecture.outChannels, channels: architecture.channels, strides: architecture.strides, numResUnits: architecture.numResUnits, norm: architecture.norm }))
  const nativeFolds = manifest.folds.filter((f) => f.convTranspose === 'native')
  const selected = [...new Set(request.folds ?? nativeFolds.map((_, i) => i))].sort((a, b) => a - b)
  for (const i of selected) if (!nativeFolds[i]) throw new Error(`model set ${base.id} has no fold ${i} (it has ${nativeFolds.length})`)
  const casePaths = request.casePaths ?? []
  if (request.cases.length + casePaths.length === 0) throw new Error('fine-tuning needs at least one case with a corrected mask')

  const root = request.root ?? modelSetLocations().user
  // Refuse a taken name now, not after an hour of training; a shipped set's id counts too (it would hide
  // the new set wherever sets are looked up by id).
  const id = modelSetId(request.outName)
  const target = join(root, id)
  if ((await stat(target).catch(() => null)) || (await listModelSets()).some((s) => s.id === id)) {
    throw new InputError(request.outName, `a model set "${id}" exists already; choose another name`)
  }
  const report = (p: FineTuneRunProgress): void => hooks.onProgress?.(p)
  report({ fraction: 0, message: 'Checking the device' })
  const choice = await chooseTrainingProvider(request.device, settings.threads)
  const spacing = isotropicSpacingMm(manifest)
  const total = request.cases.length + casePaths.length
  const cases: TrainingCase[] = []
  const caseNames: string[] = []
  const prepare = async (source: TrainingCaseSource | string): Promise<TrainingCase> => {
    if (hooks.signal?.aborted) throw new TaskCancelledError('fine-tuning')
    const loaded = typeof source === 'string' ? await trainingSourceFromStudyFolder(source, { inline: true }) : source
    return prepareTrainingCase(loaded, spacing)
  }
  for (const source of [...request.cases, ...casePaths]) {
    report({ fraction: 0, message: `Preparing case ${cases.length + 1} of ${total} (§5: crop, RAS, ${spacing} mm)` })
    const prepared = await prepare(source)
    cases.push(prepared)
    caseNames.push(prepared.name)
  }
  const validationSource = request.validation ?? request.validationPath
  const validation = validationSource ? await prepare(validationSource) : undefined

  const results: (FoldTrainingResult & { fold: string })[] = []
  const set = await installModelSet(root, request.outName, async (tempDir) => {
    const folds: ModelSetManifest['folds'] = []
    for (let n = 0; n < nativeFolds.length; n++) {
      const fold = nativeFolds[n]
      const subpixel = manifest.folds.find((f) => f.convTranspose === 'subpixel' && f.name === `${fold.name}-subpixel`)
      if (!selected.includes(n)) {
        for (const f of [fold, subpixel]) {
          if (!f) continue
          await copyFile(join(base.dir, f.file), join(tempDir, f.file))
          folds.push({ ...f })
        }
        continue
      }
      const k = selected.indexOf(n)
      const weights = validateWeights(desc, readOnnxWeights(await verifyFold(base.dir, fold.file, fold.sha256)))
      const result = await fineTuneFold(desc, weights, cases, validation, { ...settings, seed: settings.seed + n }, choice.provider, {
        signal: hooks.signal,
        waitWhilePaused: hooks.waitWhilePaused,
        validationRoi: validationWindowFor(manifest.inference.roiSize, settings.patch),
        onProgress: (p) => report({ ...p, fraction: (k + p.step / p.steps) / selected.length, fold: k + 1, foldCount: selected.length, message: `Fold ${k + 1} of ${selected.length}: ${p.message}` }),
      })
      results.push({ ...result, fold: fold.name })
      for (const variant of subpixel ? (['native', 'subpixel'] as const) : (['native'] as const)) {
        const entry = variant === 'native' ? fold : subpixel!
        const bytes = buildResUnetOnnx(desc, { weights: result.weights, convTranspose: variant, batchNormMode: 'inference', weightsSource: `fine-tuned from ${base.id}/${fold.file}`, producerVersion: APP_VERSION })
        await writeFile(join(tempDir, entry.file), bytes)
        folds.push({ ...entry, sha256: sha256Of(bytes) })
      }
    }
    report({ fraction: 1, message: 'Writing the new model set' })
    return {
      ...manifest,
      name: request.outName,
      // A new version of the base set: its version plus a fine-tuning stamp (semver build metadata).
      version: `${manifest.version}+ft.${new Date().toISOString().replace(/[-:]/g, '').slice(0, 13)}`,
      intendedUse: request.intendedUse ?? manifest.intendedUse,
      description: request.description ?? `${manifest.name} fine-tuned on ${caseNames.join(', ')}`,
      folds,
      provenance: {
        createdAt: new Date().toISOString(),
        createdBy: `LesionLab ${APP_VERSION} (fine-tuning, ONNX Runtime on ${choice.provider})`,
        source: `fine-tuned from model set ${base.id}`,
        baseModelSet: `${base.id} (${manifest.name} ${manifest.version})`,
        fineTuning: {
          cases: caseNames,
          validationCase: validation?.name ?? null,
          settings,
          folds: results.map((r) => ({ fold: r.fold, stepsRun: r.stepsRun, bestStep: r.bestStep, stoppedEarly: r.stoppedEarly, firstLoss: r.losses[0], lastLoss: r.losses[r.losses.length - 1] })),
          provider: choice.provider,
          ...(choice.note ? { providerNote: choice.note } : {}),
        },
      },
      evaluation: {
        // The base set's own figures describe the base, not this set: kept apart, under their name.
        baseModelSetEvaluation: manifest.evaluation ?? null,
        fineTuningValidation: validation
          ? { case: validation!.name, metric: 'lesion Dice on the training grid', folds: results.map((r) => ({ fold: r.fold, before: r.diceBefore ?? null, after: r.diceAfter ?? null })) }
          : null,
      },
    }
  })
  return { set, folds: results, provider: choice.provider }
}
