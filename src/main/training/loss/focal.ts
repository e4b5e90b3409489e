import { LOSS_CHANNELS as C, assertLossLayout, sigmoid, softplus, type LabelArray, type LogitArray, type LossResult } from './layout'

/** Class weights of the method (§5): background 1, lesion 100. */
export const FOCAL_CLASS_WEIGHTS: readonly [number, number] = [1, 100]
export const FOCAL_GAMMA = 2

/**
 * Focal loss as MONAI 1.3 `FocalLoss(include_background=True, to_onehot_y=True, gamma, weight,
 * use_softmax=False, reduction='mean')` computes it inside GeneralizedDiceFocalLoss:
 *
 *   t = one_hot(target)                                              [N, C, V]
 *   bce   = x - x·t + max(-x, 0) + log(e^{-max(-x,0)} + e^{-x-max(-x,0)})  (= BCE-with-logits, stable)
 *   focal = exp(γ · logsigmoid(-x·(2t - 1))) · bce                   (= (1 - p_t)^γ · BCE)
 *   loss  = weight[c] · focal                                         (class weight per channel, after the
 *                                                                       focal term; MONAI's `alpha` is unused)
 *   result = mean over all N·C·V elements                            ('mean' reduction)
 *
 * Each channel is an independent sigmoid: the two logits are not coupled as in a softmax.
 *
 * Gradient per element, with z = s·x, s = 2t - 1, p_t = σ(z), 1 - p_t = σ(-z), BCE = softplus(-z):
 *   ∂ℓ/∂z = -α σ(-z)^γ (γ σ(z) softplus(-z) + σ(-z))
 *   ∂ℓ/∂x = s · ∂ℓ/∂z, divided by N·C·V for the mean.
 */
export function focalLoss(
  logits: LogitArray,
  target: LabelArray,
  n: number,
  v: number,
  classWeights: readonly number[] = FOCAL_CLASS_WEIGHTS,
  gamma: number = FOCAL_GAMMA,
): LossResult {
  assertLossLayout(logits, target, n, v)
  if (classWeights.length !== C) throw new RangeError(`focalLoss: need ${C} class weights, got ${classWeights.length}`)
  if (classWeights.some((w) => !(w >= 0))) throw new RangeError('focalLoss: class weights must be >= 0')
  if (!(gamma >= 0)) throw new RangeError(`focalLoss: gamma must be >= 0 (got ${gamma})`)

  const count = n * C * v
  const grad = new Float32Array(count)
  let total = 0
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < C; c++) {
      const alpha = classWeights[c]
      const base = (s * C + c) * v
      for (let i = 0; i < v; i++) {
        const t = target[s * v + i] === c ? 1 : 0 // one-hot channel c
        const sign = 2 * t - 1
        const z = sign * logits[base + i]
        const bce = softplus(-z)
        // (1 - p_t)^γ = exp(-γ softplus(z)), exact even where σ(-z) underflows.
        const modulator = Math.exp(-gamma * softplus(z))
        total += alpha * modulator * bce
        const dz = -alpha * modulator * (gamma * sigmoid(z) * bce + sigmoid(-z))
        grad[base + i] = (sign * dz) / count
      }
    }
  }
  return { loss: total / count, gradLogits: grad }
}
