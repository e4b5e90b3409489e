import type { Vec3 } from '../../shared/geometry'

/**
 * Separable Gaussian blur of a volume, standing in for the scanner's point spread function.
 */

export const FWHM_PER_SIGMA = 2 * Math.sqrt(2 * Math.LN2)

/** Normalised 1-D Gaussian taps out to 3 sigma (at least the centre tap). */
export function gaussianKernel(sigmaVox: number): Float32Array {
  const radius = sigmaVox > 0 ? Math.ceil(3 * sigmaVox) : 0
  const taps = new Float32Array(2 * radius + 1)
  let sum = 0
  for (let t = -radius; t <= radius; t++) {
    const w = radius === 0 ? 1 : Math.exp(-(t * t) / (2 * sigmaVox * sigmaVox))
    taps[t + radius] = w
    sum += w
  }
  for (let t = 0; t < taps.length; t++) taps[t] /= sum
  return taps
}

/**
 * Blurs `voxels` (axis 0 fastest) in place with a Gaussian of the given sigma per axis, in voxels.
 * Edges replicate the border voxel, so nothing leaks out of (or darkens at) the field of view.
 * Each pass keeps its innermost loop contiguous in memory, which is what makes it fast in JS.
 */
export function gaussianBlur3d(voxels: Float32Array, dims: Vec3, sigmaVox: Vec3): void {
  const scratch = new Float32Array(voxels.length)
  blurAxis0(voxels, scratch, dims, gaussianKernel(sigmaVox[0]))
  blurStrided(scratch, voxels, dims, 1, gaussianKernel(sigmaVox[1]))
  blurStrided(voxels, scratch, dims, 2, gaussianKernel(sigmaVox[2]))
  voxels.set(scratch)
}

function blurAxis0(src: Float32Array, dst: Float32Array, dims: Vec3, taps: Float32Array): void {
  const nx = dims[0]
  const rows = dims[1] * dims[2]
  const radius = (taps.length - 1) / 2
  // Padded copy of one row so the tap loop needs no bounds checks.
  const line = new Float32Array(nx + 2 * radius)
  for (let r = 0; r < rows; r++) {
    const base = r * nx
    for (let i = 0; i < radius; i++) {
      line[i] = src[base]
      line[radius + nx + i] = src[base + nx - 1]
    }
    line.set(src.subarray(base, base + nx), radius)
    for (let i = 0; i < nx; i++) {
      let acc = 0
      for (let t = 0; t < taps.length; t++) acc += taps[t] * line[i + t]
      dst[base + i] = acc
    }
  }
}

/**
 * Blur along axis 1 or 2: accumulate whole contiguous rows (axis 1) or planes (axis 2) of the
 * neighbour, scaled by its tap.
 */
function blurStrided(src: Float32Array, dst: Float32Array, dims: Vec3, axis: 1 | 2, taps: Float32Array): void {
  const [nx, ny, nz] = dims
  const radius = (taps.length - 1) / 2
  // A "line" element along the axis is a run of `runLength` contiguous voxels `stride` apart.
  const runLength = axis === 1 ? nx : nx * ny
  const stride = runLength
  const n = axis === 1 ? ny : nz
  const outer = axis === 1 ? nz : 1
  const outerStride = nx * ny * (axis === 1 ? 1 : nz)
  for (let o = 0; o < outer; o++) {
    const block = o * outerStride
    for (let m = 0; m < n; m++) {
      const out = block + m * stride
      dst.fill(0, out, out + runLength)
      for (let t = 0; t < taps.length; t++) {
        const from = block + Math.min(n - 1, Math.max(0, m + t - radius)) * stride
        const w = taps[t]
        for (let i = 0; i < runLength; i++) dst[out + i] += w * src[from + i]
      }
    }
  }
}
