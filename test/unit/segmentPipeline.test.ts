import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VolumeGeometry } from '../../src/shared/geometry'
import { indexToWorld, sameGrid } from '../../src/shared/geometry'
import type { SegmentResult, VolumePayload } from '../../src/shared/api/contract'
import { createAppServices, type AppServices } from '../../src/main/api/createAppServices'
import { writeNiftiFile } from '../../src/main/io/nifti/writeNifti'
import { readImageFile } from '../../src/main/io/readImage'
import { buildResUnetOnnx } from '../../src/main/inference/network/buildOnnx'
import { describeResUnet } from '../../src/main/inference/network/layerDescription'
import { resUnetConfig } from '../../src/main/inference/network/resUnetConfig'
import { addModelSetFromFiles } from '../../src/main/inference/modelSet/addModelSet'
import { DispatchError } from '../../src/main/api/dispatch'
import { workerPool } from '../../src/main/workers/WorkerPool'
import { main as cli } from '../../src/main/cli/main'
import { makeTempDir } from './helpers/data'

/**
 * The whole inference path on a small synthetic study with a tiny network: open, segment through the
 * API (worker, provider check, sliding window, ensemble of two folds, inverse mapping), cancel, and the
 * command line. Random weights: this checks the plumbing and the grids, not segmentation quality.
 */
const tmp = makeTempDir('lesionlab-segment-')
const dataDir = join(tmp.dir, 'appdata')
const TINY = resUnetConfig({ channels: [4, 8], strides: [2], numResUnits: 1 })
let services: AppServices
let petGeometry: VolumeGeometry

beforeAll(async () => {
  process.env.LESIONLAB_DATA_DIR = dataDir
  // A 40 x 36 x 30 PET at 4 mm (LPS, identity) and a CT on a finer, shifted grid: body, lungs, a hot sphere.
  petGeometry = { dims: [40, 36, 30], spacingMm: [4, 4, 4], originLps: [-80, -72, -60], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
  const ctGeometry: VolumeGeometry = { dims: [80, 72, 58], spacingMm: [2, 2, 2.1], originLps: [-79, -71, -59], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
  const inBody = (p: number[]): boolean => (p[0] / 70) ** 2 + (p[1] / 60) ** 2 < 1
  const pet = new Float32Array(40 * 36 * 30)
  for (let k = 0, i = 0; k < 30; k++) for (let y = 0; y < 36; y++) for (let x = 0; x < 40; x++, i++) {
    const p = indexToWorld(petGeometry, [x, y, k])
    pet[i] = inBody(p) ? (Math.hypot(p[0] - 20, p[1], p[2]) < 12 ? 12 : 1) : 0
  }
  const ct = new Int16Array(80 * 72 * 58)
  for (let k = 0, i = 0; k < 58; k++) for (let y = 0; y < 72; y++) for (let x = 0; x < 80; x++, i++) {
    ct[i] = inBody(indexToWorld(ctGeometry, [x, y, k])) ? 40 : -1000
  }
  const study = join(tmp.dir, 'fdg_tiny_case')
  mkdirSync(study)
  await writeNiftiFile(join(study, 'CTres.nii.gz'), ctGeometry, ct)
  await writeNiftiFile(join(study, 'SUV.nii.gz'), petGeometry, pet)
  // Two "folds" of the tiny network with different random weights, added as a user model set.
  const folds = [1, 2].map((seed) => {
    const file = join(tmp.dir, `fold${seed}.onnx`)
    writeFileSync(file, buildResUnetOnnx(describeResUnet(TINY), { convTranspose: 'native', batchNormMode: 'inference', seed }))
    return file
  })
  await expect(addModelSetFromFiles(folds, { name: 'random refused', config: TINY })).rejects.toThrow(/randomly initialised/)
  await addModelSetFromFiles(folds, { name: 'tiny test set', config: TINY, intendedUse: 'demonstration', tracers: ['FDG'], allowUntrained: true })
  services = createAppServices({ transport: 'websocket' })
  await services.dispatch('study.open', { path: study })
})

afterAll(async () => {
  delete process.env.LESIONLAB_DATA_DIR
  tmp.cleanup()
})

describe('segmentation through the API', () => {
  it('lists the added model set (and no broken ones)', async () => {
    const listing = (await services.dispatch('models.list', {})) as { sets: { id: string; folds: number; problem?: string; intendedUse: string }[] }
    const set = listing.sets.find((s) => s.id === 'tiny-test-set')
    expect(set).toBeDefined()
    expect(set!.problem).toBeUndefined()
    expect(set!.folds).toBe(2)
    expect(set!.intendedUse).toBe('demonstration')
  })

  it('segments the open study on the CPU: a uint8 mask exactly on the PET grid becomes the automatic mask', async () => {
    const events: { fraction: number; label: string }[] = []
    services.setEventSink((event, payload) => {
      if (event === 'progress' && (payload as { taskId: string }).taskId === 'seg-1') events.push(payload as { fraction: number; label: string })
    })
    const result = (await services.dispatch('study.segment', { modelSetId: 'tiny-test-set', device: 'cpu', threads: 1, taskId: 'seg-1' })) as SegmentResult
    expect(result.provider).toBe('cpu')
    const auto = result.study.masks.find((m) => m.id === result.maskVolumeId)!
    expect(auto.label).toMatch(/^Automatic \(tiny test set/)
    expect(sameGrid(auto.geometry, petGeometry, 1e-4)).toBe(true)
    const mask = (await services.dispatch('volume.get', { volumeId: result.maskVolumeId })) as VolumePayload
    expect(mask.voxels).toBeInstanceOf(Uint8Array)
    expect(mask.voxels.length).toBe(40 * 36 * 30)
    expect(mask.voxels.every((v) => v === 0 || v === 1)).toBe(true)
    // Progress named both folds and ended done.
    expect(events.some((e) => /Fold 1 of 2/.test(e.label))).toBe(true)
    expect(events.some((e) => /Fold 2 of 2/.test(e.label))).toBe(true)
    // A second run replaces the automatic mask instead of piling up.
    const again = (await services.dispatch('study.segment', { modelSetId: 'tiny-test-set', device: 'cpu', threads: 1 })) as SegmentResult
    expect(again.study.masks.filter((m) => m.label.startsWith('Automatic (')).length).toBe(1)
  })

  it('a running segmentation can be cancelled, and the study stays usable', async () => {
    const running = services.dispatch('study.segment', { modelSetId: 'tiny-test-set', device: 'cpu', threads: 1, taskId: 'seg-cancel' })
    await new Promise((r) => setTimeout(r, 300))
    expect(await services.dispatch('task.cancel', { taskId: 'seg-cancel' })).toEqual({ cancelled: true })
    await expect(running).rejects.toSatisfy((e: unknown) => e instanceof DispatchError && e.payload.kind === 'cancelled')
    const result = (await services.dispatch('study.segment', { modelSetId: 'tiny-test-set', device: 'cpu', threads: 1 })) as SegmentResult
    expect(result.maskVolumeId).toBeTruthy()
  })

  it('an unknown model set or a study without CT is refused with a clear input error', async () => {
    await expect(services.dispatch('study.segment', { modelSetId: 'nope', device: 'cpu' })).rejects.toSatisfy(
      (e: unknown) => e instanceof DispatchError && e.payload.kind === 'input' && /no such model set/.test(e.payload.message),
    )
  })

  it('end to end on the built-in phantom: the pipeline runs on the whole-body demo and its output lands on the PET grid', async () => {
    const oneFold = join(tmp.dir, 'one-fold.onnx')
    writeFileSync(oneFold, buildResUnetOnnx(describeResUnet(TINY), { convTranspose: 'native', batchNormMode: 'inference', seed: 3 }))
    await addModelSetFromFiles([oneFold], { name: 'tiny one fold', config: TINY, intendedUse: 'demonstration', tracers: ['FDG'], allowUntrained: true })
    const demo = (await services.dispatch('study.openDemo', { tracer: 'FDG' })) as { pet: { geometry: VolumeGeometry } }
    const result = (await services.dispatch('study.segment', { modelSetId: 'tiny-one-fold', device: 'cpu', threads: 2 })) as SegmentResult
    const auto = result.study.masks.find((m) => m.id === result.maskVolumeId)!
    expect(sameGrid(auto.geometry, demo.pet.geometry, 1e-4)).toBe(true)
    const mask = (await services.dispatch('volume.get', { volumeId: result.maskVolumeId })) as VolumePayload
    expect(mask.voxels.length).toBe(demo.pet.geometry.dims[0] * demo.pet.geometry.dims[1] * demo.pet.geometry.dims[2])
    expect(mask.voxels.every((v) => v === 0 || v === 1)).toBe(true)
    expect(result.seconds).toBeGreaterThan(0)
  })

  it('the command line segments the same study into a NIfTI on the PET grid', async () => {
    const out = join(tmp.dir, 'cli-mask.nii.gz')
    const code = await cli(['segment', '--ct', join(tmp.dir, 'fdg_tiny_case/CTres.nii.gz'), '--pet', join(tmp.dir, 'fdg_tiny_case/SUV.nii.gz'), '--models', 'tiny-test-set', '--device', 'cpu', '--threads', '1', '--out', out])
    expect(code).toBe(0)
    const written = await readImageFile(out)
    expect(sameGrid(written.geometry, petGeometry, 1e-3)).toBe(true)
    expect(written.voxels).toBeInstanceOf(Uint8Array)
  })
})

afterAll(async () => {
  await workerPool.close()
})
