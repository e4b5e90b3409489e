import type { VolumeGeometry } from '../../shared/geometry'
import type { ComparisonRow, LesionRow, MaskMeasures } from '../../shared/measures'
import { autopetCaseMetrics } from './autopetMetrics'
import { labelComponents, type Connectivity } from './connectedComponents'
import { measureLesions, SUVPEAK_RULE, type LesionMeasures } from './lesionStats'

export interface MeasureMaskInput {
  mask: Uint8Array
  geometry: VolumeGeometry
  /** PET in SUVbw on the same grid (absent: SUV values are NaN). */
  pet?: Float32Array
  connectivity: Connectivity
  sulPerSuvbw?: number
  reference?: { voxels: Uint8Array; label: string }
  /** false: only the comparison (the caller keeps the lesion measures itself, incrementally). */
  lesionMeasures?: boolean
}

/** What the app's lesion table shows: components of the mask, their measures, and the comparison. */
export function measureMask(input: MeasureMaskInput): Omit<MaskMeasures, 'maskVolumeId' | 'seconds'> {
  const { mask, geometry } = input
  const measured =
    input.lesionMeasures === false
      ? { lesions: [], patient: { tmtvMl: 0, tlgMlSuv: 0, lesionCount: 0, dmaxMm: 0 }, suvPeakRule: SUVPEAK_RULE }
      : measureLesions(labelComponents(mask, geometry.dims, input.connectivity), geometry, input.pet, { sulPerSuvbw: input.sulPerSuvbw })
  const lesions: LesionRow[] = measured.lesions.map(lesionRow)
  let comparison: ComparisonRow | undefined
  if (input.reference) {
    const m = autopetCaseMetrics(mask, input.reference.voxels, geometry.dims, geometry.spacingMm)
    comparison = {
      referenceLabel: input.reference.label,
      dsc: Number.isNaN(m.dsc) ? null : m.dsc,
      fpvMl: m.fpvMl,
      fnvMl: Number.isNaN(m.fnvMl) ? null : m.fnvMl,
      tpLesions: m.tpLesions,
      fpLesions: m.fpLesions,
      fnLesions: m.fnLesions,
      predLesionCount: m.predLesionCount,
      refLesionCount: m.refLesionCount,
    }
  }
  return { connectivity: input.connectivity, lesions, patient: measured.patient, suvPeakRule: measured.suvPeakRule, comparison }
}

/** The lesion table's row of a lesion's measures. */
export function lesionRow(l: LesionMeasures): LesionRow {
  return {
    id: l.id,
    voxelCount: l.voxelCount,
    mtvMl: l.mtvMl,
    suvMax: l.suvMax,
    suvMaxLps: l.suvMaxLps,
    suvMean: l.suvMean,
    suvPeak: l.suvPeak,
    suvPeakLps: l.suvPeakLps,
    sulPeak: l.sulPeak,
    tlgMlSuv: l.tlgMlSuv,
    centroidLps: l.centroidLps,
  }
}
