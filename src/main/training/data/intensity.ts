/**
 * Intensity augmentations on the image channels; the label is copied unchanged.
 *
 * Contrast, as MONAI RandAdjustContrastd(prob, gamma=(lo, hi)): one gamma ~ U(lo, hi) per sample, and
 * per channel
 *     x' = ((x - min) / (max - min + 1e-7))^gamma * (max - min) + min
 * so each channel keeps (to within the 1e-7 epsilon) its min and max and the map is monotonic. MONAI's
 * AdjustContrast takes min/max over the whole array it is given; per channel is what it computes when
 * CT and PET are separate keys of the dictionary (one gamma shared, as the dictionary transform draws
 * once), and is the right thing for two modalities on unrelated scales.
 *
 * Gaussian noise, as MONAI RandGaussianNoised(prob, mean=0, std=hi) with sample_std=True: one
 * std ~ U(lo, hi) per sample, then an independent N(0, std^2) deviate added to every image element.
 * Deviation: MONAI's dictionary version adds the SAME noise array to every key, so with CT and PET as
 * separate keys both channels would get identical noise; we draw it independently per channel (what
 * MONAI does for a concatenated multi-channel image), which is what "Gaussian noise" means.
 */
import { assertPatch, copyPatch, type TrainingPatch } from './patchLayout'
import { normalSampler, uniformBetween } from './randomDeviates'

export interface ContrastSettings {
  /** Probability of applying the transform. */
  readonly p: number
  /** Range of gamma. */
  readonly gamma: readonly [number, number]
}

export interface NoiseSettings {
  /** Probability of applying the transform. */
  readonly p: number
  /** Range of the noise standard deviation (in image units). */
  readonly std: readonly [number, number]
}

/** MONAI AdjustContrast's epsilon on the range. */
export const CONTRAST_EPSILON = 1e-7

/** Gamma on min-max normalised intensities, each of `channels` channels of `image`, in place. */
export function adjustContrastInPlace(image: Float32Array, channels: number, gamma: number): void {
  if (!(gamma > 0 && Number.isFinite(gamma))) throw new RangeError(`adjustContrast: gamma must be a positive number (got ${gamma})`)
  const n = image.length / channels
  for (let c = 0; c < channels; c++) {
    const channel = image.subarray(c * n, (c + 1) * n)
    let min = Infinity
    let max = -Infinity
    for (let v = 0; v < n; v++) {
      const x = channel[v]
      if (x < min) min = x
      if (x > max) max = x
    }
    const range = max - min
    const scale = 1 / (range + CONTRAST_EPSILON)
    // exp(gamma log u) is Math.pow(u, gamma) for u in [0, 1) at half the cost; u = 0 gives exp(-inf) = 0.
    for (let v = 0; v < n; v++) channel[v] = Math.exp(gamma * Math.log((channel[v] - min) * scale)) * range + min
  }
}

/** Adds N(0, std^2) to every image element, in place. */
export function addGaussianNoiseInPlace(image: Float32Array, std: number, rng: () => number): void {
  const normal = normalSampler(rng)
  for (let v = 0; v < image.length; v++) image[v] += std * normal()
}

/** A given gamma (deterministic; new arrays). */
export function adjustContrast(sample: TrainingPatch, gamma: number): TrainingPatch {
  assertPatch('adjustContrast', sample)
  const out = copyPatch(sample)
  adjustContrastInPlace(out.image, out.channels, gamma)
  return out
}

/** Noise of a given std (new arrays; the label is a copy). */
export function addGaussianNoise(sample: TrainingPatch, std: number, rng: () => number): TrainingPatch {
  assertPatch('addGaussianNoise', sample)
  const out = copyPatch(sample)
  addGaussianNoiseInPlace(out.image, std, rng)
  return out
}

/** Draws the gamma, or null when the transform is skipped (one rng draw decides). */
export function drawContrastGamma(rng: () => number, settings: ContrastSettings): number | null {
  return rng() < settings.p ? uniformBetween(rng, settings.gamma[0], settings.gamma[1]) : null
}

/** Draws the noise std, or null when the transform is skipped (one rng draw decides). */
export function drawNoiseStd(rng: () => number, settings: NoiseSettings): number | null {
  return rng() < settings.p ? uniformBetween(rng, settings.std[0], settings.std[1]) : null
}

/** With probability settings.p, a random gamma; otherwise an unchanged copy. */
export function randomContrast(sample: TrainingPatch, rng: () => number, settings: ContrastSettings): TrainingPatch {
  assertPatch('randomContrast', sample)
  const gamma = drawContrastGamma(rng, settings)
  return gamma === null ? copyPatch(sample) : adjustContrast(sample, gamma)
}

/** With probability settings.p, random Gaussian noise; otherwise an unchanged copy. */
export function randomGaussianNoise(sample: TrainingPatch, rng: () => number, settings: NoiseSettings): TrainingPatch {
  assertPatch('randomGaussianNoise', sample)
  const std = drawNoiseStd(rng, settings)
  return std === null ? copyPatch(sample) : addGaussianNoise(sample, std, rng)
}
