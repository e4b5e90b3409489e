import type { Vec3 } from '../../../shared/geometry'

/** §4: the published method's sliding window. */
export const ROI_SIZE = 192
export const OVERLAP = 0.5

export interface WindowOptions {
  /** Window size per axis (a number for all three); a value <= 0 means the whole axis (MONAI's fall_back_tuple). */
  roiSize: number | readonly number[]
  /** Fraction of a window shared with the next, in [0, 1); one value or one per axis. */
  overlap: number | readonly number[]
  /**
   * Body mask on the (unpadded) input grid, our voxel order: windows holding no nonzero voxel are left
   * out (their voxels then get no prediction). Not part of the published method.
   */
  foregroundMask?: ArrayLike<number>
}

export interface WindowPlan {
  /** The input's dims. */
  dims: Vec3
  roiSize: Vec3
  /** Zero padding so that every axis is at least one window long: floor(diff / 2) before, the rest after. */
  padBefore: Vec3
  padAfter: Vec3
  paddedDims: Vec3
  /** Step between window starts per axis (MONAI `_get_scan_interval`). */
  scanInterval: Vec3
  /** Window starts along each axis, in padded coordinates. */
  startsPerAxis: [number[], number[], number[]]
  /** Window starts (padded coordinates) in MONAI's order: axis 0 slowest, axis 2 fastest. */
  windows: Vec3[]
  /** All windows of the regular grid (windows.length + skipped). */
  total: number
  /** Windows left out by `foregroundMask`. */
  skipped: number
}

function perAxis(v: number | readonly number[], what: string): Vec3 {
  if (typeof v === 'number') return [v, v, v]
  if (v.length !== 3) throw new RangeError(`${what} needs 3 values, got ${v.length}`)
  return [v[0], v[1], v[2]]
}

/** MONAI `_get_scan_interval`: `int(roi * (1 - overlap))`, at least 1; a whole-axis window steps by itself. */
export function scanInterval(imageSize: number, roi: number, overlap: number): number {
  if (roi === imageSize) return roi
  const interval = Math.trunc(roi * (1 - overlap))
  return interval > 0 ? interval : 1
}

/**
 * Window starts along one axis (MONAI `dense_patch_slices`): `1 + ceil((n - roi) / step)` windows at
 * 0, step, 2 step, ..., the last one shifted back to end at n. `n` is the padded length (>= roi).
 */
export function axisStarts(n: number, roi: number, step: number): number[] {
  const count = n <= roi ? 1 : 1 + Math.ceil((n - roi) / step)
  const starts: number[] = []
  for (let w = 0; w < count; w++) starts.push(Math.min(w * step, n - roi))
  return starts
}

/** True when the part of the window inside the unpadded input holds a nonzero mask voxel. */
function windowHasForeground(mask: ArrayLike<number>, plan: Omit<WindowPlan, 'windows' | 'skipped' | 'total'>, start: Vec3): boolean {
  const [nx, ny] = plan.dims
  const lo = [0, 1, 2].map((a) => Math.max(0, start[a] - plan.padBefore[a]))
  const hi = [0, 1, 2].map((a) => Math.min(plan.dims[a], start[a] - plan.padBefore[a] + plan.roiSize[a]))
  for (let k = lo[2]; k < hi[2]; k++) {
    for (let j = lo[1]; j < hi[1]; j++) {
      const row = nx * (j + ny * k)
      for (let i = lo[0]; i < hi[0]; i++) if (mask[row + i]) return true
    }
  }
  return false
}

/** §4: where the windows go (MONAI 1.3 `sliding_window_inference`). */
export function planWindows(dims: Vec3 | readonly number[], options: WindowOptions): WindowPlan {
  const d: Vec3 = [dims[0], dims[1], dims[2]]
  if (d.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`invalid dims ${d.join('x')}`)
  const overlap = perAxis(options.overlap, 'overlap')
  if (overlap.some((o) => !(o >= 0 && o < 1))) throw new RangeError(`overlap must be in [0, 1), got ${overlap.join(', ')}`)
  const roiSize = perAxis(options.roiSize, 'roiSize').map((r, a) => (r > 0 ? r : d[a])) as Vec3
  if (roiSize.some((r) => !Number.isInteger(r))) throw new RangeError(`roiSize must be whole voxels, got ${roiSize.join(', ')}`)
  const padBefore: Vec3 = [0, 0, 0]
  const padAfter: Vec3 = [0, 0, 0]
  const paddedDims: Vec3 = [0, 0, 0]
  const interval: Vec3 = [0, 0, 0]
  const startsPerAxis: [number[], number[], number[]] = [[], [], []]
  for (let a = 0; a < 3; a++) {
    const diff = Math.max(roiSize[a] - d[a], 0)
    padBefore[a] = Math.floor(diff / 2)
    padAfter[a] = diff - padBefore[a]
    paddedDims[a] = d[a] + diff
    interval[a] = scanInterval(paddedDims[a], roiSize[a], overlap[a])
    startsPerAxis[a] = axisStarts(paddedDims[a], roiSize[a], interval[a])
  }
  const base = { dims: d, roiSize, padBefore, padAfter, paddedDims, scanInterval: interval, startsPerAxis }
  const mask = options.foregroundMask
  if (mask && mask.length !== d[0] * d[1] * d[2]) throw new RangeError(`foreground mask has ${mask.length} voxels, the input ${d[0] * d[1] * d[2]}`)
  const windows: Vec3[] = []
  let skipped = 0
  for (const s0 of startsPerAxis[0]) {
    for (const s1 of startsPerAxis[1]) {
      for (const s2 of startsPerAxis[2]) {
        const start: Vec3 = [s0, s1, s2]
        if (mask && !windowHasForeground(mask, base, start)) skipped++
        else windows.push(start)
      }
    }
  }
  return { ...base, windows, total: windows.length + skipped, skipped }
}
