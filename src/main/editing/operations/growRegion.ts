import type { Vec3 } from '../../../shared/geometry'
import { neighbourOffsets, type Connectivity } from '../../metrics/connectedComponents'
import { Bitmap } from './edits'

/**
 * Click-to-segment: region growing from a click on the PET at a fraction of the local SUVmax (the
 * 41 % / 50 % isocontour conventions) or at a fixed SUV (2.5, 4.0).
 *
 * 1. The local SUVmax is the hottest voxel within `searchRadiusVoxels` of the click (exhaustive, so
 *    noise cannot trap it), then a steepest-ascent climb from there over 26-neighbours inside the box:
 *    a click on the rim of a large lesion still finds the lesion's peak, and the climb stops at a local
 *    maximum, so it never crosses a cooler gap into a neighbouring structure.
 * 2. The region is the connected set (`connectivity`) of voxels >= threshold reached from that peak,
 *    bounded by the box and capped at `maxVoxels` (breadth first, so a capped region is the part
 *    nearest the peak: a sensible live preview).
 *
 * The absolute rule starts from the same peak; when even the peak is below the threshold (a click on
 * background) the region is empty. `truncated` means the region would have grown further without the
 * box or the cap.
 */

export type GrowRule =
  | {
      kind: 'percentOfMax'
      /** 41 and 50 are the usual presets. */
      percent: number
      /** Half-width of the cube searched for the local max around the click; default ~10 mm. */
      searchRadiusVoxels?: number
    }
  | { kind: 'absolute'; suv: number; searchRadiusVoxels?: number }

export interface GrowLimit {
  /** Inclusive voxel index box; default: the click +- `DEFAULT_BOX_HALF_WIDTH_MM` per axis. */
  box?: { min: Vec3; max: Vec3 }
  /** Default `DEFAULT_MAX_VOXELS`. */
  maxVoxels?: number
}

export interface GrowResult {
  /** Sorted voxel indices of the region. */
  voxels: Int32Array
  thresholdSuv: number
  localMaxSuv: number
  localMaxVoxel: Vec3
  truncated: boolean
}

export const PERCENT_PRESETS = [41, 50] as const
export const ABSOLUTE_SUV_PRESETS = [2.5, 4.0] as const
export const DEFAULT_BOX_HALF_WIDTH_MM = 50
export const DEFAULT_SEARCH_RADIUS_MM = 10
/** About 4 L at 4 mm voxels: beyond any lesion, small enough for a live preview. */
export const DEFAULT_MAX_VOXELS = 1_000_000
/** The climb is a short walk on a peak; this only bounds pathological (plateau-free ramp) images. */
const MAX_CLIMB_STEPS = 10_000

/**
 * @param seed clicked voxel index (i, j, k), inside the grid.
 * @param spacingMm voxel spacing; needed for the default box and search radius (without it both fall
 *   back to 1 mm voxels).
 */
export function growLesion(
  pet: Float32Array,
  dims: Vec3,
  seed: Vec3,
  rule: GrowRule,
  limit: GrowLimit = {},
  connectivity: Connectivity = 18,
  spacingMm: Vec3 = [1, 1, 1],
): GrowResult {
  const [nx, ny, nz] = dims
  if (pet.length !== nx * ny * nz) throw new RangeError(`PET has ${pet.length} voxels, the grid ${nx * ny * nz}`)
  const s = seed.map(Math.round) as Vec3
  if (s.some((v, a) => v < 0 || v >= dims[a])) throw new RangeError(`seed ${seed.join(',')} lies outside the grid`)
  const { lo, hi } = clipBox(dims, limit.box ?? defaultBox(s, spacingMm))
  if (s.some((v, a) => v < lo[a] || v > hi[a])) throw new RangeError('seed lies outside the box')
  const maxVoxels = Math.max(0, Math.floor(limit.maxVoxels ?? DEFAULT_MAX_VOXELS))

  const radius = rule.searchRadiusVoxels !== undefined
    ? ([rule.searchRadiusVoxels, rule.searchRadiusVoxels, rule.searchRadiusVoxels] as Vec3)
    : (spacingMm.map((mm) => Math.max(1, Math.round(DEFAULT_SEARCH_RADIUS_MM / mm))) as Vec3)
  const peak = climb(pet, dims, searchMax(pet, dims, s, radius, lo, hi), lo, hi)
  const localMaxSuv = pet[peak]
  const thresholdSuv = rule.kind === 'percentOfMax' ? (rule.percent / 100) * localMaxSuv : rule.suv
  const localMaxVoxel = unflatten(dims, peak)
  const empty = { voxels: new Int32Array(0), thresholdSuv, localMaxSuv, localMaxVoxel, truncated: false }
  // A cold (or non-finite) peak: nothing to grow. A percent rule on SUV <= 0 would take everything.
  if (!(localMaxSuv >= thresholdSuv) || !(localMaxSuv > 0) || maxVoxels === 0) return empty

  const { voxels, truncated } = flood(pet, dims, peak, thresholdSuv, lo, hi, maxVoxels, connectivity)
  return { voxels, thresholdSuv, localMaxSuv, localMaxVoxel, truncated }
}

function defaultBox(seed: Vec3, spacingMm: Vec3): { min: Vec3; max: Vec3 } {
  const half = spacingMm.map((mm) => Math.max(1, Math.round(DEFAULT_BOX_HALF_WIDTH_MM / mm)))
  return {
    min: [seed[0] - half[0], seed[1] - half[1], seed[2] - half[2]],
    max: [seed[0] + half[0], seed[1] + half[1], seed[2] + half[2]],
  }
}

function clipBox(dims: Vec3, box: { min: Vec3; max: Vec3 }): { lo: Vec3; hi: Vec3 } {
  const lo = [0, 1, 2].map((a) => Math.max(0, Math.ceil(box.min[a]))) as Vec3
  const hi = [0, 1, 2].map((a) => Math.min(dims[a] - 1, Math.floor(box.max[a]))) as Vec3
  return { lo, hi }
}

function unflatten(dims: Vec3, p: number): Vec3 {
  const i = p % dims[0]
  const q = (p - i) / dims[0]
  const j = q % dims[1]
  return [i, j, (q - j) / dims[1]]
}

/** Hottest voxel in the cube of half-width `radius` around the seed, clipped to the box; ties: the first. */
function searchMax(pet: Float32Array, dims: Vec3, s: Vec3, radius: Vec3, lo: Vec3, hi: Vec3): number {
  const [nx, ny] = dims
  let best = s[0] + nx * (s[1] + ny * s[2])
  let bestSuv = pet[best]
  // Prefer the seed itself on ties (and when NaN fills the neighbourhood).
  if (!(bestSuv === bestSuv)) bestSuv = -Infinity
  for (let k = Math.max(lo[2], s[2] - radius[2]); k <= Math.min(hi[2], s[2] + radius[2]); k++) {
    for (let j = Math.max(lo[1], s[1] - radius[1]); j <= Math.min(hi[1], s[1] + radius[1]); j++) {
      const row = nx * (j + ny * k)
      for (let i = Math.max(lo[0], s[0] - radius[0]); i <= Math.min(hi[0], s[0] + radius[0]); i++) {
        if (pet[row + i] > bestSuv) {
          bestSuv = pet[row + i]
          best = row + i
        }
      }
    }
  }
  return best
}

function climb(pet: Float32Array, dims: Vec3, start: number, lo: Vec3, hi: Vec3): number {
  const [nx, ny] = dims
  let p = start
  for (let step = 0; step < MAX_CLIMB_STEPS; step++) {
    const [i, j, k] = unflatten(dims, p)
    let next = p
    let nextSuv = pet[p]
    for (let dk = -1; dk <= 1; dk++) {
      const k2 = k + dk
      if (k2 < lo[2] || k2 > hi[2]) continue
      for (let dj = -1; dj <= 1; dj++) {
        const j2 = j + dj
        if (j2 < lo[1] || j2 > hi[1]) continue
        for (let di = -1; di <= 1; di++) {
          const i2 = i + di
          if (i2 < lo[0] || i2 > hi[0]) continue
          const q = i2 + nx * (j2 + ny * k2)
          if (pet[q] > nextSuv) {
            nextSuv = pet[q]
            next = q
          }
        }
      }
    }
    if (next === p) return p
    p = next
  }
  return p
}

/**
 * Breadth-first fill. The queue doubles as the result (every queued voxel is accepted), the visited set
 * is a bitmap over the box only.
 */
function flood(
  pet: Float32Array, dims: Vec3, start: number, threshold: number, lo: Vec3, hi: Vec3, maxVoxels: number,
  connectivity: Connectivity,
): { voxels: Int32Array; truncated: boolean } {
  const [nx, ny, nz] = dims
  const bx = hi[0] - lo[0] + 1
  const by = hi[1] - lo[1] + 1
  const bz = hi[2] - lo[2] + 1
  const boxVoxels = bx * by * bz
  const offsets = neighbourOffsets(connectivity)
  const n = offsets.length
  const di = new Int32Array(n)
  const dj = new Int32Array(n)
  const dk = new Int32Array(n)
  const dGlobal = new Int32Array(n)
  const dLocal = new Int32Array(n)
  offsets.forEach(([a, b, c], m) => {
    di[m] = a
    dj[m] = b
    dk[m] = c
    dGlobal[m] = a + nx * (b + ny * c)
    dLocal[m] = a + bx * (b + by * c)
  })
  const visited = new Bitmap(boxVoxels)
  const queue = new Int32Array(Math.min(maxVoxels, boxVoxels))
  const queueLocal = new Int32Array(queue.length)
  const [i0, j0, k0] = unflatten(dims, start)
  queue[0] = start
  queueLocal[0] = i0 - lo[0] + bx * (j0 - lo[1] + by * (k0 - lo[2]))
  visited.set(queueLocal[0])
  let head = 0
  let tail = 1
  let truncated = false
  outer: while (head < tail) {
    const p = queue[head]
    const pl = queueLocal[head++]
    const li = pl % bx
    const lq = (pl - li) / bx
    const lj = lq % by
    const lk = (lq - lj) / by
    // Interior of the box: no bound checks per neighbour.
    if (li > 0 && lj > 0 && lk > 0 && li < bx - 1 && lj < by - 1 && lk < bz - 1) {
      for (let m = 0; m < n; m++) {
        const ql = pl + dLocal[m]
        if (visited.has(ql)) continue
        const q = p + dGlobal[m]
        if (!(pet[q] >= threshold)) continue
        visited.set(ql)
        if (tail === maxVoxels) {
          truncated = true
          break outer
        }
        queue[tail] = q
        queueLocal[tail++] = ql
      }
      continue
    }
    for (let m = 0; m < n; m++) {
      const a = li + di[m]
      const b = lj + dj[m]
      const c = lk + dk[m]
      const q = p + dGlobal[m]
      if (a < 0 || b < 0 || c < 0 || a >= bx || b >= by || c >= bz) {
        // Outside the box: would the region have carried on there?
        const gi = a + lo[0]
        const gj = b + lo[1]
        const gk = c + lo[2]
        if (!truncated && gi >= 0 && gj >= 0 && gk >= 0 && gi < nx && gj < ny && gk < nz && pet[q] >= threshold) truncated = true
        continue
      }
      const ql = pl + dLocal[m]
      if (visited.has(ql)) continue
      if (!(pet[q] >= threshold)) continue
      visited.set(ql)
      if (tail === maxVoxels) {
        truncated = true
        break outer
      }
      queue[tail] = q
      queueLocal[tail++] = ql
    }
  }
  return { voxels: queue.slice(0, tail).sort(), truncated }
}
