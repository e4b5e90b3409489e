import { resolve } from 'node:path'
import { axisDirection, indexToWorld, voxelCount } from '../../../../shared/geometry'
import { writeFileAtomic } from '../../atomicWrite'
import { InputError } from '../../InputError'
import { TRANSFER_SYNTAX } from '../dicomFile'
import type { DicomImageSeries, NaturalizedDataset } from '../dicomTypes'
import { firstItem, numberValue, textValue } from './datasetValues'
import { dcmjsSeg } from './dcmjsSeg'
import {
  CATEGORY_MORPHOLOGICALLY_ALTERED,
  codeItem,
  LESIONLAB_IMPLEMENTATION_CLASS_UID,
  newDicomUid,
  TYPE_LESION,
  type CodedConcept,
} from './segCodes'

export type SegAlgorithmType = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL'

export interface SegSegmentInput {
  /** The segment's value in `labels`. */
  number: number
  label: string
  description?: string
  algorithmType: SegAlgorithmType
  /** Required by DICOM unless MANUAL; defaults to the software name. */
  algorithmName?: string
  /** Default: SCT 49755003 "Morphologically Altered Structure". */
  category?: CodedConcept
  /** Default: SCT 52988006 "Lesion". */
  type?: CodedConcept
  /** sRGB 0..255; written as RecommendedDisplayCIELabValue. */
  colorRgb?: [number, number, number]
}

export interface WriteSegInput {
  /** One label per voxel of `source.geometry` (0 background). */
  labels: Uint8Array
  /** The image series the labels lie on (its grid, its instances). */
  source: DicomImageSeries
  segments: SegSegmentInput[]
  seriesDescription?: string
  seriesNumber?: number
  /** ContentLabel (DICOM CS: capitals, digits, space, underscore; 16 characters). Default "LESIONS". */
  contentLabel?: string
  /** The person who made or approved the segmentation (ContentCreatorName). */
  contentCreatorName?: string
  software: { name: string; version: string }
  /** Further paths never to replace; the source series' files are always protected. */
  protectedPaths?: string[]
}

export interface WriteSegResult {
  sopInstanceUid: string
  seriesInstanceUid: string
  /** Frames written (one per segment per slice that segment touches). */
  frameCount: number
  /** Input segment number (label value) to the SegmentNumber written: segments are numbered 1..N in input-number order. */
  segmentNumbers: Map<number, number>
  warnings: string[]
}

/** Patient, study and clinical-trial attributes a derived object in the same study carries over. */
const COPIED_FROM_SOURCE = [
  'PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientBirthTime', 'PatientSex',
  'OtherPatientIDsSequence', 'PatientIdentityRemoved', 'DeidentificationMethod', 'DeidentificationMethodCodeSequence',
  'PatientAge', 'PatientSize', 'PatientWeight',
  'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber', 'StudyDescription',
  'ClinicalTrialSponsorName', 'ClinicalTrialProtocolID', 'ClinicalTrialProtocolName', 'ClinicalTrialSiteID',
  'ClinicalTrialSiteName', 'ClinicalTrialSubjectID', 'ClinicalTrialSubjectReadingID', 'ClinicalTrialTimePointID',
  'ClinicalTrialCoordinatingCenterName', 'ClinicalTrialSeriesID',
] as const

/** Distinct default colours (sRGB) for segments that bring none. */
const PALETTE: [number, number, number][] = [
  [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [170, 110, 40],
]

/**
 * Write a label map as a binary DICOM Segmentation: a new series in the source's study and frame of
 * reference, one 1-bit frame per segment per slice it touches (empty frames left out), each frame
 * placed by PlanePositionSequence and referencing its source image. Written atomically; never over a
 * source file.
 */
export async function writeDicomSegFile(filePath: string, input: WriteSegInput): Promise<WriteSegResult> {
  const target = resolve(filePath)
  const protectedPaths = [...input.source.summary.files, ...input.source.slices.map((s) => s.filePath), ...(input.protectedPaths ?? [])].map((p) => resolve(p))
  if (protectedPaths.includes(target)) throw new InputError(filePath, 'is one of the study\'s input files; choose another name')
  const built = buildSegDataset(input)
  await writeFileAtomic(target, encodeSegDataset(built.dataset), { protectedPaths })
  return built.result
}

/** The SEG as a dcmjs naturalized dataset (PixelData bit-packed), plus what the caller learns. */
export function buildSegDataset(input: WriteSegInput): { dataset: NaturalizedDataset; result: WriteSegResult } {
  const { labels, source, software } = input
  const g = source.geometry
  const [nx, ny, nz] = g.dims
  const slicePixels = nx * ny
  if (labels.length !== voxelCount(g)) throw new Error(`labels hold ${labels.length} voxels but the source grid has ${voxelCount(g)}`)
  if (source.slices.length !== nz) throw new Error(`the source lists ${source.slices.length} slices for a grid of ${nz}`)
  const segments = [...input.segments].sort((a, b) => a.number - b.number)
  const numbers = new Set<number>()
  for (const s of segments) {
    if (!Number.isInteger(s.number) || s.number < 1 || s.number > 255) throw new Error(`segment number ${s.number} is not a label value 1..255`)
    if (numbers.has(s.number)) throw new Error(`segment number ${s.number} is given twice`)
    numbers.add(s.number)
  }

  // Which slices each label touches: one pass over the volume.
  const present = new Uint8Array(256 * nz)
  for (let k = 0; k < nz; k++) {
    const base = k * slicePixels
    for (let p = 0; p < slicePixels; p++) {
      const v = labels[base + p]
      if (v !== 0) present[v * nz + k] = 1
    }
  }
  const unknown = [...Array(256).keys()].filter((v) => v > 0 && !numbers.has(v) && present.subarray(v * nz, (v + 1) * nz).includes(1))
  if (unknown.length > 0) throw new Error(`labels ${unknown.join(', ')} occur in the mask but have no segment description`)
  const slicesOf = new Map(segments.map((s) => [s.number, [...Array(nz).keys()].filter((k) => present[s.number * nz + k])]))
  const frameCount = [...slicesOf.values()].reduce((n, ks) => n + ks.length, 0)
  if (frameCount === 0) throw new InputError('mask', 'is empty: there is nothing to save as DICOM SEG')

  const seriesInstanceUid = newDicomUid()
  const sopInstanceUid = newDicomUid()
  const now = dicomDateTime(new Date())
  // dcmjs's Segmentation derivation builds the SEG modules (dimension organisation, per-frame
  // derivation codes, segment validation, bit packing) from a multi-frame "reference" image; ours is
  // assembled from the grid itself, so frames sit exactly on the label map's slices.
  const derivation = new dcmjsSeg.derivations.Segmentation([referenceMultiframe(source)], {
    includeSliceSpacing: true,
    Manufacturer: software.name,
    ManufacturerModelName: software.name,
    SoftwareVersions: software.version,
    DeviceSerialNumber: '0',
    SeriesDescription: (input.seriesDescription ?? `${software.name} segmentation`).slice(0, 64),
    SeriesNumber: String(input.seriesNumber ?? 900),
    SeriesDate: now.date,
    SeriesTime: now.time,
    ContentDate: now.date,
    ContentTime: now.time,
    SOPInstanceUID: sopInstanceUid,
    SeriesInstanceUID: seriesInstanceUid,
    ContentDescription: `Segmentation by ${software.name} ${software.version}`.slice(0, 64),
  })
  derivation.setNumberOfFrames(frameCount)
  const frameSlices: number[] = []
  const segmentNumbers = new Map<number, number>()
  const warnings: string[] = []
  segments.forEach((segment, index) => {
    const ks = slicesOf.get(segment.number) ?? []
    const pixels = new Uint8Array(ks.length * slicePixels)
    ks.forEach((k, f) => {
      const base = k * slicePixels
      for (let p = 0; p < slicePixels; p++) if (labels[base + p] === segment.number) pixels[f * slicePixels + p] = 1
    })
    if (ks.length === 0) warnings.push(`Segment ${segment.number} "${segment.label}" is empty; it is listed without frames.`)
    derivation.addSegment(segmentItem(segment, index, software.name), pixels, ks.map((k) => k + 1))
    frameSlices.push(...ks)
    segmentNumbers.set(segment.number, index + 1)
  })
  derivation.bitPackPixelData()

  const dataset = derivation.dataset
  finishDataset(dataset, input, frameSlices, now)
  return { dataset, result: { sopInstanceUid, seriesInstanceUid, frameCount, segmentNumbers, warnings } }
}

/** A Part 10 file (Explicit VR Little Endian) of a naturalized SEG dataset. */
export function encodeSegDataset(dataset: NaturalizedDataset): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjsSeg.data
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: TRANSFER_SYNTAX.explicitLittle,
    ImplementationClassUID: LESIONLAB_IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'LESIONLAB',
  }
  const body: NaturalizedDataset = { ...dataset }
  delete body._meta
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta))
  dict.dict = DicomMetaDictionary.denaturalizeDataset(body)
  return new Uint8Array(dict.write())
}

/**
 * The source series as the one multi-frame image dcmjs's derivation expects: frame k+1 is slice k of
 * the grid (position from the grid, not the nearest source file, so resampled grids stay exact), and
 * ReferencedInstanceSequence item k is slice k's source instance. Sequences are bare items here
 * because that is how the derivation reads them.
 */
function referenceMultiframe(source: DicomImageSeries): NaturalizedDataset {
  const g = source.geometry
  const h = source.firstHeader
  const [nx, ny, nz] = g.dims
  const copied: NaturalizedDataset = {}
  for (const key of COPIED_FROM_SOURCE) if (h[key] !== undefined) copied[key] = h[key]
  return {
    ...copied,
    StudyInstanceUID: source.summary.studyInstanceUid,
    SeriesInstanceUID: source.summary.seriesInstanceUid,
    SOPClassUID: source.slices[0]?.sopClassUid,
    SOPInstanceUID: source.slices[0]?.sopInstanceUid,
    FrameOfReferenceUID: source.summary.frameOfReferenceUid ?? textValue(h.FrameOfReferenceUID),
    PositionReferenceIndicator: textValue(h.PositionReferenceIndicator),
    NumberOfFrames: nz,
    Rows: ny,
    Columns: nx,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    SharedFunctionalGroupsSequence: {
      PlaneOrientationSequence: { ImageOrientationPatient: [...axisDirection(g, 0), ...axisDirection(g, 1)].map(tidy) },
      PixelMeasuresSequence: {
        PixelSpacing: [g.spacingMm[1], g.spacingMm[0]].map(tidy),
        SliceThickness: tidy(numberValue(h.SliceThickness) ?? g.spacingMm[2]),
        SpacingBetweenSlices: tidy(g.spacingMm[2]),
      },
    },
    PerFrameFunctionalGroupsSequence: source.slices.map((_, k) => ({
      PlanePositionSequence: { ImagePositionPatient: indexToWorld(g, [0, 0, k]).map(tidy) },
    })),
    ReferencedSeriesSequence: {
      SeriesInstanceUID: source.summary.seriesInstanceUid,
      ReferencedInstanceSequence: source.slices.map((s) => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid })),
    },
    PixelData: new ArrayBuffer(0),
    _vrMap: {},
    _meta: {},
  }
}

function segmentItem(segment: SegSegmentInput, index: number, softwareName: string): NaturalizedDataset {
  const rgb = segment.colorRgb ?? PALETTE[index % PALETTE.length]
  const lab = dcmjsSeg.data.Colors.rgb2DICOMLAB(rgb.map((c) => Math.max(0, Math.min(255, c)) / 255)).map((v) => Math.max(0, Math.min(65535, Math.round(v))))
  const item: NaturalizedDataset = {
    SegmentLabel: segment.label.slice(0, 64),
    SegmentAlgorithmType: segment.algorithmType,
    SegmentedPropertyCategoryCodeSequence: codeItem(segment.category ?? CATEGORY_MORPHOLOGICALLY_ALTERED),
    SegmentedPropertyTypeCodeSequence: codeItem(segment.type ?? TYPE_LESION),
    RecommendedDisplayCIELabValue: lab,
  }
  if (segment.description) item.SegmentDescription = segment.description.slice(0, 64)
  if (segment.algorithmType !== 'MANUAL') item.SegmentAlgorithmName = (segment.algorithmName || softwareName).slice(0, 64)
  return item
}

/**
 * What the dcmjs derivation leaves to do: references per source instance (deduplicated, with frame
 * numbers only for multi-frame sources, which dcmjs would number by our grid instead), the labels and
 * dates of this instance, and the clinical-trial placeholders it adds empty.
 */
function finishDataset(dataset: NaturalizedDataset, input: WriteSegInput, frameSlices: number[], now: { date: string; time: string }): void {
  const { source } = input
  const framesPerInstance = new Map<string, number>()
  for (const s of source.slices) framesPerInstance.set(s.sopInstanceUid, (framesPerInstance.get(s.sopInstanceUid) ?? 0) + 1)
  const isMultiFrame = (k: number): boolean => {
    const s = source.slices[k]
    return s.frameNumber > 1 || (framesPerInstance.get(s.sopInstanceUid) ?? 0) > 1
  }
  const perFrame = dataset.PerFrameFunctionalGroupsSequence as NaturalizedDataset[]
  perFrame.forEach((group, f) => {
    const k = frameSlices[f]
    const s = source.slices[k]
    const sourceImage = firstItem(firstItem(group.DerivationImageSequence)?.SourceImageSequence)
    if (!sourceImage) return
    sourceImage.ReferencedSOPClassUID = s.sopClassUid
    sourceImage.ReferencedSOPInstanceUID = s.sopInstanceUid
    if (isMultiFrame(k)) sourceImage.ReferencedFrameNumber = s.frameNumber
    else delete sourceImage.ReferencedFrameNumber
  })

  const instances = new Map<string, string>()
  for (const s of source.slices) instances.set(s.sopInstanceUid, s.sopClassUid)
  for (const h of source.instanceHeaders) {
    const uid = textValue(h.SOPInstanceUID)
    if (uid && !instances.has(uid)) instances.set(uid, textValue(h.SOPClassUID) || source.slices[0].sopClassUid)
  }
  dataset.ReferencedSeriesSequence = [
    {
      SeriesInstanceUID: source.summary.seriesInstanceUid,
      ReferencedInstanceSequence: [...instances].map(([uid, cls]) => ({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid })),
    },
  ]

  // dcmjs copies only a few patient/study attributes; the SEG belongs in the same patient and study.
  for (const key of COPIED_FROM_SOURCE) if (source.firstHeader[key] !== undefined) dataset[key] = source.firstHeader[key]
  for (const key of Object.keys(dataset)) {
    if (key.startsWith('ClinicalTrial') && dataset[key] === '' && source.firstHeader[key] === undefined) delete dataset[key]
  }
  delete dataset.ContentQualification
  dataset.SpecificCharacterSet = 'ISO_IR 192'
  dataset.ContentLabel = contentLabel(input.contentLabel ?? 'LESIONS')
  dataset.ContentCreatorName = input.contentCreatorName ? [{ Alphabetic: input.contentCreatorName }] : ''
  dataset.InstanceCreationDate = now.date
  dataset.InstanceCreationTime = now.time
  dataset._vrMap = { ...(dataset._vrMap as object), PixelData: 'OB' }
}

/** DICOM CS: upper-case letters, digits, space and underscore, at most 16 characters. */
function contentLabel(text: string): string {
  const cs = text.toUpperCase().replace(/[^A-Z0-9 _]/g, '_').slice(0, 16).trim()
  return cs || 'LESIONS'
}

/** Round away float noise (1e-13) that would waste DS characters. */
function tidy(v: number): number {
  return Math.round(v * 1e6) / 1e6
}

function dicomDateTime(d: Date): { date: string; time: string } {
  const two = (n: number): string => String(n).padStart(2, '0')
  return {
    date: `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}`,
    time: `${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`,
  }
}
