import type { Vec3 } from '../../../shared/geometry'

/**
 * What an editing operation hands back: the voxels to write (indices i + nx * (j + ny * k), sorted
 * ascending, unique) and the one value they all get. Operations never touch the mask; the caller turns
 * an edit into an undo diff (`diffOf`) and writes it through the journal.
 */
export interface VoxelEdit {
  voxels: Int32Array
  value: number
}

/** The part of an edit that changes the mask, with the values it overwrites: the undo record. */
export interface VoxelDiff {
  voxels: Int32Array
  before: Uint8Array
  after: number
}

export function paint(voxels: Int32Array, value: number): VoxelEdit {
  return { voxels, value }
}

export function erase(voxels: Int32Array): VoxelEdit {
  return { voxels, value: 0 }
}

/** Only the voxels whose value would change, and what they held: undo writes `before` back. */
export function diffOf(mask: Uint8Array, edit: VoxelEdit): VoxelDiff {
  const { voxels, value } = edit
  let n = 0
  for (let m = 0; m < voxels.length; m++) if (mask[voxels[m]] !== value) n++
  const out = new Int32Array(n)
  const before = new Uint8Array(n)
  n = 0
  for (let m = 0; m < voxels.length; m++) {
    const p = voxels[m]
    if (mask[p] !== value) {
      out[n] = p
      before[n++] = mask[p]
    }
  }
  return { voxels: out, before, after: value }
}

export function applyEdit(mask: Uint8Array, edit: VoxelEdit): void {
  const { voxels, value } = edit
  for (let m = 0; m < voxels.length; m++) mask[voxels[m]] = value
}

export function voxelIndex(dims: Vec3, v: Vec3): number {
  return v[0] + dims[0] * (v[1] + dims[1] * v[2])
}

export function voxelOf(dims: Vec3, p: number): Vec3 {
  const i = p % dims[0]
  const q = (p - i) / dims[0]
  const j = q % dims[1]
  return [i, j, (q - j) / dims[1]]
}

export function insideGrid(dims: Vec3, v: Vec3): boolean {
  return v[0] >= 0 && v[1] >= 0 && v[2] >= 0 && v[0] < dims[0] && v[1] < dims[1] && v[2] < dims[2]
}

/** Union of sorted unique index lists, sorted and unique (composing strokes). */
export function unionVoxels(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length)
  let x = 0
  let y = 0
  let n = 0
  while (x < a.length && y < b.length) {
    if (a[x] < b[y]) out[n++] = a[x++]
    else if (b[y] < a[x]) out[n++] = b[y++]
    else {
      out[n++] = a[x++]
      y++
    }
  }
  while (x < a.length) out[n++] = a[x++]
  while (y < b.length) out[n++] = b[y++]
  return out.slice(0, n)
}

/** A set bit per voxel: 1/8 byte each, so a whole-body grid costs ~10 MB, a box far less. */
export class Bitmap {
  readonly words: Uint32Array
  constructor(size: number) {
    this.words = new Uint32Array((size + 31) >>> 5)
  }
  has(p: number): boolean {
    return (this.words[p >>> 5] & (1 << (p & 31))) !== 0
  }
  set(p: number): void {
    this.words[p >>> 5] |= 1 << (p & 31)
  }
}
