import type { Vec3 } from '../../../shared/geometry'
import { neighbourOffsets, type Connectivity } from '../../metrics/connectedComponents'
import { Bitmap, type VoxelEdit } from './edits'

/**
 * Lesion-level edits on the working mask. A mask is either binary (every lesion voxel 1) or
 * multi-label (each lesion its own value 1..255, as `lesionsFromSegments` reads it).
 */

export interface ComponentOptions {
  /** Multi-label masks: join only voxels holding the clicked voxel's value (default true). */
  sameValue?: boolean
}

/**
 * The connected component under a voxel: its indices, sorted. Empty when the voxel is background.
 * Breadth first with a bitmap over the grid (1/8 byte per voxel).
 */
export function componentAt(
  mask: Uint8Array, dims: Vec3, voxel: Vec3, connectivity: Connectivity = 18, options: ComponentOptions = {},
): Int32Array {
  const [nx, ny, nz] = dims
  if (mask.length !== nx * ny * nz) throw new RangeError(`mask has ${mask.length} voxels, the grid ${nx * ny * nz}`)
  const [si, sj, sk] = voxel.map(Math.round)
  if (si < 0 || sj < 0 || sk < 0 || si >= nx || sj >= ny || sk >= nz) return new Int32Array(0)
  const start = si + nx * (sj + ny * sk)
  const value = mask[start]
  if (value === 0) return new Int32Array(0)
  const sameValue = options.sameValue !== false
  const offsets = neighbourOffsets(connectivity)
  const visited = new Bitmap(mask.length)
  let queue = new Int32Array(1024)
  queue[0] = start
  visited.set(start)
  let head = 0
  let tail = 1
  while (head < tail) {
    const p = queue[head++]
    const i = p % nx
    const q = (p - i) / nx
    const j = q % ny
    const k = (q - j) / ny
    for (const [di, dj, dk] of offsets) {
      const a = i + di
      const b = j + dj
      const c = k + dk
      if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue
      const r = a + nx * (b + ny * c)
      const v = mask[r]
      if (v === 0 || (sameValue && v !== value) || visited.has(r)) continue
      visited.set(r)
      if (tail === queue.length) {
        const bigger = new Int32Array(queue.length * 2)
        bigger.set(queue)
        queue = bigger
      }
      queue[tail++] = r
    }
  }
  return queue.slice(0, tail).sort()
}

/** Click-to-delete: erase the component under the click. */
export function deleteLesionAt(
  mask: Uint8Array, dims: Vec3, voxel: Vec3, connectivity: Connectivity = 18, options: ComponentOptions = {},
): VoxelEdit {
  return { voxels: componentAt(mask, dims, voxel, connectivity, options), value: 0 }
}

/**
 * Merge lesions of a multi-label mask: every voxel holding one of `labels` gets `into`. A lesion of a
 * multi-label mask is its value (it need not be connected), so this is a relabelling, nothing is
 * painted. On a binary mask all lesions share value 1 and merging is a no-op (empty edit): joining two
 * blobs there would mean painting a bridge, which is a brush stroke, not a merge.
 */
export function mergeLesions(mask: Uint8Array, labels: readonly number[], into: number): VoxelEdit {
  const take = new Uint8Array(256)
  for (const l of labels) if (l !== into && l > 0 && l < 256) take[l] = 1
  let n = 0
  for (let p = 0; p < mask.length; p++) if (take[mask[p]]) n++
  const voxels = new Int32Array(n)
  n = 0
  for (let p = 0; p < mask.length; p++) if (take[mask[p]]) voxels[n++] = p
  return { voxels, value: into }
}

/** Merge the lesions under two clicks: B's label becomes A's (no-op when they already share one). */
export function mergeLesionsAt(mask: Uint8Array, dims: Vec3, keep: Vec3, absorb: Vec3): VoxelEdit {
  const at = (v: Vec3): number => mask[v[0] + dims[0] * (v[1] + dims[1] * v[2])]
  const a = at(keep)
  const b = at(absorb)
  if (a === 0 || b === 0) return { voxels: new Int32Array(0), value: a }
  return mergeLesions(mask, [b], a)
}

export type SplitRule =
  /** Voxels whose centre lies on the side `normal` points to (dot > 0) go to part B. Index space, scaled by spacing. */
  | { kind: 'plane'; point: Vec3; normal: Vec3 }
  /**
   * Each voxel goes to the nearer seed. 'euclidean': straight-line mm distance. 'geodesic': fewest
   * steps (at the given connectivity) inside the component, from both seeds at once, ties to A; the
   * right choice for bent or dumbbell lesions. Voxel steps, not mm, so on anisotropic grids the geodesic
   * boundary leans toward the coarse axis. Seeds outside the component snap to its nearest voxel (mm).
   */
  | { kind: 'seeds'; seeds: [Vec3, Vec3]; metric: 'geodesic' | 'euclidean' }

export interface SplitResult {
  /** Sorted; together a and b are exactly the component. */
  a: Int32Array
  b: Int32Array
  /** Voxels of b touching a (at the connectivity): erasing them splits a binary mask in two. */
  boundary: Int32Array
}

/**
 * Split one lesion (its component voxels, sorted, e.g. from `componentAt`) into two parts. For a
 * multi-label mask write `{ voxels: b, value: newLabel }`; for a binary mask erase `boundary`.
 */
export function splitLesion(
  dims: Vec3, componentVoxels: Int32Array, rule: SplitRule, spacingMm: Vec3 = [1, 1, 1], connectivity: Connectivity = 18,
): SplitResult {
  const [nx, ny] = dims
  const n = componentVoxels.length
  if (n === 0) return { a: new Int32Array(0), b: new Int32Array(0), boundary: new Int32Array(0) }
  const inB = new Uint8Array(n)
  const coord = (p: number): Vec3 => {
    const i = p % nx
    const q = (p - i) / nx
    const j = q % ny
    return [i, j, (q - j) / ny]
  }
  if (rule.kind === 'plane') {
    const { point, normal } = rule
    for (let m = 0; m < n; m++) {
      const v = coord(componentVoxels[m])
      let dot = 0
      for (let a = 0; a < 3; a++) dot += (v[a] - point[a]) * spacingMm[a] * normal[a]
      inB[m] = dot > 0 ? 1 : 0
    }
  } else {
    const seeds = rule.seeds.map((s) => nearestMember(componentVoxels, coord, s, spacingMm))
    if (rule.metric === 'euclidean') {
      for (let m = 0; m < n; m++) {
        const v = coord(componentVoxels[m])
        inB[m] = dist2(v, coord(componentVoxels[seeds[1]]), spacingMm) < dist2(v, coord(componentVoxels[seeds[0]]), spacingMm) ? 1 : 0
      }
    } else {
      geodesicSplit(dims, componentVoxels, seeds as [number, number], inB, connectivity)
    }
  }
  let nb = 0
  for (let m = 0; m < n; m++) nb += inB[m]
  const a = new Int32Array(n - nb)
  const b = new Int32Array(nb)
  let x = 0
  let y = 0
  for (let m = 0; m < n; m++) {
    if (inB[m]) b[y++] = componentVoxels[m]
    else a[x++] = componentVoxels[m]
  }
  return { a, b, boundary: touching(dims, b, a, connectivity) }
}

function dist2(u: Vec3, v: Vec3, s: Vec3): number {
  const x = (u[0] - v[0]) * s[0]
  const y = (u[1] - v[1]) * s[1]
  const z = (u[2] - v[2]) * s[2]
  return x * x + y * y + z * z
}

/** Position in the list of the component voxel nearest (mm) a point. */
function nearestMember(voxels: Int32Array, coord: (p: number) => Vec3, point: Vec3, s: Vec3): number {
  let best = 0
  let bestD = Infinity
  for (let m = 0; m < voxels.length; m++) {
    const d = dist2(coord(voxels[m]), point, s)
    if (d < bestD) {
      bestD = d
      best = m
    }
  }
  return best
}

/** Index of p in a sorted list, -1 if absent. */
function find(sorted: Int32Array, p: number): number {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid] < p) lo = mid + 1
    else if (sorted[mid] > p) hi = mid - 1
    else return mid
  }
  return -1
}

function geodesicSplit(dims: Vec3, voxels: Int32Array, seeds: [number, number], inB: Uint8Array, connectivity: Connectivity): void {
  const [nx, ny, nz] = dims
  const n = voxels.length
  const owner = new Int8Array(n).fill(-1)
  const queue = new Int32Array(n)
  let head = 0
  let tail = 0
  // A first, so equal-distance voxels (reached in the same BFS layer) fall to A.
  owner[seeds[0]] = 0
  queue[tail++] = seeds[0]
  if (owner[seeds[1]] === -1) {
    owner[seeds[1]] = 1
    queue[tail++] = seeds[1]
  }
  const offsets = neighbourOffsets(connectivity)
  while (head < tail) {
    const m = queue[head++]
    const p = voxels[m]
    const i = p % nx
    const q = (p - i) / nx
    const j = q % ny
    const k = (q - j) / ny
    for (const [di, dj, dk] of offsets) {
      const a = i + di
      const b = j + dj
      const c = k + dk
      if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue
      const r = find(voxels, a + nx * (b + ny * c))
      if (r < 0 || owner[r] !== -1) continue
      owner[r] = owner[m]
      queue[tail++] = r
    }
  }
  // Unreached voxels (a list that was not one component) stay with A.
  for (let m = 0; m < n; m++) inB[m] = owner[m] === 1 ? 1 : 0
}

/** Voxels of `from` with a neighbour in `other` (both sorted). */
function touching(dims: Vec3, from: Int32Array, other: Int32Array, connectivity: Connectivity): Int32Array {
  const [nx, ny, nz] = dims
  const offsets = neighbourOffsets(connectivity)
  const out: number[] = []
  for (let m = 0; m < from.length; m++) {
    const p = from[m]
    const i = p % nx
    const q = (p - i) / nx
    const j = q % ny
    const k = (q - j) / ny
    for (const [di, dj, dk] of offsets) {
      const a = i + di
      const b = j + dj
      const c = k + dk
      if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue
      if (find(other, a + nx * (b + ny * c)) >= 0) {
        out.push(p)
        break
      }
    }
  }
  return Int32Array.from(out)
}
