import { LOSS_CHANNELS as C, assertLossLayout, type LabelArray, type LogitArray, type LossResult } from './layout'

/** MONAI GeneralizedDiceLoss defaults (smooth_nr = smooth_dr = 1e-5). */
export const GDL_SMOOTH_NR = 1e-5
export const GDL_SMOOTH_DR = 1e-5

/**
 * Generalized Dice loss as MONAI 1.3 `GeneralizedDiceLoss(softmax=True, to_onehot_y=True,
 * include_background=True, w_type='square', batch=False, reduction='mean')` computes it:
 *
 *   p = softmax(logits, dim=C);  g = one_hot(target)                       (both [N, C, V])
 *   G[n,c] = Σ_v g                        (ground_o)
 *   w[n,c] = 1 / G[n,c]^2                 (w_func 'square'; +inf where G = 0)
 *   w[n, c with inf] = max_c' finite w[n,c']   (MONAI: w[infs] = 0; w += infs * max(w, dim=1))
 *   numer[n] = 2 * Σ_c w[n,c] Σ_v p·g + smooth_nr
 *   denom[n] = Σ_c w[n,c] Σ_v (p + g) + smooth_dr
 *   f[n] = 1 - numer[n] / denom[n];   loss = mean_n f[n]
 *
 * The weights depend on the target only, so (as in autograd) they carry no gradient. Everything is
 * accumulated in float64; only the returned gradient is narrowed to float32.
 *
 * Gradient, per sample, with A = numer[n], B = denom[n]:
 *   ∂f/∂p[c,v] = -w[c] (2 g[c,v] B - A) / B²
 *   ∂f/∂x[k,v] = p[k,v] (∂f/∂p[k,v] - Σ_c p[c,v] ∂f/∂p[c,v])      (softmax Jacobian)
 * and the batch mean divides by N.
 */
export function generalizedDiceLoss(logits: LogitArray, target: LabelArray, n: number, v: number): LossResult {
  assertLossLayout(logits, target, n, v)
  const grad = new Float32Array(n * C * v)
  const p = new Float64Array(C * v)
  let total = 0

  for (let s = 0; s < n; s++) {
    const base = s * C * v
    const tBase = s * v
    // Softmax over the two channels, shifted by the max for stability.
    for (let i = 0; i < v; i++) {
      const x0 = logits[base + i]
      const x1 = logits[base + v + i]
      const m = Math.max(x0, x1)
      const e0 = Math.exp(x0 - m)
      const e1 = Math.exp(x1 - m)
      p[i] = e0 / (e0 + e1)
      p[v + i] = e1 / (e0 + e1)
    }

    const ground = [0, 0]
    const inter = [0, 0]
    const predSum = [0, 0]
    for (let i = 0; i < v; i++) {
      const label = target[tBase + i]
      ground[label] += 1
      inter[label] += p[label * v + i]
      predSum[0] += p[i]
      predSum[1] += p[v + i]
    }

    const w = classWeights(ground)
    let numer = 0
    let denom = 0
    for (let c = 0; c < C; c++) {
      numer += w[c] * inter[c]
      denom += w[c] * (predSum[c] + ground[c])
    }
    const a = 2 * numer + GDL_SMOOTH_NR
    const b = denom + GDL_SMOOTH_DR
    total += 1 - a / b

    const scale = 1 / n
    for (let i = 0; i < v; i++) {
      const label = target[tBase + i]
      const p0 = p[i]
      const p1 = p[v + i]
      const dp0 = (-w[0] * (2 * (label === 0 ? 1 : 0) * b - a)) / (b * b)
      const dp1 = (-w[1] * (2 * (label === 1 ? 1 : 0) * b - a)) / (b * b)
      const dot = p0 * dp0 + p1 * dp1
      grad[base + i] = scale * p0 * (dp0 - dot)
      grad[base + v + i] = scale * p1 * (dp1 - dot)
    }
  }
  return { loss: total / n, gradLogits: grad }
}

/**
 * 1/G² per class; a class absent from the sample (G = 0, weight +inf) takes the largest finite weight of
 * that sample. If no class had a finite weight MONAI's max would be 0, so every weight becomes 0.
 */
function classWeights(ground: number[]): number[] {
  const w = ground.map((g) => (g > 0 ? 1 / (g * g) : Infinity))
  let maxFinite = 0
  for (const x of w) if (Number.isFinite(x) && x > maxFinite) maxFinite = x
  return w.map((x) => (Number.isFinite(x) ? x : maxFinite))
}
