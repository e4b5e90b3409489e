/**
 * Random elastic deformation, as MONAI Rand3DElasticd(sigma_range, magnitude_range, prob,
 * padding_mode='reflection', mode=('bilinear', 'nearest')) without its optional affine part:
 *
 *   offsets ~ U(-1, 1), one per voxel and component ([3, n], voxels of the patch grid)
 *   magnitude ~ U(magnitude_range), sigma ~ U(sigma_range)          (MONAI's draw order)
 *   d = GaussianFilter(sigma, truncated=3)(offsets) * magnitude      (in voxels)
 *   output(q) = input(q + d(q))
 *
 * The Gaussian is MONAI's default 'erf' kernel, not normalised, taps 0.5 (erf((x + .5) / (sigma sqrt 2))
 * - erf((x - .5) / (sigma sqrt 2))) for |x| <= tail = int(max(3 sigma, 0.5) + 0.5), applied separably
 * with zero padding (MONAI separable_filtering mode='zeros'); sigma = 0 is the identity.
 */
import type { Vec3 } from '../../../shared/geometry'
import { assertPatch, copyPatch, voxelsOf, type TrainingPatch } from './patchLayout'
import { uniformBetween } from './randomDeviates'
import { IDENTITY_LINEAR, resamplePatch } from './resample'

export interface ElasticSettings {
  /** Probability of applying the transform. */
  readonly p: number
  /** Range of the smoothing Gaussian's sigma, in voxels. */
  readonly sigma: readonly [number, number]
  /** Range of the displacement magnitude, in voxels. */
  readonly magnitude: readonly [number, number]
}

/** MONAI GaussianFilter's truncation, in sigmas, as Rand3DElastic uses it. */
export const ELASTIC_TRUNCATION = 3

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 kernel precision). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1
  const a = Math.abs(x)
  const t = 1 / (1 + 0.3275911 * a)
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
  return sign * (1 - poly * Math.exp(-a * a))
}

/** MONAI gaussian_1d(sigma, truncated, approx='erf', normalize=False); [1] for sigma <= 0. */
export function gaussianKernel1d(sigma: number, truncated: number = ELASTIC_TRUNCATION): Float64Array {
  if (!(sigma > 0)) return Float64Array.of(1)
  const tail = Math.floor(Math.max(sigma * truncated, 0.5) + 0.5)
  const t = 0.70710678 / sigma
  const kernel = new Float64Array(2 * tail + 1)
  for (let x = -tail; x <= tail; x++) kernel[x + tail] = Math.max(0, 0.5 * (erf(t * (x + 0.5)) - erf(t * (x - 0.5))))
  return kernel
}

/**
 * dst = src filtered along `axis` with `kernel` (odd length, symmetric, centred), zero outside the
 * volume. The volume is walked as [outer][len][stride] so the innermost loop runs over contiguous
 * memory; away from the ends, symmetric taps are paired (k_t (a + b)), half the multiplies. The
 * summation order differs from a plain convolution by float rounding only.
 */
function filterAxis(src: Float32Array, dst: Float32Array, dims: Vec3, axis: 0 | 1 | 2, kernel: Float64Array): void {
  const len = dims[axis]
  const stride = axis === 0 ? 1 : axis === 1 ? dims[0] : dims[0] * dims[1]
  const taps = kernel.length
  const tail = (taps - 1) / 2
  const centre = kernel[tail]
  const lineLength = len * stride
  for (let lineBase = 0; lineBase < src.length; lineBase += lineLength) {
    for (let x = 0; x < len; x++) {
      const c = lineBase + x * stride
      if (x >= tail && x < len - tail) {
        if (stride === 1) {
          let acc = centre * src[c]
          for (let t = 1; t <= tail; t++) acc += kernel[tail + t] * (src[c - t] + src[c + t])
          dst[c] = acc
        } else {
          for (let s = c; s < c + stride; s++) {
            let acc = centre * src[s]
            for (let t = 1, o = stride; t <= tail; t++, o += stride) acc += kernel[tail + t] * (src[s - o] + src[s + o])
            dst[s] = acc
          }
        }
      } else {
        // Near the ends: only the taps that land inside the volume (zero padding).
        const tLo = Math.max(0, tail - x)
        const tHi = Math.min(taps, len - x + tail)
        for (let s = c; s < c + stride; s++) {
          let acc = 0
          for (let t = tLo; t < tHi; t++) acc += kernel[t] * src[s + (t - tail) * stride]
          dst[s] = acc
        }
      }
    }
  }
}

/** One component-major [3, n] displacement field in voxels, drawn as MONAI does (see header). */
export function drawElasticDisplacement(dims: Vec3, rng: () => number, settings: ElasticSettings): Float32Array {
  const n = voxelsOf(dims)
  const field = new Float32Array(3 * n)
  for (let v = 0; v < field.length; v++) field[v] = 2 * rng() - 1
  const magnitude = uniformBetween(rng, settings.magnitude[0], settings.magnitude[1])
  const sigma = uniformBetween(rng, settings.sigma[0], settings.sigma[1])
  const kernel = gaussianKernel1d(sigma)
  if (kernel.length > 1) {
    const a = new Float32Array(n)
    const b = new Float32Array(n)
    for (let c = 0; c < 3; c++) {
      const component = field.subarray(c * n, (c + 1) * n)
      filterAxis(component, a, dims, 0, kernel)
      filterAxis(a, b, dims, 1, kernel)
      filterAxis(b, component, dims, 2, kernel)
    }
  } else {
    const w = kernel[0]
    for (let v = 0; v < field.length; v++) field[v] *= w
  }
  for (let v = 0; v < field.length; v++) field[v] *= magnitude
  return field
}

/** Deform by a given displacement field ([3, n], voxels; deterministic; new arrays). */
export function applyDisplacement(sample: TrainingPatch, displacement: Float32Array): TrainingPatch {
  return resamplePatch(sample, { linear: IDENTITY_LINEAR, offset: [0, 0, 0], displacement })
}

/** With probability settings.p, a random elastic deformation; otherwise an unchanged copy. */
export function randomElastic(sample: TrainingPatch, rng: () => number, settings: ElasticSettings): TrainingPatch {
  assertPatch('randomElastic', sample)
  if (!(rng() < settings.p)) return copyPatch(sample)
  return applyDisplacement(sample, drawElasticDisplacement(sample.dims, rng, settings))
}
