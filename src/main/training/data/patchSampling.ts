/**
 * Lesion-centred patch sampling, as MONAI RandCropByPosNegLabeld(pos=2, neg=1) followed by a zero
 * SpatialPadd for volumes smaller than the patch.
 *
 * Deviation from MONAI, on purpose: MONAI's "negative" centres are drawn from the background voxels
 * (label 0, and image > image_threshold when an image is given); here a negative pick is a uniformly
 * random voxel of the whole volume, as the method brief asks. Lesions are a tiny fraction of a
 * whole-body volume, so the two differ by far less than the sampling noise, and we avoid building a
 * list of every background voxel (tens of millions of indices) per volume.
 */
import type { Vec3 } from '../../../shared/geometry'
import { patchSpan } from '../../inference/slidingWindow/patch'
import { assertVolume, voxelsOf, type TrainingPatch } from './patchLayout'
import { randomIndex } from './randomDeviates'

/** pos / (pos + neg) with MONAI's pos = 2, neg = 1. */
export const FOREGROUND_PROBABILITY = 2 / 3

function assertPatchSize(where: string, patch: Vec3): void {
  if (!patch.every((d) => Number.isInteger(d) && d >= 1)) throw new RangeError(`${where}: patch must be positive integers (got ${patch.join('x')})`)
}

/**
 * The first voxel (volume coordinates) of a `patch`-sized window.
 *
 * With probability `foregroundProbability` the window is centred on a uniformly chosen lesion voxel
 * (label != 0, as MONAI's `label > 0`), otherwise on a uniformly random voxel; a volume without lesion
 * voxels always takes the uniform pick (MONAI likewise falls back to negatives). One rng draw decides
 * positive/negative and one picks the voxel, always in that order.
 *
 * Per axis, with n the volume size and p the patch size:
 *  - n >= p: the centre c gives origin c - floor(p/2), clamped to [0, n - p], so the window lies inside
 *    the volume (MONAI `correct_crop_centers` then `SpatialCrop(roi_center, roi_size)`);
 *  - n < p: the origin is -floor((p - n) / 2), NEGATIVE: the whole axis is taken and centred in the
 *    patch, zero padding before and after (MONAI allow_smaller=True keeps the whole axis, SpatialPad's
 *    default 'symmetric' method then pads floor((p - n) / 2) before). `cropPatch` fills the padding.
 */
export function samplePatchOrigin(
  dims: Vec3,
  patch: Vec3,
  label: ArrayLike<number>,
  rng: () => number,
  foregroundProbability: number = FOREGROUND_PROBABILITY,
): Vec3 {
  assertPatchSize('samplePatchOrigin', patch)
  const n = voxelsOf(dims)
  if (label.length !== n) throw new RangeError(`samplePatchOrigin: label length ${label.length} != voxels ${n}`)
  if (!(foregroundProbability >= 0 && foregroundProbability <= 1)) {
    throw new RangeError(`samplePatchOrigin: foregroundProbability must be in [0, 1] (got ${foregroundProbability})`)
  }

  const positive = rng() < foregroundProbability
  let lesionCount = 0
  if (positive) for (let v = 0; v < n; v++) if (label[v] !== 0) lesionCount++

  let centre: number
  if (positive && lesionCount > 0) {
    // The r-th lesion voxel in voxel order, found by a second scan instead of a list of all indices.
    let r = randomIndex(rng, lesionCount)
    centre = -1
    for (let v = 0; v < n; v++) {
      if (label[v] !== 0 && r-- === 0) {
        centre = v
        break
      }
    }
  } else {
    centre = randomIndex(rng, n)
  }

  const c: Vec3 = [centre % dims[0], Math.floor(centre / dims[0]) % dims[1], Math.floor(centre / (dims[0] * dims[1]))]
  const origin: Vec3 = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    const p = patch[a]
    const size = dims[a]
    origin[a] = size >= p ? Math.min(size - p, Math.max(0, c[a] - Math.floor(p / 2))) : -Math.floor((p - size) / 2)
  }
  return origin
}

/**
 * The `patch`-sized window of image and label whose first voxel is `origin` (volume coordinates, may be
 * negative or reach past the volume); voxels outside the volume are 0 in every image channel and in
 * the label (MONAI SpatialPad's constant 0: for channel 0, CT scaled to [0, 1], 0 is air).
 */
export function cropPatch(
  image: Float32Array,
  channels: number,
  dims: Vec3,
  label: Uint8Array,
  origin: Vec3,
  patch: Vec3,
): TrainingPatch {
  assertVolume('cropPatch', image, channels, dims, label)
  assertPatchSize('cropPatch', patch)
  if (!origin.every(Number.isInteger)) throw new RangeError(`cropPatch: origin must be integers (got ${origin.join(',')})`)
  const n = voxelsOf(dims)
  const m = voxelsOf(patch)
  const outImage = new Float32Array(channels * m)
  const outLabel = new Uint8Array(m)
  const { lo, hi } = patchSpan(origin, patch, dims)
  if (hi[0] > lo[0] && hi[1] > lo[1] && hi[2] > lo[2]) {
    const rowLength = hi[0] - lo[0]
    for (let z = lo[2]; z < hi[2]; z++) {
      for (let y = lo[1]; y < hi[1]; y++) {
        const src = origin[0] + lo[0] + dims[0] * (origin[1] + y + dims[1] * (origin[2] + z))
        const dst = lo[0] + patch[0] * (y + patch[1] * z)
        outLabel.set(label.subarray(src, src + rowLength), dst)
        for (let ch = 0; ch < channels; ch++) {
          outImage.set(image.subarray(ch * n + src, ch * n + src + rowLength), ch * m + dst)
        }
      }
    }
  }
  return { image: outImage, channels, dims: [patch[0], patch[1], patch[2]], label: outLabel }
}
