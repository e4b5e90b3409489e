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
  const peak = pet && kernel && count ? suvPeakOf(voxels, geometry, pet, kernel) : { suvPeak: NaN, at: -1 }
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
 * The sliding weighted mean over the lesion's voxels: the interior (sphere wholly on the grid) reads
 * precomputed flat offsets; near the grid edge the weights of the voxels on the grid are renormalised.
 */
export function suvPeakOf(voxels: Int32Array, geometry: VolumeGeometry, pet: SuvVoxels, kernel: SphereKernel): { suvPeak: number; at: number } {
  const [nx, ny, nz] = geometry.dims
  const slice = nx * ny
  const { offsets, weights, halfWidth: h, totalWeight } = kernel
  const m = weights.length
  const flat = new Int32Array(m)
  for (let t = 0; t < m; t++) flat[t] = offsets[3 * t] + nx * (offsets[3 * t + 1] + ny * offsets[3 * t + 2])
  const inverseTotal = 1 / totalWeight
  let best = -Infinity
  let at = -1
  for (let t = 0; t < voxels.length; t++) {
    const p = voxels[t]
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    const i = rest - j * nx
    let mean: number
    if (i >= h[0] && i + h[0] < nx && j >= h[1] && j + h[1] < ny && k >= h[2] && k + h[2] < nz) {
      let s = 0
      for (let u = 0; u < m; u++) s += weights[u] * pet[p + flat[u]]
      mean = s * inverseTotal
    } else {
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
      mean = s / w
    }
    if (mean > best) {
      best = mean
      at = p
    }
  }
  return { suvPeak: at >= 0 ? best : NaN, at }
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
