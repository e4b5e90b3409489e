import { randomUUID } from 'node:crypto'
import { dirname } from 'node:path'
import { sameGrid, worldBoundsLps, type VolumeGeometry } from '../../shared/geometry'
import type { StudyInfo, Tracer, VolumeInfo, VolumeRole } from '../../shared/study'
import { voxelTypeOf, type Modality, type VoxelArray, type VoxelUnit } from '../../shared/volume'
import { InputError } from '../io/InputError'
import { readNiftiFile } from '../io/nifti/readNifti'
import { allocateVoxels } from '../imaging/voxelBuffers'
import type { StudyFiles } from './studyLayout'
import type { DicomImageSeries } from '../io/dicom/dicomTypes'
import { valueRange, type VolumeRecord } from './volumeRecord'

/** Where a loaded study came from, kept so it can be re-read, re-picked or exported against. */
export type StudySource =
  | { kind: 'files'; files: StudyFiles }
  | { kind: 'demo' }
  | { kind: 'dicom'; path: string; pet: DicomImageSeries; ct?: DicomImageSeries }

/** A study held in memory: what the renderer is told, and the voxels behind it. */
export interface LoadedStudy {
  info: StudyInfo
  volumes: Map<string, VolumeRecord>
  source: StudySource
  /** Identity for per-study settings (DICOM UIDs, or file paths). */
  key: string
}

export function makeVolumeRecord(
  studyId: string,
  role: VolumeRole,
  fields: { label: string; modality: Modality; unit: VoxelUnit; geometry: VolumeGeometry; voxels: VoxelArray; source: string },
): VolumeRecord {
  // Masks and re-derived volumes (a PET after an SUV correction) get fresh ids so no cache, here or
  // in the renderer, can hand out the old voxels under the same name.
  const fresh = role === 'mask' || role === 'pet' ? `-${randomUUID().slice(0, 8)}` : ''
  const info: VolumeInfo = {
    id: `${studyId}-${role}${fresh}`,
    role,
    label: fields.label,
    modality: fields.modality,
    unit: fields.unit,
    voxelType: voxelTypeOf(fields.voxels),
    geometry: fields.geometry,
    valueRange: valueRange(fields.voxels),
    source: fields.source,
  }
  return { info, voxels: fields.voxels }
}

export interface StudyParts {
  name: string
  tracer: Tracer
  layout: string
  ct?: VolumeRecord
  pet: VolumeRecord
  masks: VolumeRecord[]
  warnings: string[]
  extra?: Pick<StudyInfo, 'suv' | 'dicom' | 'tracerSource' | 'radionuclide' | 'folder'>
}

export function assembleStudy(parts: StudyParts, studyId: string, source: StudySource, key: string): LoadedStudy {
  const volumes = new Map<string, VolumeRecord>()
  for (const v of [parts.ct, parts.pet, ...parts.masks]) if (v) volumes.set(v.info.id, v)
  return {
    info: {
      id: studyId,
      name: parts.name,
      tracer: parts.tracer,
      layout: parts.layout,
      ct: parts.ct?.info,
      pet: parts.pet.info,
      masks: parts.masks.map((m) => m.info),
      warnings: parts.warnings,
      ...parts.extra,
    },
    volumes,
    source,
    key,
  }
}

/**
 * Read the CT, PET and optional mask of a recognised study and check they belong together.
 * `rolesFromContent`: the file names do not say which is the CT (dropped files); the one with air
 * (values at or below -500) is.
 */
export async function loadStudyFromFiles(files: StudyFiles, options: { rolesFromContent?: boolean } = {}): Promise<LoadedStudy> {
  const studyId = newStudyId()
  let [ct, pet, mask] = await Promise.all([
    readNiftiFile(files.ctPath),
    readNiftiFile(files.petPath),
    files.maskPath ? readNiftiFile(files.maskPath) : Promise.resolve(undefined),
  ])
  if (options.rolesFromContent) {
    const hasAir = (v: VoxelArray): boolean => valueRange(v)[0] <= -500
    if (hasAir(ct.voxels) === hasAir(pet.voxels)) {
      throw new InputError(`${files.ctPath} + ${files.petPath}`, 'cannot tell which file is the CT: open the study folder, or use Open study to pick the CT and the PET')
    }
    if (hasAir(pet.voxels)) {
      ;[ct, pet] = [pet, ct]
      files = { ...files, ctPath: files.petPath, petPath: files.ctPath }
    }
  }
  assertOverlap(files, ct.geometry, pet.geometry)
  const warnings = [...ct.warnings, ...pet.warnings, ...(mask?.warnings ?? [])]

  const ctRecord = makeVolumeRecord(studyId, 'ct', { label: 'CT', modality: 'CT', unit: 'HU', geometry: ct.geometry, voxels: ct.voxels, source: files.ctPath })
  const petRecord = makeVolumeRecord(studyId, 'pet', { label: 'PET', modality: 'PT', unit: 'SUVbw', geometry: pet.geometry, voxels: pet.voxels, source: files.petPath })
  const masks: VolumeRecord[] = []
  if (mask && files.maskPath) {
    if (!sameGrid(mask.geometry, pet.geometry, 0.01)) {
      throw new InputError(
        files.maskPath,
        `the mask's grid (${describeGrid(mask.geometry)}) is not the PET grid (${describeGrid(pet.geometry)})`,
      )
    }
    masks.push(
      makeVolumeRecord(studyId, 'mask', {
        label: 'Mask',
        modality: 'SEG',
        unit: 'label',
        // Share the PET's geometry so the mask is exactly on the PET grid (float header noise aside).
        geometry: pet.geometry,
        voxels: toLabelVoxels(files.maskPath, mask.voxels),
        source: files.maskPath,
      }),
    )
  }
  if (ctRecord.info.valueRange[0] >= 0) {
    warnings.push(`${files.ctPath}: no negative values; is this really a CT in Hounsfield units?`)
  }
  return assembleStudy(
    {
      name: files.name,
      tracer: files.tracer,
      layout: files.layout,
      ct: ctRecord,
      pet: petRecord,
      masks,
      warnings,
      extra: { tracerSource: files.tracer !== 'unknown' ? 'name' : undefined, folder: dirname(files.petPath) },
    },
    studyId,
    { kind: 'files', files },
    `files:${files.ctPath}|${files.petPath}`,
  )
}

export function newStudyId(): string {
  return `study${randomUUID().replace(/-/g, '').slice(0, 12)}`
}

function describeGrid(g: VolumeGeometry): string {
  return `${g.dims.join('x')} at ${g.spacingMm.map((s) => s.toFixed(3)).join('x')} mm`
}

/** CT and PET must cover a common region of space; otherwise they are not the same patient/frame. */
function assertOverlap(files: StudyFiles, ct: VolumeGeometry, pet: VolumeGeometry): void {
  const a = worldBoundsLps(ct)
  const b = worldBoundsLps(pet)
  const disjointAxis = [0, 1, 2].find((i) => a.max[i] < b.min[i] || b.max[i] < a.min[i])
  if (disjointAxis !== undefined) {
    throw new InputError(
      files.petPath,
      `the PET and the CT (${files.ctPath}) do not overlap in space (no common extent along the ${'LPS'[disjointAxis]} axis); are they from the same patient and frame of reference?`,
    )
  }
}

/** Masks become uint8 label maps; anything that cannot be a label is an error, not a silent cast. */
function toLabelVoxels(filePath: string, voxels: VoxelArray): Uint8Array {
  if (voxels instanceof Uint8Array) return voxels
  const out = allocateVoxels('uint8', voxels.length) as Uint8Array
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i]
    if (v < 0 || v > 255 || (v !== Math.round(v) && Math.abs(v - Math.round(v)) > 1e-3)) {
      throw new InputError(filePath, `is not a label map: voxel ${i} has value ${v}`)
    }
    out[i] = Math.round(v)
  }
  return out
}
