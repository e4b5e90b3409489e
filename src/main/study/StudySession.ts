import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { ApiEvents } from '../../shared/api/contract'
import { sameGrid } from '../../shared/geometry'
import type { StudyInfo } from '../../shared/study'
import { InputError } from '../io/InputError'
import { workerPool } from '../workers/WorkerPool'
import { loadDemoStudy } from './demoStudy'
import { loadStudyFromFiles, makeVolumeRecord, type LoadedStudy } from './loadStudy'
import { detectStudyFiles, type StudyFiles } from './studyLayout'
import type { VolumeRecord } from './volumeRecord'

export type EmitEvent = <E extends keyof ApiEvents>(event: E, payload: ApiEvents[E]) => void

/** HU of CT-on-PET-grid voxels outside the CT's field of view (as in autoPET's CTres). */
export const CT_OUTSIDE_HU = -1024

/**
 * The study the user has open, and the derived volumes made for it. One study at a time for now; the
 * cohort work will put several of these behind a project store.
 */
export class StudySession {
  private study: LoadedStudy | null = null
  private ctOnPetGrid: Promise<VolumeRecord> | null = null
  private resampleAbort: AbortController | null = null

  constructor(private readonly emit: EmitEvent) {}

  get current(): StudyInfo | null {
    return this.study?.info ?? null
  }

  async openDemo(tracer: 'FDG' | 'PSMA'): Promise<StudyInfo> {
    return this.adopt(await loadDemoStudy(tracer))
  }

  async openPath(path: string): Promise<StudyInfo> {
    return this.openFiles(await detectStudyFiles(path))
  }

  async openPair(ctPath: string, petPath: string, maskPath?: string): Promise<StudyInfo> {
    return this.openFiles({
      layout: 'CT + PET files',
      name: basename(petPath).replace(/\.nii(\.gz)?$/i, ''),
      ctPath,
      petPath,
      maskPath,
      tracer: 'unknown',
    })
  }

  /**
   * Files dropped in a browser: saved to a private temporary folder, then recognised like a folder
   * (autoPET and nnU-Net names survive). Two NIfTI files with no telling names (e.g. both
   * "image.nii.gz") become a CT + PET pair, the CT being the one with air (values below -500).
   */
  async openUploaded(files: { name: string; bytes: Uint8Array }[]): Promise<StudyInfo> {
    const dir = await mkdtemp(join(tmpdir(), 'lesionlab-upload-'))
    const saved: string[] = []
    for (const f of files) {
      const safe = basename(f.name).replace(/[^\w.\-]/g, '_')
      if (!safe || safe.startsWith('.')) throw new InputError(f.name, 'is not an acceptable file name')
      let name = safe
      for (let n = 2; saved.includes(join(dir, name)); n++) name = `${n}-${safe}`
      await writeFile(join(dir, name), f.bytes)
      saved.push(join(dir, name))
    }
    try {
      return await this.openPath(dir)
    } catch (e) {
      const nifti = saved.filter((p) => /\.nii(\.gz)?$/i.test(p))
      if (nifti.length !== 2 || saved.length !== 2) throw e
      const pair: StudyFiles = { layout: 'dropped CT + PET files', name: 'Dropped study', ctPath: nifti[0], petPath: nifti[1], tracer: 'unknown' }
      return this.adopt(await loadStudyFromFiles(pair, { rolesFromContent: true }))
    }
  }

  getVolume(volumeId: string): Promise<VolumeRecord> {
    const study = this.study
    if (!study) return Promise.reject(new InputError(volumeId, 'no study is open'))
    const record = study.volumes.get(volumeId)
    if (record) return Promise.resolve(record)
    if (volumeId === `${study.info.id}-ctOnPetGrid`) return this.ctOnPetGridVolume()
    return Promise.reject(new InputError(volumeId, 'no such volume in the open study'))
  }

  /** The CT resampled onto the PET grid (trilinear, -1024 HU outside), made once per study in a worker. */
  ctOnPetGridVolume(): Promise<VolumeRecord> {
    const study = this.study
    if (!study) return Promise.reject(new Error('no study is open'))
    if (!this.ctOnPetGrid) {
      const ct = study.volumes.get(study.info.ct.id)!
      const pet = study.volumes.get(study.info.pet.id)!
      if (sameGrid(ct.info.geometry, pet.info.geometry, 0.01)) {
        this.ctOnPetGrid = Promise.resolve(ct)
      } else {
        const taskId = `${study.info.id}-resample-ct`
        const label = 'Resampling CT onto the PET grid'
        this.resampleAbort = new AbortController()
        this.ctOnPetGrid = workerPool
          .run(
            'resampleTrilinear',
            { source: { geometry: ct.info.geometry, voxels: ct.voxels }, target: pet.info.geometry, outsideValue: CT_OUTSIDE_HU },
            {
              signal: this.resampleAbort.signal,
              onProgress: (fraction) => this.emit('progress', { taskId, label, fraction, done: false }),
            },
          )
          .then((voxels) => {
            this.emit('progress', { taskId, label, fraction: 1, done: true })
            return makeVolumeRecord(study.info.id, 'ctOnPetGrid', {
              label: 'CT on PET grid',
              modality: 'CT',
              unit: 'HU',
              geometry: pet.info.geometry,
              voxels,
              source: `${ct.info.source} resampled (trilinear, ${CT_OUTSIDE_HU} HU outside)`,
            })
          })
        this.ctOnPetGrid.catch((e: Error) => this.emit('progress', { taskId, label, fraction: 1, done: true, error: e.message }))
      }
    }
    return this.ctOnPetGrid
  }

  private async openFiles(files: StudyFiles): Promise<StudyInfo> {
    return this.adopt(await loadStudyFromFiles(files))
  }

  private adopt(study: LoadedStudy): StudyInfo {
    this.resampleAbort?.abort()
    this.study = study
    this.ctOnPetGrid = null
    // Start the one-grid CT now so it is ready when statistics or the model ask for it.
    this.ctOnPetGridVolume().catch(() => undefined)
    return study.info
  }
}
