import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { ApiEvents } from '../../shared/api/contract'
import { sameGrid } from '../../shared/geometry'
import type { StudyInfo } from '../../shared/study'
import { InputError } from '../io/InputError'
import { binaryLabel, type TrainingCaseSource } from '../training/data/prepareTrainingCase'
import { workerPool } from '../workers/WorkerPool'
import { loadDemoStudy } from './demoStudy'
import { loadStudyFromFiles, makeVolumeRecord, type LoadedStudy } from './loadStudy'
import { detectStudyFiles, type StudyFiles } from './studyLayout'
import type { VolumeRecord } from './volumeRecord'
import type { MaskExportResult, SegmentResult } from '../../shared/api/contract'
import type { MaskMeasures } from '../../shared/measures'
import type { ApiParsedArgs, EditResponse } from '../../shared/api/contract'
import type { Vec3 } from '../../shared/geometry'
import type { LesionReview } from '../../shared/study'
import { Correction, loadReview, setLesionReview } from './correction'
import { lesionRow } from '../metrics/measureMask'
import { SUVPEAK_RULE } from '../metrics/lesionStats'
import type { GrowRule } from '../editing/operations/growRegion'

type EditOperation = ApiParsedArgs<'edit.apply'>['op']

/** 41 % of the local SUVmax unless a percentage or an absolute SUV is given. */
function growRule(op: { percent?: number; suv?: number }): GrowRule {
  return op.suv !== undefined ? { kind: 'absolute', suv: op.suv } : { kind: 'percentOfMax', percent: op.percent ?? 41 }
}
import { requireInstalledModelSet } from '../inference/modelSet/modelSetRegistry'
import type { DeviceRequest } from '../inference/segment/executionProvider'
import type { Tracer } from '../../shared/study'
import type { SuvParameters } from '../../shared/suv'
import { stat } from 'node:fs/promises'
import { pickPetAndCt } from '../io/dicom'
import { writeDicomSegFile } from '../io/dicom/seg/writeSeg'
import { writeImageFile } from '../io/readImage'
import { StudySettingsStore } from '../store/studySettingsStore'
import { APP_VERSION } from '../appVersion'
import { computePetSuv } from './petSuv'
import { dicomStudyKey, loadDicomStudy, petVolumeRecord, scanForDicomStudy, type DicomPick, type DicomScan } from './loadDicomStudy'
import type { DicomStudySummary } from '../io/dicom/dicomTypes'

type SegAlgorithmType = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL'

export interface SegmentOptions {
  device: DeviceRequest
  threads?: number
  overlap?: number
  windowSize?: number
  blending?: 'constant' | 'gaussian'
  skipEmptyWindows?: boolean
}

/** Every file the study was read from: exports must never replace one. */
function inputPathsOf(study: LoadedStudy): string[] {
  const s = study.source
  if (s.kind === 'files') return [s.files.ctPath, s.files.petPath, ...(s.files.maskPath ? [s.files.maskPath] : [])]
  // The SEG/RTSTRUCT files the masks were read from are inputs too (a mask's source is its file).
  if (s.kind === 'dicom') return [...s.pet.summary.files, ...(s.ct?.summary.files ?? []), ...study.info.masks.map((m) => m.source)]
  return []
}

/** One segment per label value present, named "Lesion n" (label 1 alone: "Lesions"). */
function segmentsOf(labels: Uint8Array, algorithmType: SegAlgorithmType, algorithmName?: string): { number: number; label: string; algorithmType: SegAlgorithmType; algorithmName?: string }[] {
  const present = new Set<number>()
  for (let i = 0; i < labels.length; i++) if (labels[i]) present.add(labels[i])
  if (present.size === 0) throw new InputError('mask', 'is empty: there is nothing to save as DICOM SEG')
  const numbers = [...present].sort((a, b) => a - b)
  return numbers.map((n) => ({
    number: n,
    label: numbers.length === 1 ? 'Lesions' : `Lesion ${n}`,
    algorithmType,
    algorithmName: algorithmType === 'MANUAL' ? undefined : algorithmName ?? 'LesionLab',
  }))
}

function describeOverrides(o: SuvParameters): string {
  const parts: string[] = []
  if (o.weightKg !== undefined) parts.push(`weight ${o.weightKg} kg`)
  if (o.heightCm !== undefined) parts.push(`height ${o.heightCm} cm`)
  if (o.sex) parts.push(`sex ${o.sex}`)
  if (o.injectedDoseBq !== undefined) parts.push(`dose ${(o.injectedDoseBq / 1e6).toFixed(1)} MBq`)
  if (o.injectionDateTime) parts.push(`injection ${o.injectionDateTime}`)
  if (o.halfLifeS !== undefined) parts.push(`half-life ${(o.halfLifeS / 60).toFixed(1)} min`)
  return parts.join(', ')
}

export type EmitEvent = <E extends keyof ApiEvents>(event: E, payload: ApiEvents[E]) => void

/** HU of CT-on-PET-grid voxels outside the CT's field of view (as in autoPET's CTres). */
export const CT_OUTSIDE_HU = -1024

/**
 * The study the user has open, and the derived volumes made for it. One study at a time for now; the
 * cohort work will put several of these behind a project store.
 */
/** The label of every mask a model set produced: "Automatic (<set> <version>)". */
export const AUTOMATIC_MASK_PREFIX = 'Automatic ('

export class StudySession {
  private study: LoadedStudy | null = null
  private tasks = new Map<string, AbortController>()
  private correction: Correction | null = null
  private ctOnPetGrid: Promise<VolumeRecord> | null = null
  private resampleAbort: AbortController | null = null

  constructor(
    private readonly emit: EmitEvent,
    private readonly settings = new StudySettingsStore(),
  ) {}

  get current(): StudyInfo | null {
    return this.study?.info ?? null
  }

  async openDemo(tracer: 'FDG' | 'PSMA'): Promise<StudyInfo> {
    return this.adopt(await loadDemoStudy(tracer))
  }

  /**
   * A folder or file: NIfTI layouts first (autoPET, nnU-Net, CT/ + PET/), then DICOM (any folder
   * holding a PET series, searched recursively).
   */
  async openPath(path: string, pick: DicomPick = {}): Promise<StudyInfo> {
    let files: StudyFiles
    try {
      files = await detectStudyFiles(path)
    } catch (niftiError) {
      if (!(niftiError instanceof InputError)) throw niftiError
      const dicom = await scanForDicomStudy(path).catch(() => null)
      if (!dicom) throw niftiError
      return this.openDicom(path, dicom, pick)
    }
    return this.openFiles(files)
  }

  private async openDicom(path: string, found: DicomScan, pick: DicomPick): Promise<StudyInfo> {
    const taskId = `dicom-${Date.now()}`
    const studyOf = (uid: string | undefined): DicomStudySummary | undefined => found.all.find((st) => st.series.some((se) => se.seriesInstanceUid === uid))
    // An unknown pick falls back to the automatic PET (loadDicomStudy does the same): load that one's settings.
    const picked = pick.petSeriesUid && studyOf(pick.petSeriesUid) ? pick.petSeriesUid : undefined
    const petUid = picked ?? pickPetAndCt(found.study).pet?.seriesInstanceUid
    const studyUid = (studyOf(petUid) ?? found.study).studyInstanceUid
    const saved = petUid ? await this.settings.load(dicomStudyKey(studyUid, petUid)) : {}
    const study = await loadDicomStudy(path, found, pick, saved.suvOverrides ?? {}, (label, fraction) =>
      this.emit('progress', { taskId, label, fraction, done: false }),
    ).finally(() => this.emit('progress', { taskId, label: 'Reading DICOM', fraction: 1, done: true }))
    if (saved.tracer) {
      study.info.tracer = saved.tracer
      study.info.tracerSource = 'user'
    }
    if (saved.suvOverrides && Object.keys(saved.suvOverrides).length > 0) {
      study.info.warnings.push(`Using your saved SUV corrections (${describeOverrides(saved.suvOverrides)}).`)
    }
    return this.adopt(study)
  }

  /** Correct the SUV inputs of a DICOM PET: re-derive the SUV volume and save the corrections. */
  async setSuvParameters(overrides: SuvParameters): Promise<StudyInfo> {
    const study = this.requireStudy()
    if (study.source.kind !== 'dicom') {
      throw new InputError(study.info.name, 'SUV parameters can only be set for a DICOM PET; NIfTI inputs are taken to be SUV already')
    }
    const suv = computePetSuv(study.source.pet, overrides)
    const pet = petVolumeRecord(study.info.id, study.source.pet, suv)
    study.volumes.delete(study.info.pet.id)
    study.volumes.set(pet.info.id, pet)
    study.info = { ...study.info, pet: pet.info, suv: suv.summary.public }
    const settings = await this.settings.load(study.key)
    await this.settings.save(study.key, { ...settings, suvOverrides: overrides })
    return study.info
  }

  async setTracer(tracer: Tracer): Promise<StudyInfo> {
    const study = this.requireStudy()
    study.info = { ...study.info, tracer, tracerSource: 'user' }
    const settings = await this.settings.load(study.key)
    await this.settings.save(study.key, { ...settings, tracer })
    return study.info
  }

  /**
   * Run a model set on the open study. The result becomes the study's automatic mask (replacing an
   * earlier automatic one; masks the user made are untouched). Progress and cancellation go by taskId.
   */
  async segment(modelSetId: string, options: SegmentOptions, taskId: string): Promise<SegmentResult> {
    const study = this.requireStudy()
    if (!study.info.ct) throw new InputError(study.info.name, 'the model needs a CT as well as the PET; this study has no CT')
    if (study.info.pet.unit !== 'SUVbw') {
      throw new InputError(study.info.name, 'the PET is not in SUV (see the SUV panel): the model expects SUVbw')
    }
    const set = await requireInstalledModelSet(modelSetId)
    const label = `Segmenting with ${set.manifest.name}`
    const abort = new AbortController()
    this.tasks.set(taskId, abort)
    const started = performance.now()
    try {
      const ct = await this.ctOnPetGridVolume()
      const pet = study.volumes.get(study.info.pet.id)!
      const outcome = await workerPool.run(
        'segment',
        {
          ctOnPetGrid: { geometry: ct.info.geometry, voxels: ct.voxels as Float32Array },
          pet: { geometry: pet.info.geometry, voxels: pet.voxels as Float32Array },
          modelSet: { dir: set.dir, manifest: set.manifest },
          ...options,
        },
        { signal: abort.signal, onProgress: (fraction, message) => this.emit('progress', { taskId, label: message ?? label, fraction, done: false }) },
      )
      if (this.study !== study) throw new InputError(study.info.name, 'the study was closed while it was being segmented')
      const record = makeVolumeRecord(study.info.id, 'mask', {
        label: `${AUTOMATIC_MASK_PREFIX}${set.manifest.name} ${set.manifest.version})`,
        modality: 'SEG',
        unit: 'label',
        geometry: study.info.pet.geometry,
        voxels: outcome.mask,
        source: `${set.dir} on ${outcome.provider}`,
      })
      // One automatic mask per model set: a second set's result sits next to the first for comparison.
      const previous = study.info.masks.filter((m) => m.label === record.info.label)
      for (const m of previous) study.volumes.delete(m.id)
      study.volumes.set(record.info.id, record)
      study.info = { ...study.info, masks: [...study.info.masks.filter((m) => !previous.includes(m)), record.info] }
      return {
        study: study.info,
        maskVolumeId: record.info.id,
        provider: outcome.provider,
        providerNote: outcome.providerNote,
        seconds: (performance.now() - started) / 1000,
      }
    } finally {
      this.tasks.delete(taskId)
      this.emit('progress', { taskId, label, fraction: 1, done: true })
    }
  }

  /**
   * The open study as a fine-tuning case: CT on the PET grid, SUV, and its corrected mask (the working
   * correction when there is one, else the newest mask).
   */
  async trainingSource(): Promise<TrainingCaseSource & { reviewState: string }> {
    const study = this.requireStudy()
    if (!study.info.ct) throw new InputError(study.info.name, 'fine-tuning needs a CT as well as the PET')
    if (study.info.pet.unit !== 'SUVbw') throw new InputError(study.info.name, 'the PET is not in SUV (see the SUV panel)')
    // Never a model's own output: learning from it would teach the model nothing but its mistakes.
    const maskInfo =
      study.info.masks.find((m) => m.id === study.info.workingMaskId) ??
      [...study.info.masks].reverse().find((m) => !m.label.startsWith(AUTOMATIC_MASK_PREFIX))
    if (!maskInfo) throw new InputError(study.info.name, 'has no corrected mask to learn from: correct the automatic result (or load a reference mask) first')
    const ct = await this.ctOnPetGridVolume()
    const pet = study.volumes.get(study.info.pet.id)!
    return {
      name: `${study.info.name} (${maskInfo.label})`,
      ctOnPetGrid: { geometry: ct.info.geometry, voxels: ct.voxels as Float32Array },
      pet: { geometry: pet.info.geometry, voxels: pet.voxels as Float32Array },
      label: binaryLabel(study.volumes.get(maskInfo.id)!.voxels),
      reviewState: study.info.review?.state ?? 'unreviewed',
    }
  }

  /** Lesion table, patient measures, and the autoPET metrics against a second mask, in a worker. */
  async measures(maskVolumeId: string, referenceVolumeId: string | undefined, connectivity: 6 | 18 | 26): Promise<MaskMeasures> {
    const study = this.requireStudy()
    const mask = study.volumes.get(maskVolumeId)
    if (!mask || mask.info.role !== 'mask') throw new InputError(maskVolumeId, 'is not a mask of the open study')
    const reference = referenceVolumeId ? study.volumes.get(referenceVolumeId) : undefined
    if (referenceVolumeId && (!reference || reference.info.role !== 'mask')) throw new InputError(referenceVolumeId, 'is not a mask of the open study')
    const pet = study.volumes.get(study.info.pet.id)!
    const started = performance.now()
    // The working correction's measures are kept up to date incrementally by its editor (only the
    // lesions an edit touched are recomputed); the rest is measured from scratch in a worker.
    const editor = this.correction?.volumeId === maskVolumeId && connectivity === 18 ? this.correction.editor : null
    if (editor && !reference) {
      return { maskVolumeId, connectivity, lesions: editor.lesions().map(lesionRow), patient: editor.patient(), suvPeakRule: SUVPEAK_RULE, seconds: (performance.now() - started) / 1000 }
    }
    const result = await workerPool.run('measureMask', {
      lesionMeasures: !editor,
      mask: mask.voxels as Uint8Array,
      geometry: mask.info.geometry,
      pet: study.info.pet.unit === 'SUVbw' ? (pet.voxels as Float32Array) : undefined,
      connectivity,
      sulPerSuvbw: study.info.suv?.alternatives?.sulJamesPerSuvbw,
      reference: reference ? { voxels: reference.voxels as Uint8Array, label: reference.info.label } : undefined,
    })
    if (editor) return { ...result, lesions: editor.lesions().map(lesionRow), patient: editor.patient(), maskVolumeId, seconds: (performance.now() - started) / 1000 }
    return { ...result, maskVolumeId, seconds: (performance.now() - started) / 1000 }
  }

  /** Begin correcting (a journaled working copy of the automatic mask, or of the mask given). */
  async startEditing(baseVolumeId: string | undefined): Promise<StudyInfo> {
    const study = this.requireStudy()
    if (!this.correction) this.correction = await Correction.start(study, baseVolumeId)
    return study.info
  }

  async applyEdit(op: EditOperation): Promise<EditResponse | null> {
    const c = this.requireCorrection()
    const rule = op.kind === 'growPreview' || op.kind === 'growAccept' ? growRule(op) : undefined
    switch (op.kind) {
      case 'brush':
        return c.response(await c.editor.brushStroke(op.centresLps, op.radiusMm, { shape: op.shape, planeNormalAxis: op.planeNormalAxis, erase: op.erase, suvAbove: op.suvAbove }))
      case 'brushPreview': {
        const voxels = c.editor.brushVoxels(op.centreLps, op.radiusMm, { shape: op.shape, planeNormalAxis: op.planeNormalAxis, suvAbove: op.suvAbove })
        return { volumeId: c.volumeId, runs: new Int32Array(0), after: new Uint8Array(0), preview: { voxels, thresholdSuv: op.suvAbove ?? 0, localMaxSuv: 0, truncated: false } }
      }
      case 'growPreview': {
        const preview = c.editor.growPreview(op.pointLps, rule!)
        if (!preview) return null
        return { volumeId: c.volumeId, runs: new Int32Array(0), after: new Uint8Array(0), preview: { voxels: preview.voxels, thresholdSuv: preview.thresholdSuv, localMaxSuv: preview.localMaxSuv, truncated: preview.truncated } }
      }
      case 'growAccept':
        return c.response(await c.editor.growAccept(op.pointLps, rule!))
      case 'deleteAt':
        return c.response(await c.editor.deleteLesionAt(op.pointLps))
      case 'splitAt':
        return c.response(await c.editor.splitAt(op.pointALps, op.pointBLps))
      case 'mergeAt':
        return c.response(await c.editor.mergeAt(op.pointALps, op.pointBLps))
      case 'scissorsCircle':
        return c.response(
          await c.editor.scissors({ shape: 'circle', centreLps: op.centreLps, radiusMm: op.radiusMm, planeNormalAxis: op.planeNormalAxis, mode: op.mode, slices: op.allSlices ? 'all' : 'slice' }),
        )
      case 'scissors':
        return c.response(
          await c.editor.scissors({ shape: 'rectangle', cornerALps: op.cornerALps, cornerBLps: op.cornerBLps, planeNormalAxis: op.planeNormalAxis, mode: op.mode, slices: op.allSlices ? 'all' : 'slice' }),
        )
    }
  }

  async undoEdit(): Promise<EditResponse | null> {
    const c = this.requireCorrection()
    return c.response(await c.editor.undo())
  }

  async redoEdit(): Promise<EditResponse | null> {
    const c = this.requireCorrection()
    return c.response(await c.editor.redo())
  }

  async saveEdits(): Promise<{ version: number }> {
    const c = this.requireCorrection()
    return { version: await c.editor.saveVersion({ savedBy: 'LesionLab', studyName: this.requireStudy().info.name }) }
  }

  /** Accept or reject a lesion of the working mask (rejecting removes it from the mask). */
  async reviewLesion(pointLps: Vec3, state: LesionReview['state']): Promise<{ lesionReviews: LesionReview[]; edit: EditResponse | null }> {
    const study = this.requireStudy()
    const c = this.requireCorrection()
    const edit = state === 'rejected' ? c.response(await c.editor.deleteLesionAt(pointLps)) : null
    const review = await loadReview(this.settings, study.key)
    const tolerance = Math.max(...study.info.pet.geometry.spacingMm)
    const lesions = setLesionReview(review.lesions, pointLps, state, tolerance)
    await this.saveReview(study, { ...review, lesions, state: review.state === 'unreviewed' ? 'in progress' : review.state })
    return { lesionReviews: lesions, edit }
  }

  async reviewStudy(state: 'unreviewed' | 'in progress' | 'done', comment: string): Promise<StudyInfo> {
    const study = this.requireStudy()
    const review = await loadReview(this.settings, study.key)
    await this.saveReview(study, { ...review, state, comment })
    return study.info
  }

  private async saveReview(study: LoadedStudy, review: NonNullable<StudyInfo['review']>): Promise<void> {
    const settings = await this.settings.load(study.key)
    await this.settings.save(study.key, { ...settings, review })
    study.info = { ...study.info, review }
  }

  private requireCorrection(): Correction {
    this.requireStudy()
    if (!this.correction) throw new InputError('study', 'no correction has been started: start editing first')
    return this.correction
  }

  cancelTask(taskId: string): boolean {
    const task = this.tasks.get(taskId)
    task?.abort()
    return !!task
  }

  /** Save a mask: NIfTI/MHA on exactly the PET grid, or a DICOM SEG referencing the source PET. */
  async exportMask(volumeId: string, path: string, format: 'nifti' | 'mha' | 'dicom-seg', algorithmTypeChoice?: SegAlgorithmType): Promise<MaskExportResult> {
    const study = this.requireStudy()
    const mask = study.volumes.get(volumeId)
    if (!mask || mask.info.role !== 'mask') throw new InputError(volumeId, 'is not a mask of the open study')
    // A model's output is AUTOMATIC; masks read from files are taken as a person's work unless told.
    const automatic = mask.info.label.startsWith('Automatic (')
    const algorithmType = algorithmTypeChoice ?? (automatic ? 'AUTOMATIC' : 'MANUAL')
    const labels = mask.voxels as Uint8Array
    const protectedPaths = inputPathsOf(study)
    if (protectedPaths.includes(path)) throw new InputError(path, 'is one of the study\'s input files; choose another name')
    if (format === 'dicom-seg') {
      if (study.source.kind !== 'dicom') {
        throw new InputError(path, 'a DICOM SEG must reference a DICOM PET; this study was read from NIfTI. Save as NIfTI or MHA instead')
      }
      await writeDicomSegFile(path, {
        labels,
        source: study.source.pet,
        segments: segmentsOf(labels, algorithmType, automatic ? mask.info.label.slice('Automatic ('.length, -1) : undefined),
        seriesDescription: `LesionLab ${mask.info.label}`,
        software: { name: 'LesionLab', version: APP_VERSION },
      })
    } else {
      await writeImageFile(path, study.info.pet.geometry, labels, { protectedPaths, description: `LesionLab mask: ${mask.info.label}` })
    }
    return { path, format, bytes: (await stat(path)).size }
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
    if (!study.info.ct) return Promise.reject(new InputError(study.info.name, 'this study has no CT'))
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

  private requireStudy(): LoadedStudy {
    if (!this.study) throw new InputError('study', 'no study is open')
    return this.study
  }

  private async openFiles(files: StudyFiles): Promise<StudyInfo> {
    return this.adopt(await loadStudyFromFiles(files))
  }

  private async adopt(study: LoadedStudy): Promise<StudyInfo> {
    this.resampleAbort?.abort()
    const previous = this.correction
    this.correction = null
    await previous?.close()
    this.study = study
    this.ctOnPetGrid = null
    // Start the one-grid CT now so it is ready when statistics or the model ask for it.
    if (study.info.ct) this.ctOnPetGridVolume().catch(() => undefined)
    // A correction left on disk (another session, or a crash) comes back as it was.
    this.correction = await Correction.resume(study)
    if (this.correction && this.correction.editor.replay.tornTailBytes > 0) {
      study.info.warnings.push('The app stopped during an edit; that last stroke was not saved. Everything before it was restored.')
    }
    study.info = { ...study.info, review: await loadReview(this.settings, study.key) }
    return study.info
  }

}
