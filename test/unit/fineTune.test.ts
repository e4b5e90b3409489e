import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { describeResUnet } from '../../src/main/inference/network/layerDescription'
import { resUnetConfig } from '../../src/main/inference/network/resUnetConfig'
import { seededInitWeights } from '../../src/main/inference/network/seededInit'
import { readModelSet } from '../../src/main/inference/modelSet/modelSetRegistry'
import { installModelSet } from '../../src/main/inference/modelSet/installModelSet'
import { phantomTrainingSource } from '../../src/main/training/data/phantomCases'
import { prepareTrainingCase } from '../../src/main/training/data/prepareTrainingCase'
import { DEMO_MODEL_SET } from '../../src/main/training/demoModelSet'
import { DEFAULT_FINE_TUNE, fineTuneFold } from '../../src/main/training/fineTuneFold'
import { fineTuneModelSet } from '../../src/main/training/fineTuneModelSet'
import { cosineLearningRate } from '../../src/main/training/schedule'
import { chooseTrainingProvider } from '../../src/main/training/engine/trainingProvider'
import { TaskCancelledError } from '../../src/main/workers/WorkerPool'
import { makeTempDir, REPO_ROOT, STS_001 } from './helpers/data'

const SHIPPED_DEMO = join(REPO_ROOT, 'resources', 'models', DEMO_MODEL_SET.id)
const temp = makeTempDir('lesionlab-finetune-')
afterAll(() => temp.cleanup())

/** sha256 of every file in a folder, by name. */
function folderHashes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]))
}

describe('fine-tuning', () => {
  it('the cosine schedule starts at the peak and anneals to (almost) 0', () => {
    expect(cosineLearningRate(1e-3, 0, 100)).toBe(1e-3)
    expect(cosineLearningRate(1e-3, 50, 100)).toBeCloseTo(5e-4, 12)
    expect(cosineLearningRate(1e-3, 99, 100)).toBeLessThan(1e-6)
  })

  it('uses a GPU provider for training only after its gradients agree with the CPU; here it falls back with the reason', async () => {
    const choice = await chooseTrainingProvider('webgpu', 1)
    if (choice.provider === 'webgpu') {
      expect(choice.needsSubpixelGraph).toBe(true) // a machine with a working WebGPU adapter
    } else {
      expect(choice.provider).toBe('cpu')
      expect(choice.note).toMatch(/webgpu: (not available for training|its gradients differ)/)
    }
  })

  it('learns lesions on phantoms: held-out validation Dice rises clearly from the untrained network', async () => {
    const spacing = 4
    const cases = [phantomTrainingSource('FDG', 21), phantomTrainingSource('PSMA', 21)].map((s) => prepareTrainingCase(s, spacing))
    const validation = prepareTrainingCase(phantomTrainingSource('FDG', 97), spacing)
    expect(validation.lesionVoxels).toBeGreaterThan(100)
    const desc = describeResUnet(resUnetConfig({ channels: [8, 16, 32], numResUnits: 1 }))
    const result = await fineTuneFold(
      desc,
      seededInitWeights(desc, 1),
      cases,
      validation,
      { ...DEFAULT_FINE_TUNE, steps: 160, learningRate: 3e-3, patch: 48, batch: 2, augment: false, validateEvery: 40, seed: 5, threads: 2 },
      'cpu',
    )
    expect(result.diceBefore).toBeLessThan(0.05)
    expect(result.diceAfter).toBeGreaterThan(0.3)
    expect(result.validations.length).toBeGreaterThanOrEqual(4)
    // The kept state is the best validation, not merely the last.
    expect(result.diceAfter).toBe(Math.max(...result.validations.map((v) => v.dice)))
  }, 240_000)

  it('refuses bad training input up front: NaN voxels (named), a taken set name, a lesion-free validation case (before any training)', async () => {
    const source = phantomTrainingSource('FDG', 41, 'small')
    const pet = Float32Array.from(source.pet.voxels)
    pet[1234] = NaN
    expect(() => prepareTrainingCase({ ...source, pet: { ...source.pet, voxels: pet } }, 8)).toThrow(/phantom FDG seed 41: the PET has 1 voxel\(s\) that are not numbers/)
    const base = await readModelSet(SHIPPED_DEMO, DEMO_MODEL_SET.id, 'shipped')
    const root = join(temp.dir, 'taken-models')
    mkdirSync(join(root, 'taken-set'), { recursive: true })
    let trained = false
    const attempt = (outName: string, validation?: typeof source) =>
      fineTuneModelSet(
        { base, outName, cases: [source], validation, settings: { ...DEFAULT_FINE_TUNE, steps: 5, patch: 32, batch: 1 }, device: 'cpu', root },
        { onProgress: (p) => (trained ||= p.step !== undefined) },
      )
    await expect(attempt('Taken set')).rejects.toThrow(/"taken-set" exists already/)
    // A shipped set's id is taken too: the new set would hide behind it.
    await expect(attempt(DEMO_MODEL_SET.id)).rejects.toThrow(/exists already/)
    // A validation case without lesions has no Dice to choose the best state by.
    const empty = { ...source, name: 'lesion-free case', label: new Uint8Array(source.label.length) }
    await expect(attempt('fresh-name', empty)).rejects.toThrow(/lesion-free case has no lesion/)
    expect(trained).toBe(false)
    expect(readdirSync(root)).toEqual(['taken-set'])
  })

  it('keeps a finished set when its name was taken while it was being made: the next free name is used', async () => {
    const root = join(temp.dir, 'race-models')
    const base = await readModelSet(SHIPPED_DEMO, DEMO_MODEL_SET.id, 'shipped')
    const set = await installModelSet(root, 'Raced', async (tempDir) => {
      mkdirSync(join(root, 'raced')) // another process takes the name meanwhile
      writeFileSync(join(tempDir, 'fold0.onnx'), readFileSync(join(SHIPPED_DEMO, 'fold0.onnx')))
      return { ...base.manifest!, name: 'Raced', folds: base.manifest!.folds.filter((f) => f.name === 'fold0') }
    })
    expect(set.id).toBe('raced-2')
    expect(set.problem).toBeUndefined()
    expect(readdirSync(root).sort()).toEqual(['raced', 'raced-2'])
  })

  it('a cancelled run leaves no model set behind and the base set untouched', async () => {
    const root = join(temp.dir, 'cancel-models')
    const base = await readModelSet(SHIPPED_DEMO, DEMO_MODEL_SET.id, 'shipped')
    const before = folderHashes(SHIPPED_DEMO)
    const abort = new AbortController()
    const run = fineTuneModelSet(
      {
        base,
        outName: 'never-finished',
        cases: [phantomTrainingSource('PSMA', 31)],
        settings: { ...DEFAULT_FINE_TUNE, steps: 1000, patch: 32, batch: 1, threads: 1 },
        device: 'cpu',
        root,
      },
      { signal: abort.signal, onProgress: (p) => p.step === 2 && abort.abort() },
    )
    await expect(run).rejects.toBeInstanceOf(TaskCancelledError)
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([])
    expect(folderHashes(SHIPPED_DEMO)).toEqual(before)
  }, 120_000)
})

/** `node bin/lesionlab.mjs ...args` with its own data folder. */
function lesionlab(args: string[], dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/lesionlab.mjs', ...args], { cwd: REPO_ROOT, timeout: 300_000, env: { ...process.env, LESIONLAB_DATA_DIR: dataDir } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr })
    })
  })
}

describe('lesionlab train on a real corrected case', () => {
  it(
    'raises Dice on STS_001 (FDG, real) and writes a new set with provenance while the shipped set stays byte-identical',
    async () => {
      const before = folderHashes(SHIPPED_DEMO)
      const dataDir = join(temp.dir, 'cli-data')
      const run = await lesionlab(
        ['train', '--models', SHIPPED_DEMO, '--cases', STS_001, '--validation', STS_001, '--out', 'sts-tuned', '--steps', '40', '--lr', '1e-3', '--patch', '32', '--batch', '2', '--validate-every', '10', '--no-augment', '--device', 'cpu', '--threads', '2', '--json'],
        dataDir,
      )
      expect(run.stderr + run.stdout).not.toMatch(/Error/)
      expect(run.code).toBe(0)
      const summary = JSON.parse(run.stdout) as { modelSet: string; dir: string; folds: { diceBefore: number; diceAfter: number; stepsRun: number }[] }
      expect(summary.modelSet).toBe('sts-tuned')
      expect(summary.folds).toHaveLength(1)
      const [fold] = summary.folds
      expect(fold.stepsRun).toBe(40)
      expect(fold.diceAfter).toBeGreaterThan(fold.diceBefore + 0.1)
      const manifest = JSON.parse(readFileSync(join(summary.dir, 'model.json'), 'utf8'))
      expect(manifest.provenance.baseModelSet).toContain(DEMO_MODEL_SET.id)
      expect(manifest.provenance.fineTuning.cases).toHaveLength(1)
      expect(manifest.evaluation.fineTuningValidation.folds[0].after).toBeCloseTo(fold.diceAfter, 6)
      expect(folderHashes(SHIPPED_DEMO)).toEqual(before)
      // The new set is a usable model set.
      expect((await readModelSet(summary.dir, 'sts-tuned', 'user')).problem).toBeUndefined()
    },
    300_000,
  )
})
