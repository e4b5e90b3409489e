import { workerPool } from '../workers/WorkerPool'
import { assembleStudy, makeVolumeRecord, newStudyId, type LoadedStudy } from './loadStudy'

/**
 * The built-in demo: the project's synthetic whole-body phantom (see src/main/demo), made in a worker
 * so start-up never blocks the event loop.
 */
export async function loadDemoStudy(tracer: 'FDG' | 'PSMA'): Promise<LoadedStudy> {
  const phantom = await workerPool.run('makePhantom', { tracer, scale: 'demo' })
  const studyId = newStudyId()
  const source = `built-in demo (synthetic ${tracer} phantom)`
  const ct = makeVolumeRecord(studyId, 'ct', { label: 'CT', modality: 'CT', unit: 'HU', geometry: phantom.ct.geometry, voxels: phantom.ct.voxels, source })
  const pet = makeVolumeRecord(studyId, 'pet', { label: 'PET', modality: 'PT', unit: 'SUVbw', geometry: phantom.pet.geometry, voxels: phantom.pet.voxels, source })
  const mask = makeVolumeRecord(studyId, 'mask', {
    label: 'Lesions (phantom truth)',
    modality: 'SEG',
    unit: 'label',
    geometry: phantom.mask.geometry,
    voxels: phantom.mask.voxels,
    source,
  })
  return assembleStudy(
    {
      name: `Demo ${tracer} phantom`,
      tracer,
      layout: 'built-in demo',
      ct,
      pet,
      masks: [mask],
      warnings: [],
      extra: { tracerSource: 'name' },
    },
    studyId,
    { kind: 'demo' },
    `demo:${tracer}`,
  )
}
