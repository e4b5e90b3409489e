/**
 * Shared layout contract of the training losses.
 *
 * logits: [N, C = 2, V] channel-major per sample, i.e. logits[(s * 2 + c) * V + v].
 * target: [N, V] integer labels 0 (background) / 1 (lesion), turned into a one-hot [N, 2, V] exactly as
 * MONAI's `to_onehot_y=True` does, background channel included.
 */
export const LOSS_CHANNELS = 2

export type LogitArray = Float32Array | Float64Array
export type LabelArray = Uint8Array | ArrayLike<number>

export interface LossResult {
  /** Scalar loss, accumulated in float64. */
  loss: number
  /** d loss / d logits, same [N, 2, V] layout as the logits. */
  gradLogits: Float32Array
}

export function assertLossLayout(logits: ArrayLike<number>, target: ArrayLike<number>, n: number, v: number): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`loss: n and v must be positive integers (got n=${n}, v=${v})`)
  }
  if (logits.length !== n * LOSS_CHANNELS * v) {
    throw new RangeError(`loss: logits length ${logits.length} != n*2*v = ${n * LOSS_CHANNELS * v}`)
  }
  if (target.length !== n * v) throw new RangeError(`loss: target length ${target.length} != n*v = ${n * v}`)
  for (let i = 0; i < target.length; i++) {
    const t = target[i]
    if (t !== 0 && t !== 1) throw new RangeError(`loss: target[${i}] = ${t}; labels must be 0 or 1`)
  }
}

/** log(1 + e^x) without overflow for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))
}

/** Logistic sigmoid without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x))
  const e = Math.exp(x)
  return e / (1 + e)
}
