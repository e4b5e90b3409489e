import type { VolumeGeometry } from './geometry'

/** Voxel types a volume may travel in. Float64 inputs are narrowed to Float32 on reading. */
export type VoxelType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'float32'
export type VoxelArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Float32Array

/** What the values of a volume mean. */
export type VoxelUnit = 'HU' | 'SUVbw' | 'BQML' | 'label' | 'unknown'
export type Modality = 'CT' | 'PT' | 'SEG'

/** A volume as the main process holds it: geometry, meaning and voxels. */
export interface Volume {
  geometry: VolumeGeometry
  modality: Modality
  unit: VoxelUnit
  voxels: VoxelArray
}

export function voxelTypeOf(a: VoxelArray): VoxelType {
  if (a instanceof Uint8Array) return 'uint8'
  if (a instanceof Int8Array) return 'int8'
  if (a instanceof Uint16Array) return 'uint16'
  if (a instanceof Int16Array) return 'int16'
  if (a instanceof Int32Array) return 'int32'
  return 'float32'
}

export function voxelArrayFrom(type: VoxelType, buffer: ArrayBuffer, byteOffset = 0, length?: number): VoxelArray {
  switch (type) {
    case 'uint8': return new Uint8Array(buffer, byteOffset, length)
    case 'int8': return new Int8Array(buffer, byteOffset, length)
    case 'uint16': return new Uint16Array(buffer, byteOffset, length)
    case 'int16': return new Int16Array(buffer, byteOffset, length)
    case 'int32': return new Int32Array(buffer, byteOffset, length)
    case 'float32': return new Float32Array(buffer, byteOffset, length)
  }
}
