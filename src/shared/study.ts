import type { VolumeGeometry } from './geometry'
import type { Modality, VoxelType, VoxelUnit } from './volume'

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
  /** How the study was recognised, e.g. "autoPET folder", "nnU-Net pair", "CT + PET files". */
  layout: string
  ct: VolumeInfo
  pet: VolumeInfo
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
