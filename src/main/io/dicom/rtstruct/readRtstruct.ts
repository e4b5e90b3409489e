import { invertMat3, voxelCount, type VolumeGeometry } from '../../../../shared/geometry'
import { allocateVoxels } from '../../../imaging/voxelBuffers'
import { InputError } from '../../InputError'
import { readDicomDataset } from '../dicomFile'
import type { NaturalizedDataset } from '../dicomTypes'
import { numberValue, seqItems, textValue } from '../seg/datasetValues'
import { GRID_TOLERANCE_VOXELS } from '../seg/framePlacement'
import { fillPolygonsEvenOdd } from './fillPolygons'

export const RTSTRUCT_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.481.3'

export interface RtstructTarget {
  geometry: VolumeGeometry
  /** When given, ROIs in another frame of reference are refused rather than placed. */
  frameOfReferenceUid?: string
  /** ROIs to read, in label order (label = position + 1); default: every ROI, in file order. */
  roiNames?: string[]
}

export interface RtstructRoiInfo {
  /** The ROI's value in `labels` (1..N). */
  number: number
  /** ROINumber in the structure set. */
  roiNumber: number
  name: string
  /** Voxels holding `number` in `labels` (after overlaps were resolved). */
  voxelCount: number
  /** Contours placed on the target grid (the file may hold more; see warnings). */
  contourCount: number
}

export interface RtstructLabels {
  labels: Uint8Array
  rois: RtstructRoiInfo[]
  warnings: string[]
}

interface Roi {
  roiNumber: number
  name: string
  frameOfReferenceUid: string
  contours: NaturalizedDataset[]
}

/**
 * Rasterise an RTSTRUCT's closed planar contours onto a target grid. Contours are placed by frame of
 * reference and position alone (their ContourImageSequence may reference slices of another, e.g.
 * uncropped, series): each goes to the target slice whose plane holds it and is filled at voxel
 * centres by the even-odd rule, together with the ROI's other contours on that slice (holes).
 * Overlapping ROIs: the smaller one wins, so nested ROIs all stay visible.
 */
export async function readRtstructFile(filePath: string, target: RtstructTarget): Promise<RtstructLabels> {
  const { header } = await readDicomDataset(filePath)
  const fail = (problem: string): never => {
    throw new InputError(filePath, problem)
  }
  const sopClass = textValue(header.SOPClassUID)
  if (sopClass !== RTSTRUCT_SOP_CLASS_UID && textValue(header.Modality) !== 'RTSTRUCT') {
    fail(`is not an RT Structure Set (SOP class ${sopClass || 'missing'}, modality ${textValue(header.Modality) || 'missing'})`)
  }
  const warnings: string[] = []
  const rois = selectRois(listRois(header, warnings), target.roiNames, fail)
  if (rois.length > 255) fail(`has ${rois.length} ROIs; LesionLab holds at most 255 labels (choose some by name)`)
  for (const roi of rois) {
    if (target.frameOfReferenceUid && roi.frameOfReferenceUid && roi.frameOfReferenceUid !== target.frameOfReferenceUid) {
      fail(
        `ROI "${roi.name}" is in frame of reference ${roi.frameOfReferenceUid} but the image is in ${target.frameOfReferenceUid}: ` +
          'it was drawn on another scan (or another patient position) and cannot be placed on this image',
      )
    }
    if (!roi.frameOfReferenceUid) warnings.push(`ROI "${roi.name}" names no frame of reference; it was placed by position only.`)
  }

  const g = target.geometry
  const [nx, ny, nz] = g.dims
  const toIndex = worldToIndexMapper(g)
  const labels = allocateVoxels('uint8', voxelCount(g)) as Uint8Array
  const infos: RtstructRoiInfo[] = []
  let closedContours = 0
  let placedContours = 0
  let overlaps = 0
  const placed = rois.map((roi, index) => {
    const label = index + 1
    const skipped = new Map<string, number>()
    const skip = (why: string): void => void skipped.set(why, (skipped.get(why) ?? 0) + 1)
    const bySlice = new Map<number, Float64Array[]>()
    let clippedContours = 0
    for (const contour of roi.contours) {
      const type = textValue(contour.ContourGeometricType).toUpperCase()
      if (type !== 'CLOSED_PLANAR' && type !== 'CLOSEDPLANAR_XOR') {
        skip(`${type || 'untyped'} contours are not areas`)
        continue
      }
      closedContours++
      const data = Array.isArray(contour.ContourData) ? (contour.ContourData as unknown[]).map(Number) : []
      const points = Math.floor(data.length / 3)
      if (points < 3 || data.slice(0, points * 3).some((v) => !Number.isFinite(v))) {
        skip('they have fewer than 3 valid points')
        continue
      }
      const polygon = new Float64Array(points * 2)
      let kMin = Infinity
      let kMax = -Infinity
      let kSum = 0
      let outside = false
      for (let p = 0; p < points; p++) {
        const [i, j, k] = toIndex(data[3 * p], data[3 * p + 1], data[3 * p + 2])
        polygon[2 * p] = i
        polygon[2 * p + 1] = j
        kMin = Math.min(kMin, k)
        kMax = Math.max(kMax, k)
        kSum += k
        if (i < -0.5 || j < -0.5 || i > nx - 0.5 || j > ny - 0.5) outside = true
      }
      const k = Math.round(kSum / points)
      if (kMax - kMin > 2 * GRID_TOLERANCE_VOXELS) {
        skip('they are not parallel to the image slices')
        continue
      }
      if (Math.max(Math.abs(kMax - k), Math.abs(kMin - k)) > GRID_TOLERANCE_VOXELS) {
        skip('they lie between image slices')
        continue
      }
      if (k < 0 || k >= nz) {
        skip('they lie beyond the first or last image slice')
        continue
      }
      if (outside) clippedContours++
      const list = bySlice.get(k) ?? []
      list.push(polygon)
      bySlice.set(k, list)
    }
    let contourCount = 0
    let ownVoxels = 0
    for (const polygons of bySlice.values()) {
      contourCount += polygons.length
      ownVoxels += fillPolygonsEvenOdd(polygons, nx, ny, () => {})
    }
    placedContours += contourCount
    for (const [why, n] of skipped) warnings.push(`${n} contour(s) of ROI "${roi.name}" were not placed: ${why}.`)
    if (clippedContours > 0) warnings.push(`${clippedContours} contour(s) of ROI "${roi.name}" reach beyond the image edge and were cut there.`)
    if (roi.contours.length === 0) warnings.push(`ROI "${roi.name}" has no contours.`)
    infos.push({ number: label, roiNumber: roi.roiNumber, name: roi.name, voxelCount: 0, contourCount })
    return { label, bySlice, ownVoxels }
  })
  // Structure sets nest ROIs (a GTV inside its edema, CTV inside PTV): painting the largest first
  // keeps every smaller ROI visible where they overlap, whatever their order in the file.
  for (const { label, bySlice } of [...placed].sort((a, b) => b.ownVoxels - a.ownVoxels)) {
    for (const [k, polygons] of bySlice) {
      const base = k * nx * ny
      fillPolygonsEvenOdd(polygons, nx, ny, (p) => {
        const v = base + p
        const previous = labels[v]
        if (previous !== 0 && previous !== label) overlaps++
        labels[v] = label
      })
    }
  }
  if (closedContours > 0 && placedContours === 0) {
    fail(`none of its ${closedContours} contours lies on a slice of the image grid (is this structure set from another series?)`)
  }
  if (overlaps > 0) warnings.push(`${overlaps} voxels belong to more than one ROI; each keeps the smallest ROI that contains it.`)
  const counts = new Float64Array(256)
  for (let v = 0; v < labels.length; v++) counts[labels[v]]++
  for (const info of infos) info.voxelCount = counts[info.number]
  return { labels, rois: infos, warnings }
}

function listRois(header: NaturalizedDataset, warnings: string[]): Roi[] {
  const referencedFrames = seqItems(header.ReferencedFrameOfReferenceSequence).map((f) => textValue(f.FrameOfReferenceUID)).filter(Boolean)
  const defaultFrame = referencedFrames.length === 1 ? referencedFrames[0] : textValue(header.FrameOfReferenceUID)
  const contoursOf = new Map<number, NaturalizedDataset[]>()
  for (const item of seqItems(header.ROIContourSequence)) {
    const roiNumber = numberValue(item.ReferencedROINumber)
    if (roiNumber === undefined) continue
    contoursOf.set(roiNumber, [...(contoursOf.get(roiNumber) ?? []), ...seqItems(item.ContourSequence)])
  }
  const rois: Roi[] = []
  for (const item of seqItems(header.StructureSetROISequence)) {
    const roiNumber = numberValue(item.ROINumber)
    if (roiNumber === undefined) {
      warnings.push('A structure set entry has no ROI number; it was skipped.')
      continue
    }
    rois.push({
      roiNumber,
      name: textValue(item.ROIName) || `ROI ${roiNumber}`,
      frameOfReferenceUid: textValue(item.ReferencedFrameOfReferenceUID) || defaultFrame,
      contours: contoursOf.get(roiNumber) ?? [],
    })
  }
  return rois
}

function selectRois(all: Roi[], names: string[] | undefined, fail: (problem: string) => never): Roi[] {
  if (all.length === 0) fail('lists no ROIs (StructureSetROISequence is empty)')
  if (!names || names.length === 0) return all
  const norm = (s: string): string => s.trim().toLowerCase()
  return names.map((name) => {
    const found = all.find((r) => r.name === name) ?? all.find((r) => norm(r.name) === norm(name))
    if (!found) fail(`has no ROI named "${name}" (it has ${all.map((r) => `"${r.name}"`).join(', ')})`)
    return found as Roi
  })
}

/** World (LPS mm) to continuous voxel index, with the direction matrix inverted once. */
function worldToIndexMapper(g: VolumeGeometry): (x: number, y: number, z: number) => [number, number, number] {
  const inv = invertMat3(g.directionLps)
  const [ox, oy, oz] = g.originLps
  const [sx, sy, sz] = g.spacingMm
  return (x, y, z) => {
    const px = x - ox
    const py = y - oy
    const pz = z - oz
    return [
      (inv[0] * px + inv[1] * py + inv[2] * pz) / sx,
      (inv[3] * px + inv[4] * py + inv[5] * pz) / sy,
      (inv[6] * px + inv[7] * py + inv[8] * pz) / sz,
    ]
  }
}

