import * as ort from 'onnxruntime-node'
import type { Vec3 } from '../../shared/geometry'
import { buildResUnetOnnx } from '../inference/network/buildOnnx'
import type { LayerDescription } from '../inference/network/layerDescription'
import type { ProviderName } from '../inference/segment/executionProvider'
import { slidingWindowInference } from '../inference/slidingWindow/slidingWindow'
import type { TrainingCase } from './data/prepareTrainingCase'

/** §5 validation: sliding window (overlap 0.25), argmax, lesion Dice. */
export const VALIDATION_OVERLAP = 0.25

/**
 * The lesion Dice of the network with `weights` on a held-out case (on its training grid); undefined when
 * the case has no lesion (§5: empty ground truths are ignored).
 */
export async function validationDice(
  desc: LayerDescription,
  weights: ReadonlyMap<string, Float32Array>,
  validation: TrainingCase,
  roi: Vec3,
  provider: ProviderName,
  threads: number,
  signal?: AbortSignal,
): Promise<number | undefined> {
  if (validation.lesionVoxels === 0) return undefined
  const bytes = buildResUnetOnnx(desc, { weights: new Map(weights), convTranspose: provider === 'webgpu' ? 'subpixel' : 'native', batchNormMode: 'inference' })
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], intraOpNumThreads: threads, graphOptimizationLevel: 'all' })
  try {
    const logits = await slidingWindowInference(
      validation.image,
      validation.dims,
      async (patch) => (await session.run({ image: new ort.Tensor('float32', patch, [1, 2, roi[0], roi[1], roi[2]]) })).logits.data as Float32Array,
      { roiSize: roi, overlap: VALIDATION_OVERLAP, mode: 'constant', signal },
    )
    const n = validation.label.length
    let predicted = 0
    let overlap = 0
    for (let i = 0; i < n; i++) {
      if (logits[n + i] > logits[i]) {
        predicted++
        overlap += validation.label[i]
      }
    }
    return (2 * overlap) / (predicted + validation.lesionVoxels)
  } finally {
    await session.release()
  }
}
