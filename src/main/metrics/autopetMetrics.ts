import type { Vec3 } from '../../shared/geometry'
import { labelComponents, regionVoxelIndices, type ComponentLabels, type MaskVoxels } from './connectedComponents'
import { voxelVolumeMl } from './lesionStats'

/** One lesion (18-connected component) of one mask and how much of it the other mask covers. */
export interface LesionOverlap {
  id: number
  voxelCount: number
  volumeMl: number
  /** Voxels of this lesion that are also set in the other mask. */
  overlapVoxels: number
  /** Touches the other mask (overlapVoxels > 0). */
  detected: boolean
}

/**
 * The autoPET III metrics of one case (ClinicalDataScience/autoPETIII evaluation_metrics.py), plus
 * lesion-wise detection. Masks are read as nonzero = lesion (the challenge's masks are 0/1, where
 * this is the script's arithmetic exactly).
 */
export interface AutopetCaseMetrics {
  /** Voxel volume: product of the three spacings in mm / 1000. */
  voxelMl: number
  /** 2|P∩G| / (|P| + |G|); NaN when G is empty. */
  dsc: number
  /** Volume of the 18-connected components of P touching no voxel of G; 0 when P is empty, all of P when G is. */
  fpvMl: number
  /** Volume of the 18-connected components of G touching no voxel of P; NaN when G is empty. */
  fnvMl: number
  predVoxels: number
  refVoxels: number
  intersectionVoxels: number
  predLesionCount: number
  refLesionCount: number
  /** Reference lesions that the prediction touches (detected lesions). */
  tpLesions: number
  /** Predicted lesions touching no reference voxel. */
  fpLesions: number
  /** Reference lesions the prediction does not touch. tpLesions + fnLesions = refLesionCount. */
  fnLesions: number
  refLesions: LesionOverlap[]
  predLesions: LesionOverlap[]
}

/** The challenge's connectivity for FPV and FNV. */
export const AUTOPET_CONNECTIVITY = 18

export function autopetCaseMetrics(pred: MaskVoxels, ref: MaskVoxels, dims: Vec3, spacingMm: Vec3): AutopetCaseMetrics {
  const n = dims[0] * dims[1] * dims[2]
  if (pred.length !== n || ref.length !== n) throw new RangeError(`prediction (${pred.length}) and reference (${ref.length}) must both have ${n} voxels`)
  const voxelMl = voxelVolumeMl(spacingMm)
  const predRegions = labelComponents(pred, dims, AUTOPET_CONNECTIVITY)
  const refRegions = labelComponents(ref, dims, AUTOPET_CONNECTIVITY)
  const predLesions = overlapsOf(predRegions, ref, dims, voxelMl)
  const refLesions = overlapsOf(refRegions, pred, dims, voxelMl)
  let predVoxels = 0
  let intersectionVoxels = 0
  let fpVoxels = 0
  for (const l of predLesions) {
    predVoxels += l.voxelCount
    intersectionVoxels += l.overlapVoxels
    if (!l.detected) fpVoxels += l.voxelCount
  }
  let refVoxels = 0
  let fnVoxels = 0
  for (const l of refLesions) {
    refVoxels += l.voxelCount
    if (!l.detected) fnVoxels += l.voxelCount
  }
  const refEmpty = refVoxels === 0
  return {
    voxelMl,
    dsc: refEmpty ? NaN : (2 * intersectionVoxels) / (predVoxels + refVoxels),
    fpvMl: predVoxels === 0 ? 0 : fpVoxels * voxelMl,
    fnvMl: refEmpty ? NaN : fnVoxels * voxelMl,
    predVoxels,
    refVoxels,
    intersectionVoxels,
    predLesionCount: predLesions.length,
    refLesionCount: refLesions.length,
    tpLesions: refLesions.filter((l) => l.detected).length,
    fpLesions: predLesions.filter((l) => !l.detected).length,
    fnLesions: refLesions.filter((l) => !l.detected).length,
    refLesions,
    predLesions,
  }
}

function overlapsOf(regions: ComponentLabels, other: MaskVoxels, dims: Vec3, voxelMl: number): LesionOverlap[] {
  const { offsets, indices } = regionVoxelIndices(regions, dims)
  const out: LesionOverlap[] = []
  for (let l = 1; l <= regions.count; l++) {
    let overlapVoxels = 0
    for (let t = offsets[l]; t < offsets[l + 1]; t++) if (other[indices[t]] !== 0) overlapVoxels++
    const voxelCount = regions.voxelCounts[l]
    out.push({ id: l, voxelCount, volumeMl: voxelCount * voxelMl, overlapVoxels, detected: overlapVoxels > 0 })
  }
  return out
}
