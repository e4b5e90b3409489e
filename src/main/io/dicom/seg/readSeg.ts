import { voxelCount, type Vec3, type VolumeGeometry } from '../../../../shared/geometry'
import { allocateVoxels } from '../../../imaging/voxelBuffers'
import { InputError } from '../../InputError'
import { readDicomDataset, TRANSFER_SYNTAX } from '../dicomFile'
import type { NaturalizedDataset } from '../dicomTypes'
import { firstItem, numberValue, numberValues, seqItems, textValue } from './datasetValues'
import { dcmjsSeg } from './dcmjsSeg'
import { pixelDataBytesPresent } from './pixelDataExtent'
import { placeFrame, type FramePlacement, type FramePlane } from './framePlacement'

export const SEG_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.66.4'
export const LABELMAP_SEG_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.66.7'

/** The grid a segmentation is read onto (usually the PET it was drawn on). */
export interface SegTarget {
  geometry: VolumeGeometry
  /** When given, a SEG in another frame of reference is refused rather than placed. */
  frameOfReferenceUid?: string
}

export interface SegSegmentInfo {
  /** The segment's value in `labels` (1..N, in SegmentNumber order). */
  number: number
  label: string
  description?: string
  algorithmType?: string
  algorithmName?: string
  /** CodeMeaning of SegmentedPropertyCategoryCodeSequence. */
  category?: string
  /** CodeMeaning of SegmentedPropertyTypeCodeSequence. */
  type?: string
  /** RecommendedDisplayCIELabValue as sRGB 0..255. */
  colorRgb?: [number, number, number]
  /** Voxels holding `number` in `labels` (after overlaps were resolved). */
  voxelCount: number
}

export interface DicomSegLabels {
  /** One label per target voxel: 0 background, else the segment's `number`. */
  labels: Uint8Array
  segments: SegSegmentInfo[]
  /** What was skipped or resolved on the way, phrased for the user. */
  warnings: string[]
  referencedSeriesUid?: string
}

type SegKind = 'BINARY' | 'FRACTIONAL' | 'LABELMAP'

/**
 * Read a DICOM Segmentation (binary, fractional or label-map) onto a target grid. Frames are placed by
 * their own plane position and orientation, never by the source images they reference; fractional
 * values count from half the MaximumFractionalValue up. Overlapping segments: the later one wins.
 */
export async function readDicomSegFile(filePath: string, target: SegTarget): Promise<DicomSegLabels> {
  const { header, pixelData, transferSyntaxUid } = await readDicomDataset(filePath)
  if (transferSyntaxUid === TRANSFER_SYNTAX.explicitBig) {
    throw new InputError(filePath, 'is stored in Explicit VR Big Endian (retired); LesionLab reads little-endian SEG files only')
  }
  if (pixelData) {
    const present = await pixelDataBytesPresent(filePath, pixelData.byteLength)
    if (present !== undefined && present < pixelData.byteLength) {
      throw new InputError(filePath, `is truncated: the file ends ${pixelData.byteLength - present} bytes into its pixel data (${present} of ${pixelData.byteLength} bytes present)`)
    }
  }
  return decodeSeg(filePath, header, pixelData, target)
}

function decodeSeg(filePath: string, header: NaturalizedDataset, pixelData: ArrayBuffer | undefined, target: SegTarget): DicomSegLabels {
  const fail = (problem: string): never => {
    throw new InputError(filePath, problem)
  }
  const warnings: string[] = []
  const sopClass = textValue(header.SOPClassUID)
  if (sopClass !== SEG_SOP_CLASS_UID && sopClass !== LABELMAP_SEG_SOP_CLASS_UID) {
    fail(`is not a DICOM Segmentation (SOP class ${sopClass || 'missing'}, modality ${textValue(header.Modality) || 'missing'})`)
  }
  const segFrameOfReference = textValue(header.FrameOfReferenceUID)
  if (target.frameOfReferenceUid && segFrameOfReference && segFrameOfReference !== target.frameOfReferenceUid) {
    fail(
      `the segmentation is in frame of reference ${segFrameOfReference} but the image is in ${target.frameOfReferenceUid}: ` +
        'it was made on another scan (or another patient position) and cannot be placed on this image',
    )
  }
  if (!segFrameOfReference) warnings.push('The segmentation names no frame of reference; it was placed by position only.')

  const rows = numberValue(header.Rows) ?? 0
  const columns = numberValue(header.Columns) ?? 0
  const frameCount = numberValue(header.NumberOfFrames) ?? 1
  if (!(rows > 0 && columns > 0 && frameCount > 0)) fail(`has an invalid frame size (${rows} rows x ${columns} columns x ${frameCount} frames)`)
  const bitsAllocated = numberValue(header.BitsAllocated) ?? 0
  const kind: SegKind =
    sopClass === LABELMAP_SEG_SOP_CLASS_UID ? 'LABELMAP' : textValue(header.SegmentationType) === 'FRACTIONAL' ? 'FRACTIONAL' : 'BINARY'
  const expectedBits = kind === 'BINARY' ? [1] : kind === 'FRACTIONAL' ? [8] : [8, 16]
  if (!expectedBits.includes(bitsAllocated)) fail(`is a ${kind} segmentation with ${bitsAllocated} bits per pixel (expected ${expectedBits.join(' or ')})`)
  const maxFraction = numberValue(header.MaximumFractionalValue) ?? 255
  if (kind === 'FRACTIONAL' && !(maxFraction > 0)) fail(`has an invalid MaximumFractionalValue (${maxFraction})`)

  const { segments, labelOfSegmentNumber } = readSegmentTable(header, fail, warnings)

  const framePixels = rows * columns
  const neededBytes = kind === 'BINARY' ? Math.ceil((framePixels * frameCount) / 8) : framePixels * frameCount * (bitsAllocated / 8)
  if (!pixelData) fail('has no pixel data')
  const bytes = new Uint8Array(pixelData as ArrayBuffer)
  if (bytes.length < neededBytes) fail(`its pixel data is truncated (${bytes.length} of ${neededBytes} bytes)`)

  const shared = firstItem(header.SharedFunctionalGroupsSequence) ?? {}
  const perFrame = seqItems(header.PerFrameFunctionalGroupsSequence)
  if (perFrame.length !== frameCount) {
    warnings.push(`The segmentation has ${frameCount} frames but ${perFrame.length} per-frame descriptions; frames without one were skipped.`)
  }

  // Later segments win overlaps: paint frames in label order (stable, so frame order within a segment).
  const frames: { index: number; label: number }[] = []
  const notIdentified = new Map<string, number>()
  for (let f = 0; f < Math.min(frameCount, perFrame.length); f++) {
    if (kind === 'LABELMAP') {
      frames.push({ index: f, label: 0 })
      continue
    }
    const group = (key: string): NaturalizedDataset | undefined => firstItem(perFrame[f][key]) ?? firstItem(shared[key])
    const segmentNumber = numberValue(group('SegmentIdentificationSequence')?.ReferencedSegmentNumber)
    const label = segmentNumber === undefined ? undefined : labelOfSegmentNumber.get(segmentNumber)
    if (label === undefined) {
      const why = segmentNumber === undefined ? 'name no segment' : `name segment ${segmentNumber}, which the segment list lacks`
      notIdentified.set(why, (notIdentified.get(why) ?? 0) + 1)
      continue
    }
    frames.push({ index: f, label })
  }
  for (const [why, n] of notIdentified) warnings.push(`${n} frame(s) ${why}; they were skipped.`)
  frames.sort((a, b) => a.label - b.label || a.index - b.index)

  const g = target.geometry
  const labels = allocateVoxels('uint8', voxelCount(g)) as Uint8Array
  const mask = new Uint8Array(framePixels)
  const readFrame = frameReader(kind, bytes, framePixels, bitsAllocated, maxFraction, labelOfSegmentNumber)
  const unplaced = new Map<string, { frames: number; withPixels: number }>()
  let setPixels = 0
  let placedPixels = 0
  let clippedPixels = 0
  let overlaps = 0
  let unknownLabelPixels = 0
  for (const frame of frames) {
    const fg = perFrame[frame.index]
    const group = (key: string): NaturalizedDataset | undefined => firstItem(fg[key]) ?? firstItem(shared[key])
    const frameSet = readFrame(frame.index, frame.label, mask)
    unknownLabelPixels += frameSet.unknown
    if (frameSet.count === 0) continue
    setPixels += frameSet.count
    const plane = framePlane(group, rows, columns)
    const result = plane ? placeFrame(g, plane) : { ok: false as const, reason: 'it has no plane position, orientation or pixel spacing' }
    if (!result.ok) {
      const entry = unplaced.get(result.reason) ?? { frames: 0, withPixels: 0 }
      entry.frames++
      entry.withPixels += frameSet.count
      unplaced.set(result.reason, entry)
      continue
    }
    const painted = paintFrame(labels, g.dims, result.placement, mask, rows, columns)
    placedPixels += painted.placed
    clippedPixels += painted.clipped
    overlaps += painted.overlaps
  }

  if (setPixels > 0 && placedPixels === 0) {
    const [reason] = [...unplaced.entries()].sort((a, b) => b[1].withPixels - a[1].withPixels)[0] ?? ['they fall outside the image']
    fail(`none of its segmented frames lands on the image grid: ${reason} (is this segmentation from another series?)`)
  }
  for (const [reason, { frames: n, withPixels }] of unplaced) {
    warnings.push(`${n} frame(s) holding ${withPixels} segmented pixels were not placed: ${reason}.`)
  }
  if (clippedPixels > 0) warnings.push(`${clippedPixels} segmented pixels lie outside the image and were dropped.`)
  if (overlaps > 0) warnings.push(`${overlaps} voxels belong to more than one segment; each keeps the later segment.`)
  if (unknownLabelPixels > 0) warnings.push(`${unknownLabelPixels} pixels carry a segment number the segment list lacks; they were skipped.`)
  if (setPixels === 0) warnings.push('The segmentation is empty.')

  const counts = new Float64Array(256)
  for (let v = 0; v < labels.length; v++) counts[labels[v]]++
  for (const s of segments) {
    s.voxelCount = counts[s.number]
    if (s.voxelCount === 0 && setPixels > 0) warnings.push(`Segment ${s.number} "${s.label}" has no voxels on this image.`)
  }
  const referencedSeriesUid = textValue(firstItem(header.ReferencedSeriesSequence)?.SeriesInstanceUID) || undefined
  return { labels, segments, warnings, referencedSeriesUid }
}

function readSegmentTable(
  header: NaturalizedDataset,
  fail: (problem: string) => never,
  warnings: string[],
): { segments: SegSegmentInfo[]; labelOfSegmentNumber: Map<number, number> } {
  const items = seqItems(header.SegmentSequence)
    .map((item) => ({ item, segmentNumber: numberValue(item.SegmentNumber) }))
    .filter((s): s is { item: NaturalizedDataset; segmentNumber: number } => s.segmentNumber !== undefined)
    .sort((a, b) => a.segmentNumber - b.segmentNumber)
  if (items.length === 0) fail('lists no segments (SegmentSequence is empty)')
  if (items.length > 255) fail(`has ${items.length} segments; LesionLab holds at most 255 labels`)
  const labelOfSegmentNumber = new Map<number, number>()
  const segments: SegSegmentInfo[] = []
  let renumbered = false
  for (const { item, segmentNumber } of items) {
    if (labelOfSegmentNumber.has(segmentNumber)) {
      warnings.push(`Segment number ${segmentNumber} is listed twice; the first entry was used.`)
      continue
    }
    const number = segments.length + 1
    if (number !== segmentNumber) renumbered = true
    labelOfSegmentNumber.set(segmentNumber, number)
    const optional = (v: unknown): string | undefined => textValue(v) || undefined
    segments.push({
      number,
      label: textValue(item.SegmentLabel) || `Segment ${segmentNumber}`,
      description: optional(item.SegmentDescription),
      algorithmType: optional(item.SegmentAlgorithmType),
      algorithmName: optional(item.SegmentAlgorithmName),
      category: optional(firstItem(item.SegmentedPropertyCategoryCodeSequence)?.CodeMeaning),
      type: optional(firstItem(item.SegmentedPropertyTypeCodeSequence)?.CodeMeaning),
      colorRgb: colorOf(item.RecommendedDisplayCIELabValue),
      voxelCount: 0,
    })
  }
  if (renumbered) {
    warnings.push('Segment numbers do not run 1..N; segments were renumbered in their order.')
  }
  return { segments, labelOfSegmentNumber }
}

function colorOf(value: unknown): [number, number, number] | undefined {
  const lab = numberValues(value, 3)
  if (!lab) return undefined
  const rgb = dcmjsSeg.data.Colors.dicomlab2RGB(lab)
  return rgb.map((c) => Math.max(0, Math.min(255, Math.round(c * 255)))) as [number, number, number]
}

function framePlane(group: (key: string) => NaturalizedDataset | undefined, rows: number, columns: number): FramePlane | undefined {
  const position = numberValues(group('PlanePositionSequence')?.ImagePositionPatient, 3)
  const orientation = numberValues(group('PlaneOrientationSequence')?.ImageOrientationPatient, 6)
  const spacing = numberValues(group('PixelMeasuresSequence')?.PixelSpacing, 2)
  if (!position || !orientation || !spacing || !(spacing[0] > 0 && spacing[1] > 0)) return undefined
  return {
    positionLps: position as Vec3,
    orientation: orientation as FramePlane['orientation'],
    pixelSpacingMm: spacing as [number, number],
    rows,
    columns,
  }
}

/**
 * Fills `mask` (one byte per pixel) with the frame's label where it is segmented, 0 elsewhere; returns
 * how many pixels are set and how many carried an unknown segment number (label maps only).
 * Binary frames are bit-packed continuously across frame boundaries (PS3.5 8.1.1), least significant
 * bit first, so a frame may start mid-byte: dcmjs's BitArray.unpack works on whole buffers only and would
 * unpack the entire multi-frame volume at 8x its size, hence the per-frame bit walk here.
 */
function frameReader(
  kind: SegKind,
  bytes: Uint8Array,
  framePixels: number,
  bitsAllocated: number,
  maxFraction: number,
  labelOfSegmentNumber: Map<number, number>,
): (frame: number, label: number, mask: Uint8Array) => { count: number; unknown: number } {
  if (kind === 'BINARY') {
    return (frame, label, mask) => {
      const firstBit = frame * framePixels
      const byte0 = Math.floor(firstBit / 8)
      const bit0 = firstBit % 8
      let count = 0
      for (let p = 0; p < framePixels; p++) {
        const b = bit0 + p
        const on = (bytes[byte0 + (b >>> 3)] >> (b & 7)) & 1
        mask[p] = on ? label : 0
        count += on
      }
      return { count, unknown: 0 }
    }
  }
  if (kind === 'FRACTIONAL') {
    return (frame, label, mask) => {
      const start = frame * framePixels
      let count = 0
      for (let p = 0; p < framePixels; p++) {
        const on = bytes[start + p] * 2 >= maxFraction
        mask[p] = on ? label : 0
        if (on) count++
      }
      return { count, unknown: 0 }
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return (frame, _label, mask) => {
    const start = frame * framePixels
    let count = 0
    let unknown = 0
    for (let p = 0; p < framePixels; p++) {
      const value = bitsAllocated === 16 ? view.getUint16(2 * (start + p), true) : bytes[start + p]
      const label = value === 0 ? 0 : (labelOfSegmentNumber.get(value) ?? 0)
      if (value !== 0 && label === 0) unknown++
      mask[p] = label
      if (label) count++
    }
    return { count, unknown }
  }
}

function paintFrame(
  labels: Uint8Array,
  dims: Vec3,
  at: FramePlacement,
  mask: Uint8Array,
  rows: number,
  columns: number,
): { placed: number; clipped: number; overlaps: number } {
  const [nx, ny] = dims
  const sliceBase = at.k * nx * ny
  let placed = 0
  let clipped = 0
  let overlaps = 0
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const label = mask[r * columns + c]
      if (label === 0) continue
      const i = at.i0 + at.ic * c + at.ir * r
      const j = at.j0 + at.jc * c + at.jr * r
      if (i < 0 || j < 0 || i >= nx || j >= ny) {
        clipped++
        continue
      }
      const v = sliceBase + i + nx * j
      const previous = labels[v]
      if (previous !== 0 && previous !== label) overlaps++
      labels[v] = label
      placed++
    }
  }
  return { placed, clipped, overlaps }
}
