import type { Vec3 } from './geometry'

/** One lesion's measures (method.md §7): volumes in ml, SUV in SUVbw, positions LPS mm. */
export interface LesionRow {
  id: number
  voxelCount: number
  mtvMl: number
  suvMax: number
  suvMaxLps: Vec3
  suvMean: number
  suvPeak: number
  suvPeakLps: Vec3
  sulPeak?: number
  tlgMlSuv: number
  centroidLps: Vec3
}

export interface PatientRow {
  tmtvMl: number
  tlgMlSuv: number
  lesionCount: number
  dmaxMm: number
}

/** The autoPET III metrics of the shown mask against a second one (method.md §6). */
export interface ComparisonRow {
  referenceLabel: string
  /** null where the challenge's rule makes it undefined (empty reference). */
  dsc: number | null
  fpvMl: number
  fnvMl: number | null
  tpLesions: number
  fpLesions: number
  fnLesions: number
  predLesionCount: number
  refLesionCount: number
}

export interface MaskMeasures {
  maskVolumeId: string
  connectivity: 6 | 18 | 26
  lesions: LesionRow[]
  patient: PatientRow
  suvPeakRule: string
  comparison?: ComparisonRow
  seconds: number
}
