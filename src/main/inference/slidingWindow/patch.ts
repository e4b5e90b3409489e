/**
 * Moving windows between our volumes and the network's tensor layout.
 *
 * Volumes: channel-major, each channel in our voxel order, element (c, x, y, z) at
 * `c * n + x + n0 * (y + n1 * z)` (axis 0 fastest). Patches: ONNX/PyTorch [1, C, D, H, W], C-contiguous,
 * with D = our axis 0, H = axis 1, W = axis 2 (see preprocess/pipeline.ts), element (c, a, b, d) at
 * `((c * r0 + a) * r1 + b) * r2 + d` (our axis 2 fastest). Copying between the two is a transpose; it is
 * done in 16 x 16 tiles so that both sides stay in cache.
 */
import type { Vec3 } from '../../../shared/geometry'

const TILE = 16

/** Where a window (given by its first voxel on the volume, possibly negative) meets the volume. */
export interface PatchSpan {
  /** Volume coordinate of the patch's first voxel, per axis (negative inside the zero padding). */
  origin: Vec3
  /** Patch-coordinate range [lo, hi) that lies inside the volume, per axis. */
  lo: Vec3
  hi: Vec3
}

export function patchSpan(origin: Vec3, roi: Vec3, dims: Vec3): PatchSpan {
  const lo: Vec3 = [0, 0, 0]
  const hi: Vec3 = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, -origin[a])
    hi[a] = Math.max(lo[a], Math.min(roi[a], dims[a] - origin[a]))
  }
  return { origin, lo, hi }
}

function spanIsFull(s: PatchSpan, roi: Vec3): boolean {
  return s.lo[0] === 0 && s.lo[1] === 0 && s.lo[2] === 0 && s.hi[0] === roi[0] && s.hi[1] === roi[1] && s.hi[2] === roi[2]
}

/**
 * Copy a window of `volume` (`channels` channels on `dims`) into `out` as [1, C, r0, r1, r2]; voxels of
 * the window outside the volume are 0 (MONAI pads with constant 0).
 */
export function extractPatch(
  volume: Float32Array,
  channels: number,
  dims: Vec3,
  origin: Vec3,
  roi: Vec3,
  out: Float32Array = new Float32Array(channels * roi[0] * roi[1] * roi[2]),
): Float32Array {
  const [n0, n1, n2] = dims
  const [r0, r1, r2] = roi
  const n = n0 * n1 * n2
  const plane = r1 * r2
  if (volume.length !== channels * n) throw new RangeError(`${volume.length} values are not ${channels} channels of ${dims.join('x')}`)
  if (out.length !== channels * r0 * plane) throw new RangeError(`patch buffer holds ${out.length} values, needs ${channels * r0 * plane}`)
  const s = patchSpan(origin, roi, dims)
  if (!spanIsFull(s, roi)) out.fill(0)
  const [a0, b0, d0] = s.lo
  const [a1, b1, d1] = s.hi
  const [o0, o1, o2] = origin
  for (let c = 0; c < channels; c++) {
    const vc = c * n + o0
    const pc = c * r0 * plane
    for (let b = b0; b < b1; b++) {
      const vb = vc + n0 * (o1 + b)
      const pb = pc + b * r2
      for (let dt = d0; dt < d1; dt += TILE) {
        const dEnd = Math.min(dt + TILE, d1)
        for (let at = a0; at < a1; at += TILE) {
          const aEnd = Math.min(at + TILE, a1)
          for (let d = dt; d < dEnd; d++) {
            let v = vb + n0 * n1 * (o2 + d) + at
            let p = pb + at * plane + d
            for (let a = at; a < aEnd; a++, v++, p += plane) out[p] = volume[v]
          }
        }
      }
    }
  }
  return out
}

/**
 * Add a network output window ([1, C, r0, r1, r2]) into `sum` (C channels on `dims`), times `weights`
 * ([r0, r1, r2], the importance map) when given; add the weights (or 1) to `count` when given. Window
 * voxels outside the volume (the zero padding) are dropped, which is MONAI's final crop of the padding.
 */
export function accumulatePatch(
  patch: Float32Array,
  channels: number,
  sum: Float32Array,
  dims: Vec3,
  origin: Vec3,
  roi: Vec3,
  weights: Float32Array | null,
  count: Float32Array | null,
): void {
  const [n0, n1, n2] = dims
  const [r0, r1, r2] = roi
  const n = n0 * n1 * n2
  const plane = r1 * r2
  if (patch.length !== channels * r0 * plane) throw new RangeError(`window output has ${patch.length} values, expected ${channels * r0 * plane}`)
  const s = patchSpan(origin, roi, dims)
  const [a0, b0, d0] = s.lo
  const [a1, b1, d1] = s.hi
  const [o0, o1, o2] = origin
  for (let c = 0; c < channels; c++) {
    const vc = c * n + o0
    const pc = c * r0 * plane
    const countHere = c === 0 ? count : null
    for (let b = b0; b < b1; b++) {
      const vb = vc + n0 * (o1 + b)
      const pb = pc + b * r2
      for (let dt = d0; dt < d1; dt += TILE) {
        const dEnd = Math.min(dt + TILE, d1)
        for (let at = a0; at < a1; at += TILE) {
          const aEnd = Math.min(at + TILE, a1)
          for (let d = dt; d < dEnd; d++) {
            let v = vb + n0 * n1 * (o2 + d) + at
            let p = pb + at * plane + d
            if (weights) {
              // The weight map has no channel axis: its index is the patch index less the channel offset.
              let q = p - pc
              for (let a = at; a < aEnd; a++, v++, p += plane, q += plane) {
                const w = weights[q]
                sum[v] += Math.fround(w * patch[p])
                if (countHere) countHere[v] += w
              }
            } else if (countHere) {
              for (let a = at; a < aEnd; a++, v++, p += plane) {
                sum[v] += patch[p]
                countHere[v] += 1
              }
            } else {
              for (let a = at; a < aEnd; a++, v++, p += plane) sum[v] += patch[p]
            }
          }
        }
      }
    }
  }
}

/** A whole volume as one [1, C, n0, n1, n2] tensor in the network's layout. */
export function volumeToNcdhw(volume: Float32Array, channels: number, dims: Vec3): Float32Array {
  return extractPatch(volume, channels, dims, [0, 0, 0], dims)
}

/** Inverse of `volumeToNcdhw`: a [1, C, n0, n1, n2] tensor back to our channel-major voxel order. */
export function ncdhwToVolume(tensor: Float32Array, channels: number, dims: Vec3): Float32Array {
  const out = new Float32Array(tensor.length)
  accumulatePatch(tensor, channels, out, dims, [0, 0, 0], dims, null, null)
  return out
}
