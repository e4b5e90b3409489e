import * as ort from 'onnxruntime-node'
import { voxelCount, type VolumeGeometry } from '../../../shared/geometry'
import type { ModelSetManifest } from '../modelSet/manifest'
import { verifyFold } from '../modelSet/modelSetRegistry'
import { argmaxToMask, invertToPetGrid, preprocessForInference } from '../preprocess/pipeline'
import { slidingWindowInference } from '../slidingWindow/slidingWindow'
import { TaskCancelledError } from '../../workers/WorkerPool'
import { chooseExecutionProvider, type DeviceRequest } from './executionProvider'

export interface SegmentRequest {
  /** The CT resampled onto the PET grid (HU, -1024 outside its field of view). */
  ctOnPetGrid: { geometry: VolumeGeometry; voxels: Float32Array }
  /** PET in SUVbw. */
  pet: { geometry: VolumeGeometry; voxels: Float32Array }
  modelSet: { dir: string; manifest: ModelSetManifest }
  device: DeviceRequest
  threads?: number
  overlap?: number
  /** Window edge in voxels (multiple of 16; 192 in the published method). Smaller needs less memory. */
  windowSize?: number
  blending?: 'constant' | 'gaussian'
  /** Not the published method: windows with no body are not run. */
  skipEmptyWindows?: boolean
}

export interface SegmentOutcome {
  /** uint8 on exactly the PET grid: 1 lesion, 0 background. */
  mask: Uint8Array
  provider: string
  providerNote?: string
  /** Seconds per stage. */
  timings: Record<string, number>
  windowsPerFold: number
}

/**
 * The seed's inference (method.md §2-§4): preprocess, sliding window per fold, mean of the folds'
 * logits, sigmoid, invert onto the PET grid, argmax. Only a running sum of logits and the current fold's
 * output are held, never all folds at once.
 */
export async function segmentVolume(
  request: SegmentRequest,
  progress: (fraction: number, message: string) => void,
  signal?: AbortSignal,
): Promise<SegmentOutcome> {
  const { manifest, dir } = request.modelSet
  const timings: Record<string, number> = {}
  const lap = (() => {
    let t = performance.now()
    return (stage: string): void => {
      timings[stage] = (timings[stage] ?? 0) + (performance.now() - t) / 1000
      t = performance.now()
    }
  })()
  const threads = request.threads ?? 2
  progress(0, 'Preparing the images')
  const prepared = preprocessForInference(request.ctOnPetGrid, request.pet, isotropicSpacingMm(manifest))
  lap('preprocess')

  const choice = await chooseExecutionProvider(request.device, threads)
  lap('provider check')
  const folds = manifest.folds.filter((f) => (choice.needsSubpixelGraph ? f.convTranspose === 'subpixel' : true))
  let provider: string = choice.provider
  let note = choice.note
  let usable = folds
  if (usable.length === 0) {
    // The set ships only native graphs: run them on the CPU rather than fail.
    provider = 'cpu'
    note = `${choice.provider} needs the sub-pixel graph variant, which this model set does not include; CPU used`
    usable = manifest.folds
  }

  const m = voxelCount({ dims: prepared.dims })
  const skipEmpty = request.skipEmptyWindows ? bodyMask(prepared.input.subarray(0, m)) : undefined
  let sum: Float32Array | null = null
  let windowsPerFold = 0
  for (let f = 0; f < usable.length; f++) {
    if (signal?.aborted) throw new TaskCancelledError('segmentation')
    const bytes = await verifyFold(dir, usable[f].file, usable[f].sha256)
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
    }).catch((e: Error) => {
      throw new Error(`${usable[f].file} could not be loaded by ONNX Runtime on ${provider}: ${e.message.split('\n')[0]}`)
    })
    lap('model load')
    try {
      const roi = request.windowSize ? ([request.windowSize, request.windowSize, request.windowSize] as const) : manifest.inference.roiSize
      const multiple = 2 ** manifest.architecture.strides.length
      if (roi.some((r) => r % multiple !== 0)) throw new Error(`the window size must be a multiple of ${multiple} (got ${roi.join('x')})`)
      const logits = await slidingWindowInference(
        prepared.input,
        prepared.dims,
        async (patch) => {
          try {
            const out = await session.run({ image: new ort.Tensor('float32', patch, [1, 2, roi[0], roi[1], roi[2]]) })
            return out.logits.data as Float32Array
          } catch (e) {
            throw explainRunFailure(e as Error, roi, provider)
          }
        },
        {
          roiSize: roi,
          overlap: request.overlap ?? manifest.inference.overlap,
          mode: request.blending ?? manifest.inference.blending,
          signal,
          skipEmpty,
          onProgress: (done, total) => {
            windowsPerFold = total
            progress((f + done / total) / usable.length, `Fold ${f + 1} of ${usable.length}: window ${done} of ${total}`)
          },
        },
      )
      if (sum) for (let i = 0; i < sum.length; i++) sum[i] += logits[i]
      else sum = logits
    } finally {
      await session.release()
    }
    lap('network')
  }
  const probabilities = sum!
  const k = 1 / usable.length
  for (let i = 0; i < probabilities.length; i++) probabilities[i] = 1 / (1 + Math.exp(-probabilities[i] * k))
  lap('ensemble')
  progress(1, 'Mapping the result onto the PET grid')
  const [p0, p1] = invertToPetGrid(probabilities, prepared.record)
  lap('inverse')
  const mask = argmaxToMask(p0, p1)
  lap('argmax')
  return { mask, provider, providerNote: note, timings, windowsPerFold }
}

/** The manifest's network voxel size (§2.4: 2 mm); only isotropic grids are supported. */
export function isotropicSpacingMm(manifest: ModelSetManifest): number {
  const [x, y, z] = manifest.preprocessing.spacingMm
  if (x !== y || y !== z) throw new Error(`model set ${manifest.name}: spacing ${x}x${y}x${z} mm is not isotropic, which LesionLab does not support`)
  return x
}

/** Voxels inside the CT field of view on the network grid (scaled CT above 0). */
function bodyMask(ctScaled: Float32Array): Uint8Array {
  const out = new Uint8Array(ctScaled.length)
  for (let i = 0; i < ctScaled.length; i++) out[i] = ctScaled[i] > 0 ? 1 : 0
  return out
}

/** ONNX Runtime's messages, in words that say what to do. */
function explainRunFailure(e: Error, roi: readonly number[], provider: string): Error {
  const message = e.message.split('\n')[0]
  if (/alloc|memory|bad_alloc|out of memory|OOM/i.test(message)) {
    const gb = (roi[0] * roi[1] * roi[2] * 4 * 200) / 2 ** 30
    return new Error(
      `the model did not fit in memory on ${provider} with ${roi.join('x')} windows (roughly ${gb.toFixed(0)} GB of activations): ` +
        `use a smaller window (a multiple of 16, e.g. 128) or another device. (${message})`,
    )
  }
  if (/input|dimension|shape|rank/i.test(message)) {
    return new Error(`the model does not accept this input (it expects [1, 2, D, H, W] with D, H, W multiples of 16): ${message}`)
  }
  return new Error(`ONNX Runtime failed on ${provider}: ${message}`)
}
