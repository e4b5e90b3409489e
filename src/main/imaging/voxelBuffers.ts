import type { VoxelArray, VoxelType } from '../../shared/volume'

const BYTES: Record<VoxelType, number> = { uint8: 1, int8: 1, uint16: 2, int16: 2, int32: 4, float32: 4 }

/** Largest volume we agree to hold: 2^31 bytes per typed array keeps every index a safe int32. */
export const MAX_VOXELS = 1_500_000_000

/**
 * Voxel arrays live in SharedArrayBuffers so worker threads (resampling, statistics, inference) read
 * them without a copy of a whole-body volume.
 */
export function allocateVoxels(type: VoxelType, count: number): VoxelArray {
  if (!Number.isInteger(count) || count < 0 || count > MAX_VOXELS) {
    throw new RangeError(`refusing to allocate ${count} voxels (limit ${MAX_VOXELS})`)
  }
  const buffer = new SharedArrayBuffer(count * BYTES[type])
  switch (type) {
    case 'uint8': return new Uint8Array(buffer)
    case 'int8': return new Int8Array(buffer)
    case 'uint16': return new Uint16Array(buffer)
    case 'int16': return new Int16Array(buffer)
    case 'int32': return new Int32Array(buffer)
    case 'float32': return new Float32Array(buffer)
  }
}

export function bytesPerVoxel(type: VoxelType): number {
  return BYTES[type]
}
