import type { VolumeGeometry } from '../../shared/geometry'
import { voxelCount } from '../../shared/geometry'
import type { VoxelArray } from '../../shared/volume'
import { resampleTrilinear } from '../imaging/resample/resampleTrilinear'
import { allocateVoxels } from '../imaging/voxelBuffers'
import { makePhantomStudy } from '../demo/phantom'
import { readDicomImageSeries } from '../io/dicom/readDicomSeries'
import type { DicomSeriesSummary } from '../io/dicom/dicomTypes'
import { segmentVolume, type SegmentRequest } from '../inference/segment/segmentVolume'
import { measureMask, type MeasureMaskInput } from '../metrics/measureMask'
import { fineTuneModelSet, type FineTuneRequest, type FineTuneRunProgress } from '../training/fineTuneModelSet'

/** Progress reporter handed to every task; `fraction` in [0, 1]. */
/** `force`: a report that must not be dropped by the throttle (e.g. "paused"). */
export type ReportProgress = (fraction: number, message?: string, detail?: unknown, force?: boolean) => void

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

  /** DICOM pixel decoding, sorting and per-slice rescaling of a whole series, off the event loop. */
  async readDicomSeries(input: { series: DicomSeriesSummary }, progress: ReportProgress) {
    const series = await readDicomImageSeries(input.series, { onProgress: (done: number, total: number) => progress(total ? done / total : 0) })
    // dcmjs decorates header values (person names, sequences) with functions, which cannot cross a
    // thread boundary: hand back plain data.
    return { ...series, firstHeader: plainData(series.firstHeader), instanceHeaders: series.instanceHeaders.map(plainData) }
  },

  /** The whole ensemble inference of one study (cancelled cooperatively, between windows). */
  segment(input: SegmentRequest, progress: ReportProgress, signal: AbortSignal) {
    return segmentVolume(input, (fraction, message) => progress(fraction, message), signal)
  },

  /** Lesions of a mask (connected components) measured on the PET, and the autoPET metrics vs a reference. */
  measureMask(input: MeasureMaskInput) {
    return measureMask(input)
  },

  /**
   * Fine-tuning a model set into a new one (cooperative cancel between steps). `pauseFlag`: an
   * Int32Array on a SharedArrayBuffer; while its element 0 is 1 the run waits between steps.
   */
  async fineTune(input: FineTuneRequest & { pauseFlag?: Int32Array }, progress: ReportProgress, signal: AbortSignal) {
    const { pauseFlag, ...request } = input
    let last: FineTuneRunProgress = { fraction: 0, message: '' }
    const { set, folds, provider } = await fineTuneModelSet(request, {
      signal,
      onProgress: (p) => {
        last = p
        progress(p.fraction, p.message, p)
      },
      waitWhilePaused: pauseFlag
        ? async () => {
            if (Atomics.load(pauseFlag, 0) !== 1) return
            // Said once the run really stands still (the step under way when Pause came has finished).
            const message = `Paused after step ${last.step ?? 0}`
            progress(last.fraction, message, { ...last, message }, true)
            await waitWhileFlagged(pauseFlag, signal)
          }
        : undefined,
    })
    // The weights are in the new set's files; only the summary crosses back.
    return { set, provider, folds: folds.map(({ weights: _weights, ...summary }) => summary) }
  },

  makePhantom(input: { tracer: 'FDG' | 'PSMA'; scale: 'demo' | 'small'; seed?: number }) {
    return makePhantomStudy(input)
  },
}

async function waitWhileFlagged(flag: Int32Array, signal: AbortSignal): Promise<void> {
  while (Atomics.load(flag, 0) === 1 && !signal.aborted) await new Promise((resolve) => setTimeout(resolve, 200))
}

/** A structured-clone-safe copy: plain arrays and objects, binary kept, functions dropped. */
function plainData<T>(value: T): T {
  if (value === null || typeof value !== 'object') return (typeof value === 'function' ? undefined : value) as T
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value
  if (Array.isArray(value)) return value.map(plainData) as T
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = plainData(v)
  return out as T
}

export type TaskName = keyof typeof tasks
export type TaskInput<T extends TaskName> = Parameters<(typeof tasks)[T]>[0]
export type TaskOutput<T extends TaskName> = Awaited<ReturnType<(typeof tasks)[T]>>
