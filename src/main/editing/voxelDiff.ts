import type { Vec3 } from '../../shared/geometry'
import type { VoxelBox } from '../metrics/incremental'

/**
 * What one operation did to a uint8 label mask: the voxels it changed, as sorted runs of flat voxel
 * indices (index = i + nx * (j + ny * k)), with their values before and after. Storing both sides makes
 * the diff its own inverse, so undo, redo and journal replay need nothing else. A diff is treated as
 * immutable once made.
 */
export interface VoxelDiff {
  /** [start, length, start, length, ...], starts ascending, runs disjoint and non-adjacent. */
  runs: Int32Array
  /** Value of each run voxel before the operation, runs concatenated in order. */
  before: Uint8Array
  /** Value of each run voxel after the operation. */
  after: Uint8Array
  /** Inclusive (i, j, k) bounds of the changed voxels, for `IncrementalLesions.update`. */
  box: VoxelBox
}

export type Direction = 'redo' | 'undo'

/** A write into the mask: the edit calls it once per voxel it sets (repeats allowed). */
export type VoxelSetter = (index: number, value: number) => void

/**
 * Run `edit` against `mask` (it writes through `set`), and return exactly the voxels whose value ended
 * up different, or null when nothing changed. Writes that leave a voxel as it was are dropped, and a
 * voxel written several times keeps its first "before" and last "after".
 */
export function recordEdit(mask: Uint8Array, dims: Vec3, edit: (set: VoxelSetter) => void): VoxelDiff | null {
  checkMask(mask, dims)
  const n = mask.length
  // Original value of every voxel touched; a Map keeps the cost proportional to the stroke, not the volume.
  const original = new Map<number, number>()
  edit((index, value) => {
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new RangeError(`voxel index ${index} outside the mask (0..${n - 1})`)
    }
    if (!original.has(index)) original.set(index, mask[index])
    mask[index] = value
  })
  let changed = 0
  const indices = new Int32Array(original.size)
  for (const [index, before] of original) {
    if (mask[index] !== before) indices[changed++] = index
  }
  if (changed === 0) return null
  const sorted = indices.subarray(0, changed).sort()
  const before = new Uint8Array(changed)
  const after = new Uint8Array(changed)
  for (let v = 0; v < changed; v++) {
    before[v] = original.get(sorted[v])!
    after[v] = mask[sorted[v]]
  }
  const runs = runsOf(sorted)
  return { runs, before, after, box: boxOfRuns(runs, dims) }
}

/**
 * The diff between a snapshot taken before an operation and the mask after it, for operations that do
 * not write through a setter (a model re-run, a whole-volume threshold). `candidates` (any order, repeats
 * allowed) limits the comparison to voxels that may have changed; without it the whole volume is compared.
 */
export function diffFromChange(
  before: Uint8Array,
  after: Uint8Array,
  dims: Vec3,
  candidates?: ArrayLike<number>,
): VoxelDiff | null {
  checkMask(before, dims)
  checkMask(after, dims)
  let indices: Int32Array
  if (candidates) {
    const sorted = Int32Array.from(candidates).sort()
    let count = 0
    for (let c = 0; c < sorted.length; c++) {
      const index = sorted[c]
      if (index < 0 || index >= before.length) throw new RangeError(`voxel index ${index} outside the mask`)
      if ((c === 0 || index !== sorted[c - 1]) && before[index] !== after[index]) sorted[count++] = index
    }
    indices = sorted.subarray(0, count)
  } else {
    let count = 0
    for (let index = 0; index < before.length; index++) if (before[index] !== after[index]) count++
    indices = new Int32Array(count)
    for (let index = 0, c = 0; c < count; index++) if (before[index] !== after[index]) indices[c++] = index
  }
  if (indices.length === 0) return null
  const b = new Uint8Array(indices.length)
  const a = new Uint8Array(indices.length)
  for (let v = 0; v < indices.length; v++) {
    b[v] = before[indices[v]]
    a[v] = after[indices[v]]
  }
  const runs = runsOf(indices)
  return { runs, before: b, after: a, box: boxOfRuns(runs, dims) }
}

/** Write the diff's "after" values ('redo') or "before" values ('undo') into the mask. */
export function applyDiff(mask: Uint8Array, diff: VoxelDiff, direction: Direction): void {
  const values = direction === 'redo' ? diff.after : diff.before
  const { runs } = diff
  for (let r = 0, v = 0; r < runs.length; r += 2) {
    const start = runs[r]
    const length = runs[r + 1]
    if (start < 0 || start + length > mask.length) throw new RangeError(`diff run ${start}+${length} outside the mask`)
    mask.set(values.subarray(v, v + length), start)
    v += length
  }
}

/** The diff that undoes `diff` (shares its arrays). */
export function invertDiff(diff: VoxelDiff): VoxelDiff {
  return { runs: diff.runs, before: diff.after, after: diff.before, box: diff.box }
}

/** Number of voxels a diff changes. */
export function diffVoxelCount(diff: VoxelDiff): number {
  return diff.after.length
}

/** Approximate bytes a diff holds in memory, including object overhead, for undo budgeting. */
export function diffByteSize(diff: VoxelDiff): number {
  const overhead = 256 // diff object, three typed-array headers, box arrays
  return overhead + diff.runs.byteLength + diff.before.byteLength + diff.after.byteLength
}

/** Sorted, distinct indices → [start, length, ...] runs. */
export function runsOf(sortedIndices: Int32Array): Int32Array {
  if (sortedIndices.length === 0) return new Int32Array(0)
  let count = 1
  for (let v = 1; v < sortedIndices.length; v++) if (sortedIndices[v] !== sortedIndices[v - 1] + 1) count++
  const runs = new Int32Array(2 * count)
  let r = 0
  runs[0] = sortedIndices[0]
  runs[1] = 1
  for (let v = 1; v < sortedIndices.length; v++) {
    if (sortedIndices[v] === sortedIndices[v - 1] + 1) {
      runs[r + 1]++
    } else {
      r += 2
      runs[r] = sortedIndices[v]
      runs[r + 1] = 1
    }
  }
  return runs
}

/**
 * Exact inclusive (i, j, k) bounds of the voxels in `runs`. A run that wraps onto the next row covers
 * the row's whole i range in the bounding box (its pieces span [start..nx-1] and [0..end]); likewise for
 * slices and j.
 */
export function boxOfRuns(runs: Int32Array, dims: Vec3): VoxelBox {
  const [nx, ny] = dims
  const nxy = nx * ny
  const min: Vec3 = [Infinity, Infinity, Infinity]
  const max: Vec3 = [-Infinity, -Infinity, -Infinity]
  for (let r = 0; r < runs.length; r += 2) {
    const s = runs[r]
    const e = s + runs[r + 1] - 1
    const ks = Math.floor(s / nxy)
    const ke = Math.floor(e / nxy)
    const js = Math.floor((s - ks * nxy) / nx)
    const je = Math.floor((e - ke * nxy) / nx)
    const is = s % nx
    const ie = e % nx
    const sameRow = ks === ke && js === je
    const i0 = sameRow ? is : 0
    const i1 = sameRow ? ie : nx - 1
    const j0 = ks === ke ? js : 0
    const j1 = ks === ke ? je : ny - 1
    if (i0 < min[0]) min[0] = i0
    if (i1 > max[0]) max[0] = i1
    if (j0 < min[1]) min[1] = j0
    if (j1 > max[1]) max[1] = j1
    if (ks < min[2]) min[2] = ks
    if (ke > max[2]) max[2] = ke
  }
  return { min, max }
}

function checkMask(mask: Uint8Array, dims: Vec3): void {
  const n = dims[0] * dims[1] * dims[2]
  if (mask.length !== n) throw new RangeError(`mask has ${mask.length} voxels; the grid ${dims.join('x')} has ${n}`)
}
