import type { VolumeGeometry } from './geometry'
import type { Modality, VoxelType, VoxelUnit } from './volume'
import type { SuvSummary } from './suv'

export type Tracer = 'FDG' | 'PSMA' | 'unknown'

/** What a volume is for within a study. */
export type VolumeRole = 'ct' | 'pet' | 'ctOnPetGrid' | 'mask'

/** Everything about a volume except its voxels (which travel separately, as binary). */
export interface VolumeInfo {
  id: string
  role: VolumeRole
  label: string
  modality: Modality
  unit: VoxelUnit
  voxelType: VoxelType
  geometry: VolumeGeometry
  /** Smallest and largest voxel value. */
  valueRange: [number, number]
  /** Where it came from: a file path, or a description such as "built-in demo". */
  source: string
}

export interface StudyInfo {
  id: string
  name: string
  tracer: Tracer
  /** Where the tracer came from: the DICOM radiopharmaceutical, the case name, or the user. */
  tracerSource?: 'dicom' | 'name' | 'user'
  radionuclide?: string
  /** How the study was recognised, e.g. "autoPET folder", "nnU-Net pair", "CT + PET files", "DICOM". */
  layout: string
  /** A PET-only study has no CT. */
  ct?: VolumeInfo
  pet: VolumeInfo
  /** How the PET values became SUV (DICOM input); absent when the input was already SUV. */
  suv?: SuvSummary
  /** DICOM input: the series found and the ones shown. */
  dicom?: DicomStudyChoice
  /** The folder the study was read from, to suggest where exports go. */
  folder?: string
  /** The mask being corrected (a journaled copy; automatic and reference masks are never modified). */
  workingMaskId?: string
  review?: { state: 'unreviewed' | 'in progress' | 'done'; comment: string; lesions: LesionReview[] }
  masks: VolumeInfo[]
  /** Problems the reader worked around, phrased for the user. */
  warnings: string[]
}

export interface FileEntry {
  name: string
  path: string
  kind: 'dir' | 'file'
  sizeBytes?: number
}

export interface DicomSeriesInfo {
  seriesInstanceUid: string
  modality: string
  description: string
  date?: string
  sliceCount: number
  seriesNumber?: number
}

export interface DicomStudyChoice {
  /** The folder the series were found in (to re-open with another pick). */
  sourcePath: string
  studyInstanceUid: string
  patientName?: string
  patientId?: string
  studyDate?: string
  series: DicomSeriesInfo[]
  petSeriesUid: string
  ctSeriesUid?: string
  /** SEG / RTSTRUCT series loaded as masks. */
  maskSeriesUids: string[]
}

/** A reader's verdict on one lesion, kept by its hottest voxel (lesion numbers change with edits). */
export interface LesionReview {
  suvMaxLps: [number, number, number]
  state: 'unreviewed' | 'accepted' | 'rejected'
}
