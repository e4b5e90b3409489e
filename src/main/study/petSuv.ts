import type { Tracer } from '../../shared/study'
import type { SuvParameters, SuvSummary } from '../../shared/suv'
import type { DicomImageSeries } from '../io/dicom/dicomTypes'
import { applySuvFactors, computeSuvFactors, petSuvTagsFromHeaders, type SuvResult } from '../imaging/suv'
import { allocateVoxels } from '../imaging/voxelBuffers'

/** A DICOM PET made into what LesionLab shows: SUVbw when complete, stored values otherwise. */
export interface PetSuv {
  /** SUVbw (when `summary.public.ok`), else the stored values (e.g. Bq/ml). */
  voxels: Float32Array
  /** stored × factor = SUVbw, one per slice of the grid (NaN when not ok). */
  sliceFactors: number[]
  summary: { public: SuvSummary; tracerKind: Tracer; tagsUsed: Record<string, unknown> }
  warnings: string[]
}

/**
 * The study-level glue between the DICOM reader and the pure SUV module: factors per source instance
 * are mapped onto the grid's slices through `slices[k]` (a resampled or gap-filled stack has more
 * slices than headers), then applied into a new shared buffer (the stored values stay untouched for
 * later corrections).
 */
export function computePetSuv(pet: DicomImageSeries, overrides: SuvParameters): PetSuv {
  const headers = pet.instanceHeaders.length > 0 ? pet.instanceHeaders : [pet.firstHeader]
  const result = computeSuvFactors(petSuvTagsFromHeaders(headers), overrides)
  const bySop = new Map<string, number>()
  headers.forEach((h, i) => bySop.set(String(h.SOPInstanceUID), result.suvbwFactors[i]))
  const nz = pet.geometry.dims[2]
  const sliceFactors = Array.from({ length: nz }, (_, k) =>
    headers.length === 1 ? result.suvbwFactors[0] : bySop.get(pet.slices[k]?.sopInstanceUid) ?? NaN,
  )
  const ok = result.ok && sliceFactors.every(Number.isFinite)
  const stored = pet.voxels instanceof Float32Array ? pet.voxels : Float32Array.from(pet.voxels)
  let voxels = stored
  if (ok) {
    voxels = allocateVoxels('float32', stored.length) as Float32Array
    applySuvFactors(stored, sliceFactors, pet.geometry.dims, voxels)
  }
  return { voxels, sliceFactors: ok ? sliceFactors : sliceFactors.map(() => NaN), summary: summarise(result, ok, overrides, sliceFactors), warnings: result.warnings }
}

function summarise(result: SuvResult, ok: boolean, overrides: SuvParameters, sliceFactors: number[]): PetSuv['summary'] {
  const p = result.parametersUsed
  const finite = sliceFactors.filter(Number.isFinite)
  const problems = [...result.problems]
  if (result.ok && !ok) problems.push('some slices have no SUV factor (their headers were not found)')
  const summary: SuvSummary = {
    ok,
    method: result.method,
    parameters: {
      weightKg: p.weightKg,
      heightCm: p.heightCm,
      sex: p.sex,
      injectedDoseBq: p.injectedDoseBq,
      injectionDateTime: p.injectionDateTime,
      halfLifeS: p.halfLifeS,
    },
    overrides,
    storedUnits: p.units ?? 'unknown',
    decayCorrection: p.decayCorrection,
    decayTimeS: p.decayTimeS,
    factorRange: ok && finite.length ? [Math.min(...finite), Math.max(...finite)] : undefined,
    radionuclide: result.tracer.radionuclide,
    radiopharmaceutical: result.tracer.name,
    problems,
    alternatives: ok ? alternativesOf(result) : undefined,
  }
  return { public: summary, tracerKind: result.tracer.kind, tagsUsed: { ...p, overridden: result.overridden } }
}

/** SUL and SUVbsa as ratios to SUVbw (they scale every voxel alike, so one number each). */
function alternativesOf(result: SuvResult): SuvSummary['alternatives'] {
  const ratio = (f?: number[]): number | undefined => (f && f.length && result.suvbwFactors[0] ? f[0] / result.suvbwFactors[0] : undefined)
  const out = {
    sulJamesPerSuvbw: ratio(result.sulJamesFactors),
    sulJanmahasatianPerSuvbw: ratio(result.sulJanmahasatianFactors),
    suvBsaPerSuvbw: ratio(result.suvBsaFactors),
  }
  return Object.values(out).some((v) => v !== undefined) ? out : undefined
}
