import type { VolumeGeometry } from '../../shared/geometry'
import { voxelCount } from '../../shared/geometry'
import type { VoxelArray } from '../../shared/volume'
import { resampleTrilinear } from '../imaging/resample/resampleTrilinear'
import { allocateVoxels } from '../imaging/voxelBuffers'
import { makePhantomStudy } from '../demo/phantom'

/** Progress reporter handed to every task; `fraction` in [0, 1]. */
export type ReportProgress = (fraction: number, message?: string) => void

/**
 * Heavy numeric work that runs in worker threads. Each task is a thin adapter over a pure kernel;
 * inputs and outputs are structured-cloneable, and voxel arrays on SharedArrayBuffers cross
 * without a copy.
 */
export const tasks = {
  resampleTrilinear(
    input: { source: { geometry: VolumeGeometry; voxels: VoxelArray }; target: VolumeGeometry; outsideValue: number },
    progress: ReportProgress,
  ): Float32Array {
    const out = allocateVoxels('float32', voxelCount(input.target)) as Float32Array
    return resampleTrilinear(input.source, input.target, { outsideValue: input.outsideValue, onProgress: progress }, out)
  },

  makePhantom(input: { tracer: 'FDG' | 'PSMA'; scale: 'demo' | 'small'; seed?: number }) {
    return makePhantomStudy(input)
  },
}

export type TaskName = keyof typeof tasks
export type TaskInput<T extends TaskName> = Parameters<(typeof tasks)[T]>[0]
export type TaskOutput<T extends TaskName> = ReturnType<(typeof tasks)[T]>
