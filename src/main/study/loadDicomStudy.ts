import { dirname } from 'node:path'
import { stat } from 'node:fs/promises'
import type { DicomSeriesInfo, DicomStudyChoice, Tracer } from '../../shared/study'
import type { SuvParameters, SuvSummary } from '../../shared/suv'
import { InputError } from '../io/InputError'
import type { DicomImageSeries, DicomSeriesSummary, DicomStudySummary } from '../io/dicom/dicomTypes'
import { pickPetAndCt, scanDicom } from '../io/dicom'
import { readDicomSegFile } from '../io/dicom/seg/readSeg'
import { readRtstructFile } from '../io/dicom/rtstruct/readRtstruct'
import { computePetSuv, type PetSuv } from './petSuv'
import { workerPool } from '../workers/WorkerPool'
import { assembleStudy, makeVolumeRecord, newStudyId, type LoadedStudy } from './loadStudy'
import type { VolumeRecord } from './volumeRecord'

export interface DicomPick {
  petSeriesUid?: string
  ctSeriesUid?: string
}

export interface DicomScan {
  /** The first study with a PET series. */
  study: DicomStudySummary
  all: DicomStudySummary[]
}

/** The DICOM studies under a folder (or beside a file), or null when none holds a PET series. */
export async function scanForDicomStudy(path: string): Promise<DicomScan | null> {
  const s = await stat(path).catch(() => null)
  if (!s) throw new InputError(path, 'no such file or folder')
  const { studies } = await scanDicom([s.isDirectory() ? path : dirname(path)])
  const withPet = studies.filter((st) => st.series.some((se) => se.modality === 'PT'))
  if (withPet.length === 0) return null
  return { study: withPet[0], all: studies }
}

/**
 * Open a DICOM PET (and CT) study: pick the series (or take the user's pick), read them in a worker,
 * convert the PET to SUVbw exactly (see petSuv.ts; corrections the user saved are applied), and load
 * any SEG or RTSTRUCT of the same frame of reference as masks on the PET grid.
 */
export async function loadDicomStudy(
  path: string,
  found: DicomScan,
  pick: DicomPick,
  suvOverrides: SuvParameters,
  onProgress?: (label: string, fraction: number) => void,
): Promise<LoadedStudy> {
  const study = pick.petSeriesUid
    ? found.all.find((st) => st.series.some((se) => se.seriesInstanceUid === pick.petSeriesUid)) ?? found.study
    : found.study
  const auto = pickPetAndCt(study)
  const petSummary = study.series.find((se) => se.seriesInstanceUid === pick.petSeriesUid) ?? auto.pet
  if (!petSummary || petSummary.modality !== 'PT') throw new InputError(path, 'the chosen PET series is not a PET (modality PT) series')
  const ctSummary = pick.ctSeriesUid ? study.series.find((se) => se.seriesInstanceUid === pick.ctSeriesUid) : auto.ct

  const readSeries = (series: DicomSeriesSummary, label: string): Promise<DicomImageSeries> =>
    workerPool.run('readDicomSeries', { series }, { onProgress: (f) => onProgress?.(label, f) })
  const [pet, ct] = await Promise.all([
    readSeries(petSummary, `Reading PET series "${petSummary.seriesDescription}"`),
    ctSummary ? readSeries(ctSummary, `Reading CT series "${ctSummary.seriesDescription}"`) : Promise.resolve(undefined),
  ])
  const warnings = [...pet.warnings, ...(ct?.warnings ?? [])]
  if (pick.petSeriesUid && pick.petSeriesUid !== petSummary.seriesInstanceUid) {
    warnings.push(`There is no series ${pick.petSeriesUid} in ${path}; the PET series "${petSummary.seriesDescription}" is shown instead.`)
  }
  if (ct && pet.summary.patientId && ct.summary.patientId && pet.summary.patientId !== ct.summary.patientId) {
    throw new InputError(path, `the CT (patient ${ct.summary.patientId}) and the PET (patient ${pet.summary.patientId}) are from different patients`)
  }
  if (ct && pet.summary.frameOfReferenceUid && ct.summary.frameOfReferenceUid && pet.summary.frameOfReferenceUid !== ct.summary.frameOfReferenceUid) {
    warnings.push('The CT and the PET have different frames of reference; their alignment is not guaranteed.')
  }

  const studyId = newStudyId()
  const suv = computePetSuv(pet, suvOverrides)
  warnings.push(...suv.warnings)
  const petRecord = petVolumeRecord(studyId, pet, suv)
  const ctRecord = ct
    ? makeVolumeRecord(studyId, 'ct', { label: 'CT', modality: 'CT', unit: 'HU', geometry: ct.geometry, voxels: ct.voxels, source: seriesSource(path, ct.summary) })
    : undefined

  const masks: VolumeRecord[] = []
  const maskSeriesUids: string[] = []
  for (const series of study.series.filter((se) => se.modality === 'SEG' || se.modality === 'RTSTRUCT')) {
    try {
      const target = { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid }
      const read =
        series.modality === 'SEG'
          ? await readDicomSegFile(series.files[0], target)
          : await readRtstructFile(series.files[0], target)
      const labels = read.labels
      // What the reader worked around (overlapping ROIs, contours or frames off the grid) is the user's to know.
      warnings.push(...read.warnings.map((w) => `${series.modality} series "${series.seriesDescription}": ${w}`))
      masks.push(
        makeVolumeRecord(studyId, 'mask', {
          label: `${series.modality} ${series.seriesDescription || series.seriesNumber || ''}`.trim(),
          modality: 'SEG',
          unit: 'label',
          geometry: pet.geometry,
          voxels: labels,
          source: series.files[0],
        }),
      )
      maskSeriesUids.push(series.seriesInstanceUid)
    } catch (e) {
      warnings.push(`${series.modality} series "${series.seriesDescription}" was not loaded: ${(e as Error).message}`)
    }
  }

  const tracer: Tracer = suv.summary.tracerKind
  const dicom: DicomStudyChoice = {
    sourcePath: path,
    studyInstanceUid: study.studyInstanceUid,
    patientName: study.patientName,
    patientId: study.patientId,
    studyDate: study.studyDate,
    series: study.series.map(seriesInfo),
    petSeriesUid: petSummary.seriesInstanceUid,
    ctSeriesUid: ctSummary?.seriesInstanceUid,
    maskSeriesUids,
  }
  return assembleStudy(
    {
      name: study.patientName || study.patientId || petSummary.seriesDescription || 'DICOM study',
      tracer,
      layout: 'DICOM',
      ct: ctRecord,
      pet: petRecord,
      masks,
      warnings,
      extra: { suv: suv.summary.public, dicom, folder: path, tracerSource: tracer === 'unknown' ? undefined : 'dicom', radionuclide: suv.summary.public.radionuclide },
    },
    studyId,
    { kind: 'dicom', path, pet, ct },
    dicomStudyKey(study.studyInstanceUid, petSummary.seriesInstanceUid),
  )
}

export function dicomStudyKey(studyUid: string, petSeriesUid: string): string {
  return `dicom:${studyUid}|${petSeriesUid}`
}

/** The PET as shown: SUVbw when the conversion is complete, the stored units otherwise. */
export function petVolumeRecord(studyId: string, pet: DicomImageSeries, suv: PetSuv): VolumeRecord {
  return makeVolumeRecord(studyId, 'pet', {
    label: suv.summary.public.ok ? 'PET (SUVbw)' : `PET (${suv.summary.public.storedUnits})`,
    modality: 'PT',
    unit: suv.summary.public.ok ? 'SUVbw' : suv.summary.public.storedUnits === 'BQML' ? 'BQML' : 'unknown',
    geometry: pet.geometry,
    voxels: suv.voxels,
    source: seriesSource(pet.summary.files[0] ? dirname(pet.summary.files[0]) : '', pet.summary),
  })
}

function seriesSource(path: string, s: DicomSeriesSummary): string {
  return `${path} (DICOM series ${s.seriesNumber ?? ''} "${s.seriesDescription}")`
}

function seriesInfo(s: DicomSeriesSummary): DicomSeriesInfo {
  return {
    seriesInstanceUid: s.seriesInstanceUid,
    modality: s.modality,
    description: s.seriesDescription,
    date: s.seriesDate,
    sliceCount: s.frameCount,
    seriesNumber: s.seriesNumber,
  }
}

export type { SuvSummary }
