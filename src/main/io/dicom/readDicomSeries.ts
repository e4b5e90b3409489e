import type { Mat3, Vec3, VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray, VoxelType } from '../../../shared/volume'
import { allocateVoxels, MAX_VOXELS } from '../../imaging/voxelBuffers'
import { InputError } from '../InputError'
import { forEachConcurrently } from './concurrency'
import { readDicomDataset, TRANSFER_SYNTAX } from './dicomFile'
import type { DicomFrameRef, DicomImageSeries, DicomSeriesSummary, NaturalizedDataset } from './dicomTypes'
import { rescaleFrameInto, storedRange, type FramePixels, type PixelFormat } from './pixelFrames'
import { dot, frameLabel, normalize, norm, planSliceStack, type SlicePlan, type StackFrame } from './sliceStack'

export interface ReadSeriesOptions {
  /** Files read so far, of the series' files. */
  onProgress?(done: number, total: number): void
  signal?: AbortSignal
}

/** Series that are not images (or are read by their own readers: SEG, RTSTRUCT). */
const NOT_IMAGES = new Set(['RTSTRUCT', 'SEG', 'SR', 'RWV', 'KO', 'PR', 'REG', 'RTPLAN', 'RTRECORD', 'DOC'])
const READ_CONCURRENCY = 4
/** Orientation cosines and relative pixel spacings that differ by more than this are "different". */
const SAME_DIRECTION = 1e-3
const SAME_SPACING = 1e-3
const MAX_PIXEL_SPACING_MM = 1000

interface Frame extends StackFrame {
  instance: Instance
  sopInstanceUid: string
  sopClassUid: string
  /** 1-based frame number within its file (1 for single-frame files). */
  frameIndex: number
  rowDir: Vec3
  colDir: Vec3
  rows: number
  columns: number
  /** PixelSpacing as stored: [between rows, between columns] (mm). */
  pixelSpacing: [number, number]
  slope: number
  intercept: number
  pixels: FramePixels
}

interface Instance {
  filePath: string
  header: NaturalizedDataset
  /** Rank of its first frame in slice order, to list headers in slice order. */
  firstRank: number
}

/**
 * Read an image series onto a regular LPS grid: axis 0 along a row (IOP[0..2], increasing column),
 * axis 1 down the columns (IOP[3..5]), axis 2 along the slice normal in ascending order. Values are
 * stored pixels times each frame's RescaleSlope plus RescaleIntercept. Throws InputError naming the file.
 */
export async function readDicomImageSeries(series: DicomSeriesSummary, options: ReadSeriesOptions = {}): Promise<DicomImageSeries> {
  const { signal, onProgress } = options
  const number = series.seriesNumber !== undefined ? ` (#${series.seriesNumber})` : ''
  const seriesLabel = `${series.modality} series "${series.seriesDescription}"${number}`
  const firstFile = series.files[0] ?? `series ${series.seriesInstanceUid}`
  if (NOT_IMAGES.has(series.modality) || series.files.length === 0) {
    const what = series.files.length === 0 ? 'empty' : `a ${series.modality} object`
    throw new InputError(firstFile, `the ${seriesLabel} is ${what}, not an image series`)
  }
  const warnings: string[] = []

  const perFile = new Array<Frame[]>(series.files.length)
  let done = 0
  onProgress?.(0, series.files.length)
  await forEachConcurrently(series.files.length, READ_CONCURRENCY, async (index) => {
    signal?.throwIfAborted()
    const filePath = series.files[index]
    const dataset = await readDicomDataset(filePath)
    const seriesUid = String(dataset.header.SeriesInstanceUID ?? '').trim()
    if (seriesUid !== series.seriesInstanceUid) {
      throw new InputError(filePath, `belongs to series ${seriesUid || '(none)'}, not to the ${seriesLabel} (${series.seriesInstanceUid})`)
    }
    const frames = framesOf(filePath, dataset.header, dataset.transferSyntaxUid, dataset.pixelData)
    if (frames.length === 0) warnings.push(`${filePath}: holds no image (no pixel data); left out of the ${seriesLabel}`)
    perFile[index] = frames
    onProgress?.(++done, series.files.length)
  })
  signal?.throwIfAborted()
  const frames = perFile.flat()
  if (frames.length === 0) throw new InputError(firstFile, `the ${seriesLabel} holds no image frames`)

  const reference = frames[0]
  checkConsistent(frames, reference)
  const plan = planSliceStack(frames, reference.rowDir, reference.colDir, {
    seriesLabel: `the ${seriesLabel}`,
    pixelSpacingMm: Math.min(reference.pixelSpacing[0], reference.pixelSpacing[1]),
    singleSliceSpacingMm: sliceThicknessOf(reference.instance.header),
  })
  warnings.push(...plan.warnings)

  const dims: Vec3 = [reference.columns, reference.rows, plan.sliceCount]
  const count = dims[0] * dims[1] * dims[2]
  if (count > MAX_VOXELS) {
    throw new InputError(firstFile, `the ${seriesLabel} is ${dims.join(' x ')} voxels, beyond what LesionLab can hold`)
  }
  const geometry: VolumeGeometry = {
    dims,
    // PixelSpacing is (row spacing, column spacing): axis 0 steps between columns, axis 1 between rows.
    spacingMm: [reference.pixelSpacing[1], reference.pixelSpacing[0], plan.sliceSpacingMm],
    originLps: [...plan.originLps],
    directionLps: [...reference.rowDir, ...reference.colDir, ...plan.sliceAxis] as Mat3,
  }
  const sorted = plan.order.map((i) => frames[i])
  const voxels = assembleVoxels(sorted, plan, outputType(series.modality, sorted), dims[0] * dims[1])

  sorted.forEach((f, rank) => (f.instance.firstRank = Math.min(f.instance.firstRank, rank)))
  const instances = [...new Set(sorted.map((f) => f.instance))].sort((a, b) => a.firstRank - b.firstRank)
  const slices: DicomFrameRef[] = Array.from(plan.nearest, (rank) => {
    const f = sorted[rank]
    return {
      filePath: f.filePath,
      sopInstanceUid: f.sopInstanceUid,
      sopClassUid: f.sopClassUid,
      frameNumber: f.frameIndex,
      imagePositionPatient: [...f.position],
    }
  })
  return {
    summary: series,
    geometry,
    voxels,
    slices,
    firstHeader: sorted[0].instance.header,
    instanceHeaders: instances.map((i) => i.header),
    warnings,
  }
}

/** int16 when every value is an integer that fits (CT in HU); float32 otherwise, and always for PET. */
function outputType(modality: string, frames: Frame[]): VoxelType {
  if (modality === 'PT') return 'float32'
  let min = Infinity
  let max = -Infinity
  for (const f of frames) {
    if (!Number.isInteger(f.slope) || !Number.isInteger(f.intercept)) return 'float32'
    const r = storedRange(f.pixels)
    const a = r.min * f.slope + f.intercept
    const b = r.max * f.slope + f.intercept
    min = Math.min(min, a, b)
    max = Math.max(max, a, b)
  }
  return min >= -32768 && max <= 32767 ? 'int16' : 'float32'
}

/**
 * Rescaled frames into one voxel array, slice k = plan slice k. A resampled plan blends the two
 * neighbouring source slices linearly (rounded for int16 output: HU are integers).
 */
function assembleVoxels(sorted: Frame[], plan: SlicePlan, type: VoxelType, sliceSize: number): VoxelArray {
  const voxels = allocateVoxels(type, sliceSize * plan.sliceCount)
  if (!plan.resampled) {
    for (let k = 0; k < sorted.length; k++) {
      const f = sorted[k]
      rescaleFrameInto(f.pixels, f.slope, f.intercept, voxels, k * sliceSize)
    }
    return voxels
  }
  const stack = new Float32Array(sliceSize * sorted.length)
  for (let k = 0; k < sorted.length; k++) rescaleFrameInto(sorted[k].pixels, sorted[k].slope, sorted[k].intercept, stack, k * sliceSize)
  const round = type !== 'float32'
  for (let m = 0; m < plan.sliceCount; m++) {
    const lo = plan.lower[m] * sliceSize
    const w = plan.weight[m]
    const out = m * sliceSize
    if (w === 0) {
      voxels.set(stack.subarray(lo, lo + sliceSize), out)
      continue
    }
    const hi = lo + sliceSize
    for (let i = 0; i < sliceSize; i++) {
      const a = stack[lo + i]
      const v = a + w * (stack[hi + i] - a)
      voxels[out + i] = round ? Math.round(v) : v
    }
  }
  return voxels
}

/** The image frames of one instance (none when it holds no image). */
function framesOf(filePath: string, header: NaturalizedDataset, transferSyntaxUid: string, pixelData: ArrayBuffer | undefined): Frame[] {
  const rows = numberOf(header.Rows)
  const columns = numberOf(header.Columns)
  if (rows === undefined && columns === undefined && pixelData === undefined) return []
  if (!(rows !== undefined && columns !== undefined && Number.isInteger(rows) && Number.isInteger(columns) && rows >= 1 && columns >= 1)) {
    throw new InputError(filePath, `invalid image size (Rows ${String(header.Rows)}, Columns ${String(header.Columns)})`)
  }
  const samples = numberOf(header.SamplesPerPixel) ?? 1
  if (samples !== 1) throw new InputError(filePath, `has ${samples} samples per pixel (colour); only greyscale images are supported`)
  const bitsAllocated = numberOf(header.BitsAllocated)
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new InputError(filePath, `BitsAllocated ${String(header.BitsAllocated)} is not supported (8, 16 or 32)`)
  }
  const format: PixelFormat = {
    bitsAllocated,
    bitsStored: numberOf(header.BitsStored) ?? bitsAllocated,
    signed: numberOf(header.PixelRepresentation) === 1,
    littleEndian: transferSyntaxUid !== TRANSFER_SYNTAX.explicitBig,
  }
  const frameCount = numberOf(header.NumberOfFrames) ?? 1
  if (!(Number.isInteger(frameCount) && frameCount >= 1)) throw new InputError(filePath, `invalid NumberOfFrames ${String(header.NumberOfFrames)}`)
  const sliceSize = rows * columns
  const frameBytes = sliceSize * (bitsAllocated >> 3)
  const needed = frameBytes * frameCount
  if (pixelData === undefined) throw new InputError(filePath, `has no pixel data (the file may be truncated before it)`)
  if (pixelData.byteLength < needed) {
    throw new InputError(
      filePath,
      `the pixel data is truncated: ${pixelData.byteLength} bytes, ${needed} needed for ` +
        `${frameCount} frame(s) of ${columns} x ${rows} ${bitsAllocated}-bit pixels`,
    )
  }

  // Enhanced multi-frame objects keep geometry and rescale in functional groups: per frame first,
  // then shared, then the classic top-level attributes.
  const perFrame = items(header.PerFrameFunctionalGroupsSequence)
  const shared = items(header.SharedFunctionalGroupsSequence)[0]
  const fromGroups = (frame: number, sequence: string, attribute: string): unknown =>
    items(perFrame[frame]?.[sequence])[0]?.[attribute] ?? items(shared?.[sequence])[0]?.[attribute]
  const instance: Instance = { filePath, header, firstRank: Infinity }
  const sopInstanceUid = String(header.SOPInstanceUID ?? '').trim()
  const sopClassUid = String(header.SOPClassUID ?? '').trim()
  const frames: Frame[] = []
  for (let f = 0; f < frameCount; f++) {
    const where = frameCount > 1 ? `frame ${f + 1}` : 'the image'
    const classicIpp = frameCount === 1 ? header.ImagePositionPatient : undefined
    const ipp = numbersOf(fromGroups(f, 'PlanePositionSequence', 'ImagePositionPatient') ?? classicIpp, 3)
    if (!ipp) {
      throw new InputError(
        filePath,
        frameCount > 1
          ? `multi-frame image without a position for ${where} (PlanePositionSequence); this kind of multi-frame file is not supported`
          : 'has no valid ImagePositionPatient (0020,0032): the slice cannot be placed in space',
      )
    }
    const iop = numbersOf(fromGroups(f, 'PlaneOrientationSequence', 'ImageOrientationPatient') ?? header.ImageOrientationPatient, 6)
    if (!iop) throw new InputError(filePath, `has no valid ImageOrientationPatient (0020,0037) for ${where}: the slice cannot be oriented`)
    const rowDir = [iop[0], iop[1], iop[2]] as Vec3
    const colDir = [iop[3], iop[4], iop[5]] as Vec3
    if (!(norm(rowDir) > 0.5 && norm(colDir) > 0.5 && Math.abs(dot(normalize(rowDir), normalize(colDir))) < SAME_DIRECTION)) {
      throw new InputError(filePath, `ImageOrientationPatient ${iop.join('\\')} is not two perpendicular unit vectors`)
    }
    const spacing = numbersOf(fromGroups(f, 'PixelMeasuresSequence', 'PixelSpacing') ?? header.PixelSpacing, 2)
    if (!spacing || !spacing.every((s) => s > 0 && s <= MAX_PIXEL_SPACING_MM)) {
      throw new InputError(filePath, `has no valid PixelSpacing (0028,0030) for ${where} (${String(spacing ?? 'missing')})`)
    }
    let slope = numberOf(fromGroups(f, 'PixelValueTransformationSequence', 'RescaleSlope') ?? header.RescaleSlope) ?? 1
    const intercept = numberOf(fromGroups(f, 'PixelValueTransformationSequence', 'RescaleIntercept') ?? header.RescaleIntercept) ?? 0
    if (slope === 0) slope = 1 // a zero slope is a writer's "not set", as in pydicom and ITK
    frames.push({
      position: ipp as Vec3,
      filePath,
      frameNumber: frameCount > 1 ? f + 1 : undefined,
      frameIndex: f + 1,
      instance,
      sopInstanceUid,
      sopClassUid,
      rowDir: normalize(rowDir),
      colDir: normalize(colDir),
      rows,
      columns,
      pixelSpacing: [spacing[0], spacing[1]],
      slope,
      intercept,
      pixels: { buffer: pixelData, byteOffset: f * frameBytes, count: sliceSize, format },
    })
  }
  return frames
}

/** Every frame must share the first one's size, orientation and pixel spacing to make one volume. */
function checkConsistent(frames: Frame[], reference: Frame): void {
  const ref = frameLabel(reference)
  for (const f of frames) {
    const self = f.frameNumber === undefined ? 'the image' : `frame ${f.frameNumber}`
    if (f.rows !== reference.rows || f.columns !== reference.columns) {
      throw new InputError(
        f.filePath,
        `${self} is ${f.columns} x ${f.rows} pixels but ${ref} is ${reference.columns} x ${reference.rows}: the series mixes image sizes`,
      )
    }
    let direction = 0
    for (let a = 0; a < 3; a++) {
      direction = Math.max(direction, Math.abs(f.rowDir[a] - reference.rowDir[a]), Math.abs(f.colDir[a] - reference.colDir[a]))
    }
    if (direction > SAME_DIRECTION) {
      throw new InputError(
        f.filePath,
        `${self} has orientation ${[...f.rowDir, ...f.colDir].map((v) => v.toFixed(4)).join('\\')} but ${ref} has ` +
          `${[...reference.rowDir, ...reference.colDir].map((v) => v.toFixed(4)).join('\\')}: the series mixes orientations`,
      )
    }
    for (let a = 0; a < 2; a++) {
      if (Math.abs(f.pixelSpacing[a] - reference.pixelSpacing[a]) > SAME_SPACING * reference.pixelSpacing[a]) {
        throw new InputError(
          f.filePath,
          `${self} has pixel spacing ${f.pixelSpacing.join('\\')} mm but ${ref} has ${reference.pixelSpacing.join('\\')} mm`,
        )
      }
    }
  }
}

function sliceThicknessOf(header: NaturalizedDataset): number | undefined {
  const shared = items(header.SharedFunctionalGroupsSequence)[0]
  const measures = items(shared?.PixelMeasuresSequence)[0]
  return (
    numberOf(measures?.SpacingBetweenSlices) ??
    numberOf(header.SpacingBetweenSlices) ??
    numberOf(measures?.SliceThickness) ??
    numberOf(header.SliceThickness)
  )
}

/** dcmjs naturalizes a sequence as an array of items (occasionally a lone item). */
function items(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
  return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : []
}

function numberOf(value: unknown): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === null || v === '') return undefined
  const n = typeof v === 'number' ? v : Number(String(v).trim())
  return Number.isFinite(n) ? n : undefined
}

function numbersOf(value: unknown, count: number): number[] | undefined {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : value === undefined ? [] : [value]
  if (list.length < count) return undefined
  const out = list.slice(0, count).map((v) => (typeof v === 'number' ? v : Number(String(v).trim())))
  return out.every(Number.isFinite) ? out : undefined
}
