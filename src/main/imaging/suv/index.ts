/** PET SUV: header tags → editable parameters → per-slice factors → SUV voxels. Pure, no I/O. */
export { petSuvTagsFromHeader, petSuvTagsFromHeaders, petSuvTagsFromInstanceMetadata } from './suvTags'
export type { CodedConcept, PetSuvTags } from './suvTags'
export { resolveSuvParameters, suvParametersFromTags, SUV_PARAMETER_SOURCES } from './suvParameters'
export type { DecayCorrectionMode, ResolvedSuvParameters, SuvParameterKey, SuvParameters } from './suvParameters'
export { computeSuvFactors } from './computeSuv'
export type { SuvResult } from './computeSuv'
export { applySuvFactors } from './applySuv'
export { identifyTracer, RADIONUCLIDE_HALF_LIFE_S } from './tracer'
export type { TracerInfo, TracerKind } from './tracer'
export { averageCountTimeInFrameS, startDecayReference } from './decayReference'
export type { ScanReference, ScanReferenceRule } from './decayReference'
export { SUV_LIMITS } from './suvChecks'
export {
  bodyMassIndex,
  bodySurfaceAreaDuBoisM2,
  leanBodyMassJamesKg,
  leanBodyMassJanmahasatianKg,
} from './bodySize'
export { formatIsoLocal, parseIsoLocalDateTime } from './dicomTime'
