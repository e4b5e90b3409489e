import type { Vec3 } from '../../../shared/geometry'
import { InputError } from '../InputError'

/**
 * Slice ordering and spacing of a stack of 2-D frames. Hand-written because dcmjs only parses files:
 * it has no notion of a series' geometry. Pure (no I/O), so it is testable on synthetic positions.
 */

export interface StackFrame {
  /** ImagePositionPatient: LPS centre of the frame's first pixel (mm). */
  position: Vec3
  filePath: string
  /** 1-based frame number within a multi-frame file; undefined for single-frame files. */
  frameNumber?: number
}

/** A frame as another file's message names it. */
export function frameLabel(f: StackFrame): string {
  return f.frameNumber === undefined ? f.filePath : `${f.filePath} (frame ${f.frameNumber})`
}

/** A frame as its own file's message names it (the InputError already names the file). */
function selfLabel(f: StackFrame): string {
  return f.frameNumber === undefined ? 'the slice' : `frame ${f.frameNumber}`
}

export interface SlicePlan {
  /** Source frame indices, sorted along the slice axis (ascending projection on the normal). */
  order: number[]
  /** Unit vector of voxel axis 2: the slice normal, or the stack's line when slices are sheared (tilt). */
  sliceAxis: Vec3
  /** Position of output slice 0: the first sorted frame's position. */
  originLps: Vec3
  sliceSpacingMm: number
  /** Output slice count (the frame count unless the stack was resampled). */
  sliceCount: number
  /**
   * Per output slice k: the sorted source slice at or below it (an index into `order`) and the weight
   * of the one above (0: exactly the lower one). Identity with zero weights when not resampled.
   */
  lower: Int32Array
  weight: Float64Array
  /** Per output slice: the nearest sorted source slice (index into `order`). */
  nearest: Int32Array
  resampled: boolean
  warnings: string[]
}

export interface PlanOptions {
  /** Spacing along the normal for a single frame (SpacingBetweenSlices, else SliceThickness). */
  singleSliceSpacingMm?: number
  /** In-plane pixel spacing (mm), smallest of the two: the tolerance scale for in-plane offsets. */
  pixelSpacingMm: number
  /** Series name for messages. */
  seriesLabel: string
}

/** Spacing deviation (fraction of the mean) above which the grid is resampled to even spacing. */
export const UNEVEN_TOLERANCE = 0.01
/**
 * Uneven stacks whose slices all lie within this fraction of a slice spacing of an even grid are
 * placed on that grid unchanged; beyond it they are resampled.
 */
export const SNAP_TOLERANCE = 0.05
/** A gap this many times the median gap means slices are missing. */
const MISSING_GAP_FACTOR = 1.5
/** In-plane drift over the stack, in pixels, above which the stack is treated as sheared (tilt). */
const SHEAR_PIXELS = 0.05
/** In-plane scatter, in pixels, beyond which frames are not one stack at all. */
const OFF_LINE_PIXELS = 0.25
/** Longest stack we accept (mm): whole-body scans are about 2 m. */
const MAX_EXTENT_MM = 5000

export function unitNormal(rowDir: Vec3, colDir: Vec3): Vec3 {
  return normalize(cross(rowDir, colDir))
}

export function planSliceStack(frames: StackFrame[], rowDir: Vec3, colDir: Vec3, options: PlanOptions): SlicePlan {
  const n = frames.length
  const normal = unitNormal(rowDir, colDir)
  const warnings: string[] = []
  const along = frames.map((f) => dot(f.position, normal))
  const order = frames.map((_, i) => i).sort((a, b) => along[a] - along[b])
  const first = frames[order[0]]

  if (n === 1) {
    let spacing = options.singleSliceSpacingMm
    if (!(spacing !== undefined && spacing > 0 && Number.isFinite(spacing))) {
      spacing = 1
      warnings.push(`${options.seriesLabel}: a single slice without a slice thickness; 1 mm assumed along the slice normal`)
    }
    return identityPlan(order, normal, first.position, spacing, warnings)
  }

  // Gaps along the normal, in sorted order; two frames in one place is not a volume we can build.
  const gaps = new Float64Array(n - 1)
  for (let k = 0; k + 1 < n; k++) gaps[k] = along[order[k + 1]] - along[order[k]]
  const medianGap = median(gaps)
  const duplicateTolerance = Math.max(1e-3, 0.01 * medianGap)
  for (let k = 0; k + 1 < n; k++) {
    if (gaps[k] < duplicateTolerance) {
      const a = frames[order[k]]
      const b = frames[order[k + 1]]
      throw new InputError(
        b.filePath,
        `${selfLabel(b)} is at the same position as ${frameLabel(a)} (${along[order[k]].toFixed(3)} mm along the slice normal): ` +
          'the series holds more than one frame per position (a dynamic, gated or repeated acquisition?); LesionLab reads one static volume',
      )
    }
  }
  const last = frames[order[n - 1]]
  const extent = along[order[n - 1]] - along[order[0]]
  if (extent > MAX_EXTENT_MM) {
    throw new InputError(last.filePath, `${options.seriesLabel}: the slices span ${extent.toFixed(0)} mm along the normal, beyond any patient`)
  }

  // Gantry tilt: positions advance along a line that is not the normal. Keep it as a sheared grid
  // (axis 2 along that line) rather than misplacing every slice by the tilt.
  const span = sub(last.position, first.position)
  const inPlaneDrift = sub(span, scale(normal, dot(span, normal)))
  let sliceAxis = normal
  if (norm(inPlaneDrift) > SHEAR_PIXELS * options.pixelSpacingMm) {
    sliceAxis = normalize(span)
    const degrees = (Math.acos(Math.min(1, dot(sliceAxis, normal))) * 180) / Math.PI
    warnings.push(
      `${options.seriesLabel}: the slices are offset in-plane as they advance (gantry tilt of ${degrees.toFixed(2)} degrees); ` +
        'the volume keeps that shear (its slice axis is not perpendicular to the slices)',
    )
  }
  // Distance of each sorted frame from the first, measured along the slice axis.
  const axisPerNormal = 1 / dot(sliceAxis, normal)
  const t = new Float64Array(n)
  let worstOffLine = 0
  let worstFrame = first
  for (let k = 0; k < n; k++) {
    const f = frames[order[k]]
    t[k] = (along[order[k]] - along[order[0]]) * axisPerNormal
    const offLine = norm(sub(sub(f.position, first.position), scale(sliceAxis, t[k])))
    if (offLine > worstOffLine) {
      worstOffLine = offLine
      worstFrame = f
    }
  }
  if (worstOffLine > OFF_LINE_PIXELS * options.pixelSpacingMm) {
    throw new InputError(
      worstFrame.filePath,
      `${selfLabel(worstFrame)} is ${worstOffLine.toFixed(2)} mm off the line through the other slices' positions: the frames do not form one stack`,
    )
  }

  const total = t[n - 1]
  const mean = total / (n - 1)
  let maxDeviation = 0
  let minGap = Infinity
  let maxGap = 0
  for (let k = 0; k + 1 < n; k++) {
    const g = t[k + 1] - t[k]
    maxDeviation = Math.max(maxDeviation, Math.abs(g - mean))
    minGap = Math.min(minGap, g)
    maxGap = Math.max(maxGap, g)
  }
  if (maxDeviation <= UNEVEN_TOLERANCE * mean) return identityPlan(order, sliceAxis, first.position, mean, warnings)

  // Gaps vary, but every slice may still sit within a small fraction of a slice of an even grid
  // (scanners join bed positions this way: the STS raw PET's gaps are 3.19-3.29 mm, yet no slice is
  // more than 0.04 mm off). Interpolating would change values by up to ~1% for a sub-millimetre
  // shift far below PET resolution, so such slices are kept as acquired on the even grid.
  let maxOffGrid = 0
  for (let k = 0; k < n; k++) maxOffGrid = Math.max(maxOffGrid, Math.abs(t[k] - k * mean))
  if (maxOffGrid <= SNAP_TOLERANCE * mean) {
    warnings.push(
      `${options.seriesLabel}: slice spacing is uneven (gaps ${minGap.toFixed(3)}-${maxGap.toFixed(3)} mm), but every slice lies within ` +
        `${maxOffGrid.toFixed(3)} mm of an even grid ${mean.toFixed(4)} mm apart; the slices are kept as acquired on that grid (no interpolation)`,
    )
    return identityPlan(order, sliceAxis, first.position, mean, warnings)
  }

  // Uneven. A gap well beyond the median means missing slices: keep the typical spacing (the mean of
  // the regular gaps) and interpolate the missing ones, instead of stretching every slice apart.
  const medianAxisGap = medianGap * axisPerNormal
  let regularSum = 0
  let regularCount = 0
  const missing: string[] = []
  for (let k = 0; k + 1 < n; k++) {
    const g = t[k + 1] - t[k]
    if (g <= MISSING_GAP_FACTOR * medianAxisGap) {
      regularSum += g
      regularCount++
    } else if (missing.length < 3) {
      missing.push(`${g.toFixed(2)} mm between ${frameLabel(frames[order[k]])} and ${frameLabel(frames[order[k + 1]])}`)
    }
  }
  const typical = regularCount > 0 ? regularSum / regularCount : mean
  const sliceCount = Math.max(n, Math.round(total / typical) + 1)
  if (sliceCount > 2 * n) {
    throw new InputError(
      last.filePath,
      `${options.seriesLabel}: the slices are spread too unevenly (gaps ${minGap.toFixed(2)}-${maxGap.toFixed(2)} mm) ` +
        `to make a regular grid from ${n} slices`,
    )
  }
  const spacing = total / (sliceCount - 1)
  const plan = resamplePlan(t, spacing, sliceCount)
  const how =
    `resampled to a regular grid of ${sliceCount} slices ${spacing.toFixed(4)} mm apart along the slice axis ` +
    `(linear interpolation between neighbouring slices, first slice position kept)`
  if (missing.length > 0) {
    const gapCount = n - 1 - regularCount
    warnings.push(
      `${options.seriesLabel}: slices appear to be missing: ${gapCount} gap(s) wider than ${MISSING_GAP_FACTOR} x the typical ` +
        `spacing ${typical.toFixed(3)} mm (${missing.join('; ')}${gapCount > missing.length ? '; ...' : ''}); ${how}. ` +
        `The ${sliceCount - n} interpolated slice(s) hold no measured data`,
    )
  } else {
    warnings.push(
      `${options.seriesLabel}: slice spacing is uneven: gaps of ${minGap.toFixed(3)}-${maxGap.toFixed(3)} mm, up to ` +
        `${((100 * maxDeviation) / mean).toFixed(1)}% from the mean ${mean.toFixed(4)} mm; ${how}`,
    )
  }
  return { order, sliceAxis, originLps: first.position, sliceSpacingMm: spacing, sliceCount, ...plan, resampled: true, warnings }
}

/** Linear interpolation weights of output slices at m * spacing between sorted positions t (t[0] = 0). */
export function resamplePlan(t: Float64Array, spacing: number, sliceCount: number): { lower: Int32Array; weight: Float64Array; nearest: Int32Array } {
  const n = t.length
  const lower = new Int32Array(sliceCount)
  const weight = new Float64Array(sliceCount)
  const nearest = new Int32Array(sliceCount)
  let k = 0
  for (let m = 0; m < sliceCount; m++) {
    const x = m * spacing
    while (k + 2 < n && t[k + 1] <= x) k++
    const w = n === 1 ? 0 : Math.min(1, Math.max(0, (x - t[k]) / (t[k + 1] - t[k])))
    // Land exactly on a source slice where the grids coincide, keeping its values unblended.
    if (w >= 1 - 1e-9) {
      lower[m] = k + 1
      weight[m] = 0
    } else {
      lower[m] = k
      weight[m] = w <= 1e-9 ? 0 : w
    }
    nearest[m] = weight[m] < 0.5 ? lower[m] : lower[m] + 1
  }
  return { lower, weight, nearest }
}

function identityPlan(order: number[], sliceAxis: Vec3, originLps: Vec3, spacing: number, warnings: string[]): SlicePlan {
  const n = order.length
  const lower = new Int32Array(n)
  for (let k = 0; k < n; k++) lower[k] = k
  return {
    order,
    sliceAxis,
    originLps,
    sliceSpacingMm: spacing,
    sliceCount: n,
    lower,
    weight: new Float64Array(n),
    nearest: lower.slice(),
    resampled: false,
    warnings,
  }
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort()
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid])
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}
export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s]
}
export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2])
}
export function normalize(a: Vec3): Vec3 {
  const l = norm(a)
  return [a[0] / l, a[1] / l, a[2] / l]
}
