/**
 * Blending overlapping windows (method §4: constant weights, i.e. a plain average; Gaussian as an
 * option), as MONAI 1.3 `sliding_window_inference` does: running sum of weight x output and of weights,
 * then sum / weights. Sums are float32 like torch's.
 *
 * The accumulators live on the unpadded input grid: window voxels falling into the zero padding are
 * dropped as they are added, which gives exactly what MONAI's padded accumulation followed by cropping
 * the padding off gives (the padding's values are never read).
 */
import type { Vec3 } from '../../../shared/geometry'
import { accumulatePatch } from './patch'
import type { WindowPlan } from './windows'

export type BlendMode = 'constant' | 'gaussian'

/**
 * MONAI `compute_importance_map` over [r0, r1, r2] (axis 2 fastest, like a patch): null for 'constant'
 * (all ones); for 'gaussian' the product of 1-D Gaussians exp(-x^2 / (2 sigma^2)), x measured from the
 * window centre ((r - 1) / 2), sigma = sigmaScale * r, then clamped below at max(min, 1e-3). Float32.
 */
export function importanceMap(roi: Vec3, mode: BlendMode, sigmaScale = 0.125): Float32Array | null {
  if (mode === 'constant') return null
  const profiles = roi.map((r) => {
    const sigma = Math.fround(r * sigmaScale)
    const g = new Float32Array(r)
    for (let i = 0; i < r; i++) {
      const x = Math.fround(-(r - 1) / 2 + i)
      g[i] = Math.exp(Math.fround(x * x) / Math.fround(-2 * sigma * sigma))
    }
    return g
  })
  const [r0, r1, r2] = roi
  const map = new Float32Array(r0 * r1 * r2)
  let min = Infinity
  for (let a = 0, p = 0; a < r0; a++) {
    for (let b = 0; b < r1; b++) {
      const ab = Math.fround(profiles[0][a] * profiles[1][b])
      for (let d = 0; d < r2; d++, p++) {
        const v = Math.fround(ab * profiles[2][d])
        map[p] = v
        if (v < min) min = v
      }
    }
  }
  const floor = Math.max(min, 1e-3)
  for (let p = 0; p < map.length; p++) if (map[p] < floor) map[p] = floor
  return map
}

/**
 * How many windows cover each index of one axis (unpadded coordinates), for constant blending over
 * the full window grid, where the count map is the product of three of these.
 */
function axisCoverage(plan: WindowPlan, axis: number): Float32Array {
  const n = plan.dims[axis]
  const cover = new Float32Array(n)
  for (const start of plan.startsPerAxis[axis]) {
    const from = Math.max(0, start - plan.padBefore[axis])
    const to = Math.min(n, start - plan.padBefore[axis] + plan.roiSize[axis])
    for (let x = from; x < to; x++) cover[x] += 1
  }
  return cover
}

/** Running sum and weights of window outputs on the input grid. */
export class WindowAccumulator {
  readonly sum: Float32Array
  /** Per-voxel weight sums; null when constant blending covers the full window grid (see `axisCoverage`). */
  readonly count: Float32Array | null
  private readonly weights: Float32Array | null
  private readonly coverage: Float32Array[] | null
  private readonly voxels: number

  constructor(
    readonly plan: WindowPlan,
    readonly channels: number,
    mode: BlendMode,
    sigmaScale = 0.125,
  ) {
    const [n0, n1, n2] = plan.dims
    this.voxels = n0 * n1 * n2
    this.sum = new Float32Array(channels * this.voxels)
    this.weights = importanceMap(plan.roiSize, mode, sigmaScale)
    // With constant weights and no window left out, the count is separable: skip a full-size buffer.
    const separable = this.weights === null && plan.skipped === 0
    this.count = separable ? null : new Float32Array(this.voxels)
    this.coverage = separable ? [0, 1, 2].map((a) => axisCoverage(plan, a)) : null
  }

  /** Add one window's output ([1, C, r0, r1, r2]) at `start` (padded coordinates, as in the plan). */
  add(start: Vec3, output: Float32Array): void {
    const origin: Vec3 = [start[0] - this.plan.padBefore[0], start[1] - this.plan.padBefore[1], start[2] - this.plan.padBefore[2]]
    accumulatePatch(output, this.channels, this.sum, this.plan.dims, origin, this.plan.roiSize, this.weights, this.count)
  }

  /**
   * sum / weights, in place (the returned array is `sum`). Voxels no window covered (only possible when
   * windows were skipped) get `fill[c]` for channel c.
   */
  finalize(fill: readonly number[] = []): Float32Array {
    const [n0, n1, n2] = this.plan.dims
    const sum = this.sum
    for (let c = 0; c < this.channels; c++) {
      const off = c * this.voxels
      const empty = fill[c] ?? 0
      if (this.coverage) {
        const [c0, c1, c2] = this.coverage
        for (let k = 0, v = off; k < n2; k++) {
          for (let j = 0; j < n1; j++) {
            const jk = c1[j] * c2[k]
            for (let i = 0; i < n0; i++, v++) sum[v] = sum[v] / (c0[i] * jk)
          }
        }
      } else {
        const count = this.count as Float32Array
        for (let v = 0; v < this.voxels; v++) {
          const w = count[v]
          sum[off + v] = w > 0 ? sum[off + v] / w : empty
        }
      }
    }
    return sum
  }
}
