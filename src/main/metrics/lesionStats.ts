import { indexToWorld, type Vec3, type VolumeGeometry } from '../../shared/geometry'
import { regionVoxelIndices, type ComponentLabels } from './connectedComponents'
import { suvPeakKernel, SUVPEAK_RULE, type SphereKernel } from './suvPeakKernel'

export { SUVPEAK_RADIUS_MM, SUVPEAK_RULE, suvPeakKernel, type SphereKernel } from './suvPeakKernel'

/** PET voxels in SUVbw, on the mask's grid. */
export type SuvVoxels = ArrayLike<number>

/** What method.md §7 asks per lesion, in ml and SUVbw, positions in LPS mm. */
export interface LesionMeasures {
  /** The lesion's number in the label array. */
  id: number
  voxelCount: number
  /** Metabolic tumour volume: voxel count × voxel volume. */
  mtvMl: number
  suvMax: number
  /** Voxel index (i, j, k) of SUVmax (the first in raster order on ties). */
  suvMaxVoxel: Vec3
  suvMaxLps: Vec3
  suvMean: number
  /** See SUVPEAK_RULE. */
  suvPeak: number
  /** Voxel index of the sphere centre that gives SUVpeak. */
  suvPeakVoxel: Vec3
  suvPeakLps: Vec3
  /** SUVpeak × SUL/SUVbw ratio, when the ratio is known. */
  sulPeak?: number
  /** Total lesion glycolysis = SUVmean × MTV (ml · SUV). */
  tlgMlSuv: number
  /** Inclusive voxel bounding box. */
  boxMinVoxel: Vec3
  boxMaxVoxel: Vec3
  /** Mean of the voxel centres (unweighted), LPS mm. */
  centroidLps: Vec3
}

export interface PatientMeasures {
  /** Total metabolic tumour volume. */
  tmtvMl: number
  /** Sum of the lesions' TLG (ml · SUV). */
  tlgMlSuv: number
  lesionCount: number
  /** Largest distance between two lesion centroids (0 with fewer than two lesions). */
  dmaxMm: number
}

export interface MeasureOptions {
  /** SUL/SUVbw (lean-body-mass) ratio of the patient: adds SULpeak. */
  sulPerSuvbw?: number
}

export interface LesionMeasureResult {
  lesions: LesionMeasures[]
  patient: PatientMeasures
  suvPeakRule: string
}

/**
 * Measures of every region of a label array (components or segments) on a PET in SUV. Without a PET
 * the SUV-based values are NaN (MTV, box and centroid still count).
 */
export function measureLesions(regions: ComponentLabels, geometry: VolumeGeometry, pet?: SuvVoxels, options: MeasureOptions = {}): LesionMeasureResult {
  if (pet && pet.length !== regions.labels.length) throw new RangeError(`PET has ${pet.length} voxels, the mask ${regions.labels.length}`)
  const { offsets, indices } = regionVoxelIndices(regions, geometry.dims)
  const kernel = pet ? suvPeakKernel(geometry.spacingMm) : undefined
  const lesions: LesionMeasures[] = []
  for (let l = 1; l <= regions.count; l++) {
    lesions.push(measureLesion(l, indices.subarray(offsets[l], offsets[l + 1]), geometry, pet, kernel, options))
  }
  return { lesions, patient: patientMeasures(lesions), suvPeakRule: SUVPEAK_RULE }
}

/** Voxel volume in ml: the product of the three spacings in mm / 1000. */
export function voxelVolumeMl(spacingMm: Vec3): number {
  return (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000
}

/**
 * The measures of one lesion from its voxel indices. Indices in raster order give bit-identical
 * sums however the lesion was found (full labelling or an incremental update).
 */
export function measureLesion(
  id: number,
  voxels: Int32Array,
  geometry: VolumeGeometry,
  pet: SuvVoxels | undefined,
  kernel: SphereKernel | undefined = pet ? suvPeakKernel(geometry.spacingMm) : undefined,
  options: MeasureOptions = {},
  peakFrom?: { candidates: Int32Array; known: PeakCandidate },
): LesionMeasures {
  const [nx, ny] = geometry.dims
  const slice = nx * ny
  const count = voxels.length
  let si = 0
  let sj = 0
  let sk = 0
  const boxMin: Vec3 = [Infinity, Infinity, Infinity]
  const boxMax: Vec3 = [-Infinity, -Infinity, -Infinity]
  let suvSum = 0
  let suvMax = -Infinity
  let maxAt = -1
  for (let t = 0; t < count; t++) {
    const p = voxels[t]
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    const i = rest - j * nx
    si += i
    sj += j
    sk += k
    if (i < boxMin[0]) boxMin[0] = i
    if (j < boxMin[1]) boxMin[1] = j
    if (k < boxMin[2]) boxMin[2] = k
    if (i > boxMax[0]) boxMax[0] = i
    if (j > boxMax[1]) boxMax[1] = j
    if (k > boxMax[2]) boxMax[2] = k
    if (pet) {
      const v = pet[p]
      suvSum += v
      if (v > suvMax) {
        suvMax = v
        maxAt = p
      }
    }
  }
  const mtvMl = count * voxelVolumeMl(geometry.spacingMm)
  const suvMean = pet && count ? suvSum / count : NaN
  // `peakFrom`: the peak over part of the voxels is known (an incremental update); only the other
  // candidates are evaluated, and the result is the same as evaluating every voxel.
  const peak = !pet || !kernel || !count
    ? { suvPeak: NaN, at: -1 }
    : peakFrom
      ? suvPeakOf(peakFrom.candidates, geometry, pet, kernel, peakFrom.known)
      : suvPeakOf(voxels, geometry, pet, kernel)
  const suvMaxVoxel = maxAt >= 0 ? voxelOf(maxAt, nx, ny) : ([NaN, NaN, NaN] as Vec3)
  const suvPeakVoxel = peak.at >= 0 ? voxelOf(peak.at, nx, ny) : ([NaN, NaN, NaN] as Vec3)
  const out: LesionMeasures = {
    id,
    voxelCount: count,
    mtvMl,
    suvMax: maxAt >= 0 ? suvMax : NaN,
    suvMaxVoxel,
    suvMaxLps: indexToWorld(geometry, suvMaxVoxel),
    suvMean,
    suvPeak: peak.suvPeak,
    suvPeakVoxel,
    suvPeakLps: indexToWorld(geometry, suvPeakVoxel),
    tlgMlSuv: suvMean * mtvMl,
    boxMinVoxel: boxMin,
    boxMaxVoxel: boxMax,
    centroidLps: indexToWorld(geometry, [si / count, sj / count, sk / count]),
  }
  if (options.sulPerSuvbw !== undefined) out.sulPeak = peak.suvPeak * options.sulPerSuvbw
  return out
}

/**
 * The sliding weighted mean over the lesion's voxels (`known`: the best over other centres, if any).
 * Large lesions use an exact branch and bound: a centre's weighted mean cannot exceed the largest PET
 * value under the sphere's bounding box, so that maximum is found for every centre by a separable max
 * filter and the weighted sum is taken only where the bound can still reach the best mean so far
 * (starting from the SUVmax voxel). The result, ties included (the first centre in raster order
 * wins), is that of evaluating every centre.
 */
export function suvPeakOf(
  voxels: Int32Array,
  geometry: VolumeGeometry,
  pet: SuvVoxels,
  kernel: SphereKernel,
  known: PeakCandidate = { suvPeak: -Infinity, at: -1 },
): PeakCandidate {
  const count = voxels.length
  if (count === 0) return known.at >= 0 ? known : { suvPeak: NaN, at: -1 }
  const mean = sphereMean(geometry, pet, kernel)
  let best = known.suvPeak
  let at = known.at
  const better = (m: number, p: number): boolean => m > best || (m === best && (at < 0 || p < at))
  // The box bound is loose (the box reaches well beyond the sphere): it pays only in lesions much
  // larger than the sphere, whose hot core leaves most centres far below the peak.
  const bounds = count >= 8 * kernel.weights.length ? boxMaxBounds(voxels, geometry, pet, kernel.halfWidth) : null
  if (!bounds) {
    for (let t = 0; t < count; t++) {
      const m = mean(voxels[t])
      if (better(m, voxels[t])) {
        best = m
        at = voxels[t]
      }
    }
    return { suvPeak: best, at }
  }
  let start = 0
  for (let t = 1; t < count; t++) if (pet[voxels[t]] > pet[voxels[start]]) start = t
  const first = mean(voxels[start])
  if (better(first, voxels[start])) {
    best = first
    at = voxels[start]
  }
  for (let t = 0; t < count; t++) {
    // Slack: the mean is a rounded weighted sum and may exceed its bound by an ulp or two.
    if (t === start || bounds[t] < best - 1e-9 * Math.abs(best)) continue
    const p = voxels[t]
    const m = mean(p)
    if (better(m, p)) {
      best = m
      at = p
    }
  }
  return { suvPeak: best, at }
}

/** A sphere centre (flat voxel index) and its mean; `at` -1 when none. */
export interface PeakCandidate {
  suvPeak: number
  at: number
}

/** The weighted mean of the sphere centred at voxel p (renormalised near the grid edge). */
function sphereMean(geometry: VolumeGeometry, pet: SuvVoxels, kernel: SphereKernel): (p: number) => number {
  const [nx, ny, nz] = geometry.dims
  const slice = nx * ny
  const { offsets, weights, halfWidth: h, totalWeight } = kernel
  const m = weights.length
  const flat = new Int32Array(m)
  for (let t = 0; t < m; t++) flat[t] = offsets[3 * t] + nx * (offsets[3 * t + 1] + ny * offsets[3 * t + 2])
  const inverseTotal = 1 / totalWeight
  return (p: number): number => {
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    const i = rest - j * nx
    if (i >= h[0] && i + h[0] < nx && j >= h[1] && j + h[1] < ny && k >= h[2] && k + h[2] < nz) {
      let s = 0
      for (let u = 0; u < m; u++) s += weights[u] * pet[p + flat[u]]
      return s * inverseTotal
    }
    let s = 0
    let w = 0
    for (let u = 0; u < m; u++) {
      const ii = i + offsets[3 * u]
      const jj = j + offsets[3 * u + 1]
      const kk = k + offsets[3 * u + 2]
      if (ii < 0 || ii >= nx || jj < 0 || jj >= ny || kk < 0 || kk >= nz) continue
      s += weights[u] * pet[p + flat[u]]
      w += weights[u]
    }
    return s / w
  }
}

/**
 * For each lesion voxel, the largest PET value in the box of half widths h around it (clipped to the
 * grid): max along axis 0, then 1, then 2, over the lesion's box grown by h. Null when that box is
 * much larger than the lesion (a long thin lesion), where plain evaluation is cheaper.
 */
function boxMaxBounds(voxels: Int32Array, geometry: VolumeGeometry, pet: SuvVoxels, h: Vec3): Float64Array | null {
  const [nx, ny, nz] = geometry.dims
  const slice = nx * ny
  const lo: Vec3 = [nx, ny, nz]
  const hi: Vec3 = [-1, -1, -1]
  for (let t = 0; t < voxels.length; t++) {
    const p = voxels[t]
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    const i = rest - j * nx
    if (i < lo[0]) lo[0] = i
    if (i > hi[0]) hi[0] = i
    if (j < lo[1]) lo[1] = j
    if (j > hi[1]) hi[1] = j
    if (k < lo[2]) lo[2] = k
    if (k > hi[2]) hi[2] = k
  }
  // Lesion box L = lo..hi; grown box D = L ± h, clipped.
  const d0 = [Math.max(0, lo[0] - h[0]), Math.max(0, lo[1] - h[1]), Math.max(0, lo[2] - h[2])]
  const d1 = [Math.min(nx - 1, hi[0] + h[0]), Math.min(ny - 1, hi[1] + h[1]), Math.min(nz - 1, hi[2] + h[2])]
  const lx = hi[0] - lo[0] + 1
  const ly = hi[1] - lo[1] + 1
  const dy = d1[1] - d0[1] + 1
  const dz = d1[2] - d0[2] + 1
  if (lx * dy * dz > 8 * voxels.length + 4096) return null
  // B1 over L_i x D_j x D_k: max along axis 0.
  const b1 = new Float64Array(lx * dy * dz)
  for (let k = 0; k < dz; k++) {
    for (let j = 0; j < dy; j++) {
      const row = nx * (d0[1] + j + ny * (d0[2] + k))
      const out = lx * (j + dy * k)
      for (let i = 0; i < lx; i++) {
        const gi = lo[0] + i
        let m = -Infinity
        for (let a = Math.max(d0[0], gi - h[0]), e = Math.min(d1[0], gi + h[0]); a <= e; a++) if (pet[row + a] > m) m = pet[row + a]
        b1[out + i] = m
      }
    }
  }
  // B2 over L_i x L_j x D_k: max along axis 1.
  const b2 = new Float64Array(lx * ly * dz)
  for (let k = 0; k < dz; k++) {
    for (let j = 0; j < ly; j++) {
      const gj = lo[1] + j
      const a0 = Math.max(d0[1], gj - h[1]) - d0[1]
      const a1 = Math.min(d1[1], gj + h[1]) - d0[1]
      const out = lx * (j + ly * k)
      for (let i = 0; i < lx; i++) {
        let m = -Infinity
        for (let a = a0; a <= a1; a++) {
          const v = b1[i + lx * (a + dy * k)]
          if (v > m) m = v
        }
        b2[out + i] = m
      }
    }
  }
  // Along axis 2, at the lesion voxels only.
  const bounds = new Float64Array(voxels.length)
  for (let t = 0; t < voxels.length; t++) {
    const p = voxels[t]
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    const i = rest - j * nx
    const base = i - lo[0] + lx * (j - lo[1])
    let m = -Infinity
    for (let a = Math.max(d0[2], k - h[2]) - d0[2], e = Math.min(d1[2], k + h[2]) - d0[2]; a <= e; a++) {
      const v = b2[base + lx * ly * a]
      if (v > m) m = v
    }
    bounds[t] = m
  }
  return bounds
}

/** TMTV, total TLG, lesion count and Dmax from per-lesion measures. */
export function patientMeasures(lesions: readonly LesionMeasures[]): PatientMeasures {
  let tmtvMl = 0
  let tlgMlSuv = 0
  for (const l of lesions) {
    tmtvMl += l.mtvMl
    tlgMlSuv += l.tlgMlSuv
  }
  return { tmtvMl, tlgMlSuv, lesionCount: lesions.length, dmaxMm: dmaxMm(lesions.map((l) => l.centroidLps)) }
}

/** Largest distance between two points (all pairs; lesion counts stay in the hundreds). */
export function dmaxMm(points: readonly Vec3[]): number {
  let best2 = 0
  for (let a = 0; a < points.length; a++) {
    const [x, y, z] = points[a]
    for (let b = a + 1; b < points.length; b++) {
      const d2 = (points[b][0] - x) ** 2 + (points[b][1] - y) ** 2 + (points[b][2] - z) ** 2
      if (d2 > best2) best2 = d2
    }
  }
  return Math.sqrt(best2)
}

function voxelOf(p: number, nx: number, ny: number): Vec3 {
  const slice = nx * ny
  const k = Math.floor(p / slice)
  const rest = p - k * slice
  const j = Math.floor(rest / nx)
  return [rest - j * nx, j, k]
}
