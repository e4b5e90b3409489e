import { join } from 'node:path'
import { APP_VERSION } from '../appVersion'
import { buildResUnetOnnx } from '../inference/network/buildOnnx'
import { describeResUnet, parameterCount } from '../inference/network/layerDescription'
import { resUnetConfig } from '../inference/network/resUnetConfig'
import { seededInitWeights } from '../inference/network/seededInit'
import { pickArchitecture } from '../inference/modelSet/addModelSet'
import { installModelSet } from '../inference/modelSet/installModelSet'
import { MODEL_SET_FORMAT, SEED_PREPROCESSING, type ModelSetManifest } from '../inference/modelSet/manifest'
import { sha256Of, type InstalledModelSet } from '../inference/modelSet/modelSetRegistry'
import { segmentVolume } from '../inference/segment/segmentVolume'
import { writeFileAtomic } from '../io/atomicWrite'
import { autopetCaseMetrics } from '../metrics/autopetMetrics'
import type { PhantomTracer } from '../demo/anatomy'
import { phantomTrainingSource } from './data/phantomCases'
import { prepareTrainingCase, type TrainingCase } from './data/prepareTrainingCase'
import { DEFAULT_FINE_TUNE, fineTuneFold, type FineTuneProgress, type FineTuneSettings } from './fineTuneFold'

/**
 * The demo model set `npm run train:demo` makes: a small configuration of the paper's ResUNet (same
 * blocks, fewer channels and levels) trained from PyTorch's default initialisation with LesionLab's own
 * training engine on synthetic FDG-like and PSMA-like phantoms, at the phantoms' 4 mm PET spacing.
 * Everything (phantoms, initial weights, patch draws) is seeded, so a run is reproducible; with
 * threads = 1 it is bit for bit.
 */
export const DEMO_MODEL_SET = {
  name: 'LesionLab demo (synthetic phantoms)',
  id: 'lesionlab-demo-synthetic-phantoms',
  config: resUnetConfig({ channels: [8, 16, 32, 64], strides: [2, 2, 2], numResUnits: 2, norm: 'batch' }),
  spacingMm: 4,
  trainingSeeds: [11, 12, 13, 14, 15, 16],
  /** Picks the best step (never trained on, and not reported as held-out either). */
  selection: { tracer: 'FDG', seed: 97 } as { tracer: PhantomTracer; seed: number },
  /** Held out from everything: the Dice the manifest reports. */
  heldOut: [
    { tracer: 'FDG', seed: 99 },
    { tracer: 'PSMA', seed: 98 },
  ] as { tracer: PhantomTracer; seed: number }[],
  settings: {
    ...DEFAULT_FINE_TUNE,
    steps: 1200,
    learningRate: 3e-3,
    patch: 64,
    batch: 2,
    augment: false,
    validateEvery: 100,
    patience: 0,
    seed: 2026,
    threads: 2,
  } satisfies FineTuneSettings,
  initSeed: 1,
  inference: { roiSize: [96, 96, 96] as [number, number, number], overlap: 0.5, blending: 'constant' as const, ensemble: 'mean-logits-sigmoid-argmax' as const },
}

export interface DemoTrainingOptions {
  /** Where the set is created (resources/models for the shipped one). */
  root: string
  steps?: number
  threads?: number
  onProgress?: (p: FineTuneProgress | { message: string }) => void
}

export async function trainDemoModelSet(options: DemoTrainingOptions): Promise<InstalledModelSet> {
  const demo = DEMO_MODEL_SET
  const settings: FineTuneSettings = { ...demo.settings, steps: options.steps ?? demo.settings.steps, threads: options.threads ?? demo.settings.threads }
  const say = (message: string): void => options.onProgress?.({ message })
  const desc = describeResUnet(demo.config)
  say('Making the training phantoms')
  const cases: TrainingCase[] = []
  for (const tracer of ['FDG', 'PSMA'] as const) {
    for (const seed of demo.trainingSeeds) cases.push(prepareTrainingCase(phantomTrainingSource(tracer, seed), demo.spacingMm))
  }
  const validation = prepareTrainingCase(phantomTrainingSource(demo.selection.tracer, demo.selection.seed), demo.spacingMm)
  const result = await fineTuneFold(desc, seededInitWeights(desc, demo.initSeed), cases, validation, settings, 'cpu', { onProgress: options.onProgress })

  const set = await installModelSet(options.root, demo.id, async (tempDir) => {
    const folds: ModelSetManifest['folds'] = []
    for (const variant of ['native', 'subpixel'] as const) {
      const name = variant === 'native' ? 'fold0' : 'fold0-subpixel'
      const bytes = buildResUnetOnnx(desc, { weights: result.weights, convTranspose: variant, batchNormMode: 'inference', weightsSource: 'npm run train:demo', producerVersion: APP_VERSION })
      await writeFileAtomic(join(tempDir, `${name}.onnx`), bytes)
      folds.push({ name, file: `${name}.onnx`, sha256: sha256Of(bytes), convTranspose: variant })
    }
    return {
      format: MODEL_SET_FORMAT,
      name: demo.name,
      version: '1.0.0',
      description:
        'A DEMONSTRATION, NOT FOR CLINICAL OR RESEARCH USE: a small ResUNet (channels 8-16-32-64, one fold) trained by LesionLab ' +
        'on synthetic FDG-like and PSMA-like phantoms only. It shows the segmentation workflow; it has never seen a patient.',
      intendedUse: 'demonstration',
      tracers: ['FDG', 'PSMA'],
      architecture: { kind: 'monai-resunet', ...pickArchitecture(demo.config), parameters: parameterCount(desc) },
      preprocessing: { ...SEED_PREPROCESSING, spacingMm: [demo.spacingMm, demo.spacingMm, demo.spacingMm] },
      inference: demo.inference,
      folds,
      provenance: {
        createdAt: new Date().toISOString(),
        createdBy: `LesionLab ${APP_VERSION} (npm run train:demo, ONNX Runtime CPU)`,
        source: 'trained from PyTorch default initialisation on synthetic phantoms',
        notes: 'Deviations from method.md §5 for a CPU-sized demo: 4 mm voxels, 64^3 patches, batch 2, no augmentation, lr 3e-3.',
        training: {
          phantoms: cases.map((c) => c.name),
          selectionPhantom: validation.name,
          initSeed: demo.initSeed,
          settings,
          stepsRun: result.stepsRun,
          bestStep: result.bestStep,
          firstLoss: result.losses[0],
          lastLoss: result.losses[result.losses.length - 1],
          validations: result.validations,
        },
      },
    }
  })

  say('Measuring Dice on the held-out phantoms')
  const evaluation: Record<string, unknown> = {}
  for (const { tracer, seed } of demo.heldOut) {
    const source = phantomTrainingSource(tracer, seed)
    const outcome = await segmentVolume(
      { ctOnPetGrid: source.ctOnPetGrid as { geometry: typeof source.pet.geometry; voxels: Float32Array }, pet: { geometry: source.pet.geometry, voxels: Float32Array.from(source.pet.voxels) }, modelSet: { dir: set.dir, manifest: set.manifest! }, device: 'cpu', threads: settings.threads },
      () => undefined,
    )
    const m = autopetCaseMetrics(outcome.mask, source.label, source.pet.geometry.dims, source.pet.geometry.spacingMm)
    evaluation[`heldOut${tracer}`] = { phantom: source.name, dsc: round(m.dsc), falsePositiveMl: round(m.fpvMl), falseNegativeMl: round(m.fnvMl), lesions: m.refLesionCount }
  }
  const manifest = {
    ...set.manifest!,
    evaluation: { ...evaluation, note: 'Full LesionLab segmentation on the PET grid of phantoms used neither in training nor to pick the best step (autoPET metrics, method.md §6).' },
  }
  await writeFileAtomic(join(set.dir, 'model.json'), new TextEncoder().encode(JSON.stringify(manifest, null, 2)))
  return { ...set, manifest }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
