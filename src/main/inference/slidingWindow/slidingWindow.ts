/**
 * Sliding-window inference (method §4; MONAI 1.3 `sliding_window_inference` with sw_batch_size 1).
 * The input stays in our layout; each window is transposed into the network's [1, C, D, H, W] on the
 * way in and back on the way out (see patch.ts and preprocess/pipeline.ts for the axis order).
 */
import type { Vec3 } from '../../../shared/geometry'
import { TaskCancelledError } from '../../workers/WorkerPool'
import { WindowAccumulator, type BlendMode } from './blend'
import { extractPatch } from './patch'
import { planWindows } from './windows'

/**
 * Runs the network on one window: `patch` is [1, C_in, r0, r1, r2] (our axes 0, 1, 2 = D, H, W), the
 * result [1, C_out, r0, r1, r2] logits. The patch buffer is reused for the next window: do not keep it.
 */
export type RunWindow = (patch: Float32Array) => Promise<Float32Array>

export interface SlidingWindowOptions {
  /** 192 in the published method; a number per axis or for all. */
  roiSize: number | readonly number[]
  /** 0.5 in the published method (0.25 in its validation). */
  overlap: number | readonly number[]
  /** 'constant' in the published method. */
  mode: BlendMode
  /** MONAI's sigma_scale for 'gaussian' (default 0.125). */
  sigmaScale?: number
  /** Output channels of the network (default 2). */
  outChannels?: number
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /**
   * Body mask on the input grid (our voxel order): windows without a nonzero voxel are not run. Not the
   * published method; voxels left uncovered get `emptyFill`.
   */
  skipEmpty?: Uint8Array
  /** Value per output channel for voxels no window covered (default 0; only with `skipEmpty`). */
  emptyFill?: readonly number[]
}

/**
 * `input`: C_in channels on `dims`, channel-major, our voxel order. Returns C_out channels of blended
 * logits on the same grid and layout.
 */
export async function slidingWindowInference(
  input: Float32Array,
  dims: Vec3,
  runWindow: RunWindow,
  options: SlidingWindowOptions,
): Promise<Float32Array> {
  const n = dims[0] * dims[1] * dims[2]
  const inChannels = input.length / n
  if (!Number.isInteger(inChannels) || inChannels < 1) throw new RangeError(`${input.length} values are not whole channels of ${dims.join('x')}`)
  const outChannels = options.outChannels ?? 2
  const plan = planWindows(dims, { roiSize: options.roiSize, overlap: options.overlap, foregroundMask: options.skipEmpty })
  const roi = plan.roiSize
  const roiVoxels = roi[0] * roi[1] * roi[2]
  const acc = new WindowAccumulator(plan, outChannels, options.mode, options.sigmaScale)
  const patch = new Float32Array(inChannels * roiVoxels)
  const total = plan.windows.length
  for (let w = 0; w < total; w++) {
    if (options.signal?.aborted) throw new TaskCancelledError('sliding-window inference')
    const start = plan.windows[w]
    const origin: Vec3 = [start[0] - plan.padBefore[0], start[1] - plan.padBefore[1], start[2] - plan.padBefore[2]]
    extractPatch(input, inChannels, dims, origin, roi, patch)
    const out = await runWindow(patch)
    if (out.length !== outChannels * roiVoxels) {
      throw new RangeError(`the network returned ${out.length} values for a window, expected ${outChannels} x ${roi.join('x')}`)
    }
    acc.add(start, out)
    options.onProgress?.(w + 1, total)
  }
  if (options.signal?.aborted) throw new TaskCancelledError('sliding-window inference')
  return acc.finalize(options.emptyFill)
}
