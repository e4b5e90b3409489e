/**
 * Acceptance: a DICOM SEG written by LesionLab is readable by Cornerstone3D's own SEG adapter
 * (@cornerstonejs/adapters, adaptersSEG.Cornerstone3D.Segmentation.createFromDICOMSegBuffer), the
 * reader OHIF and other Cornerstone viewers load SEG with. The adapter runs headless here: it needs a
 * list of referenced imageIds and a metadata provider for them (registered with Cornerstone core's
 * metaData registry, which core's derived label-map images consult too); the label maps it builds
 * per source image are compared pixel for pixel with our own labels. The original QIN SEG goes
 * through the same harness as a control.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adaptersSEG } from '@cornerstonejs/adapters'
import dcmjs from 'dcmjs'
import { cache, metaData } from '@cornerstonejs/core'
import { worldToIndex, type Vec3 } from '../../src/shared/geometry'
import { readDicomImageSeries, scanDicom, type DicomImageSeries, type NaturalizedDataset } from '../../src/main/io/dicom'
import { numberValue, numberValues, textValue } from '../../src/main/io/dicom/seg/datasetValues'
import { readDicomSegFile, type DicomSegLabels } from '../../src/main/io/dicom/seg/readSeg'
import { writeDicomSegFile, type SegSegmentInput, type WriteSegResult } from '../../src/main/io/dicom/seg/writeSeg'
import { dataPath, makeTempDir } from './helpers/data'

const QIN = dataPath('mirp-qin-hn-0139-pet-seg')
const QIN_SEG = join(QIN, 'mask', 'mask.dcm')
const SOFTWARE = { name: 'LesionLab', version: '0.1.0-test' }
const IMAGE_ID_SCHEME = 'lesionlab:'

const tmp = makeTempDir('lesionlab-segadapters-')

/** Per segment (our label value), per slice k: the set pixel indices (r * columns + c) in source-image order. */
type PixelsBySegment = Map<number, Map<number, number[]>>

interface AdapterResult {
  labelMapImages: { referencedImageId: string; getPixelData(): ArrayLike<number> }[][]
  segMetadata: { seriesInstanceUid: string; data: (NaturalizedDataset | undefined)[] }
  segmentsOnFrame: (number[] | undefined)[]
  overlappingSegments: boolean
}

const asArrayBuffer = (bytes: Buffer): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer

describe('Cornerstone3D SEG adapter reads LesionLab SEG files (QIN-HEADNECK PET, 11 lesions)', () => {
  let pet: DicomImageSeries
  let original: DicomSegLabels
  let imageIds: string[]
  let headerOf: Map<string, NaturalizedDataset>
  /** For slice k: source pixel (c, r) lands on voxel i0 + ic*c + ir*r, j0 + jc*c + jr*r of slice k. */
  let pixelToVoxel: { i0: number; j0: number; ic: number; ir: number; jc: number; jr: number }[]
  let provider: (type: string, query: unknown) => unknown
  let ourSegPath = ''
  let ourSegmentNumbers = new Map<number, number>()

  beforeAll(async () => {
    const scan = await scanDicom([join(QIN, 'image')])
    pet = await readDicomImageSeries(scan.studies[0].series[0])
    original = await readDicomSegFile(QIN_SEG, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })

    headerOf = new Map(pet.instanceHeaders.map((h) => [textValue(h.SOPInstanceUID), h]))
    imageIds = pet.slices.map((s) => `${IMAGE_ID_SCHEME}${s.sopInstanceUid}`)
    const uidOf = (imageId: string): string | undefined =>
      imageId.startsWith(IMAGE_ID_SCHEME) ? imageId.slice(IMAGE_ID_SCHEME.length).split(/[?&#]/)[0] : undefined

    // A minimal Cornerstone metadata provider built from the dcmjs naturalized headers.
    provider = (type: string, query: unknown): unknown => {
      const uid = typeof query === 'string' ? uidOf(query) : undefined
      const h = uid === undefined ? undefined : headerOf.get(uid)
      if (!h) return undefined
      const iop = numberValues(h.ImageOrientationPatient, 6)!
      const ipp = numberValues(h.ImagePositionPatient, 3)!
      const spacing = numberValues(h.PixelSpacing, 2)!
      const rows = numberValue(h.Rows)!
      const columns = numberValue(h.Columns)!
      switch (type) {
        case 'instance':
          return h
        case 'generalSeriesModule':
          return {
            modality: textValue(h.Modality),
            seriesInstanceUID: textValue(h.SeriesInstanceUID),
            studyInstanceUID: textValue(h.StudyInstanceUID),
            seriesNumber: numberValue(h.SeriesNumber),
          }
        case 'generalImageModule':
          return { sopInstanceUID: textValue(h.SOPInstanceUID), instanceNumber: numberValue(h.InstanceNumber) }
        case 'sopCommonModule':
          return { sopClassUID: textValue(h.SOPClassUID), sopInstanceUID: textValue(h.SOPInstanceUID) }
        case 'imagePlaneModule':
          return {
            frameOfReferenceUID: textValue(h.FrameOfReferenceUID),
            rows,
            columns,
            imageOrientationPatient: iop,
            rowCosines: iop.slice(0, 3),
            columnCosines: iop.slice(3, 6),
            imagePositionPatient: ipp,
            sliceThickness: numberValue(h.SliceThickness),
            pixelSpacing: spacing,
            rowPixelSpacing: spacing[0],
            columnPixelSpacing: spacing[1],
          }
        case 'imagePixelModule':
          return {
            samplesPerPixel: 1,
            photometricInterpretation: textValue(h.PhotometricInterpretation) || 'MONOCHROME2',
            rows,
            columns,
            bitsAllocated: numberValue(h.BitsAllocated),
            bitsStored: numberValue(h.BitsStored),
            highBit: numberValue(h.HighBit),
            pixelRepresentation: numberValue(h.PixelRepresentation),
          }
        default:
          return undefined
      }
    }
    // Core's derived (label-map) images read the referenced image's plane and series through core's registry.
    metaData.addProvider(provider, 10_000)

    // Where each source image's pixels lie on our grid, from the image's own header (not from our grid).
    const g = pet.geometry
    pixelToVoxel = pet.slices.map((s, k) => {
      const h = headerOf.get(s.sopInstanceUid)!
      const iop = numberValues(h.ImageOrientationPatient, 6)!
      const ipp = numberValues(h.ImagePositionPatient, 3)!
      const [rowSpacing, columnSpacing] = numberValues(h.PixelSpacing, 2)!
      const at = (c: number, r: number): Vec3 => {
        const w: Vec3 = [0, 1, 2].map((a) => ipp[a] + c * columnSpacing * iop[a] + r * rowSpacing * iop[3 + a]) as Vec3
        const ijk = worldToIndex(g, w)
        ijk.forEach((v) => expect(Math.abs(v - Math.round(v))).toBeLessThan(0.01))
        expect(Math.round(ijk[2])).toBe(k)
        return ijk.map(Math.round) as Vec3
      }
      const o = at(0, 0)
      const dc = at(1, 0)
      const dr = at(0, 1)
      return { i0: o[0], j0: o[1], ic: dc[0] - o[0], ir: dr[0] - o[0], jc: dc[1] - o[1], jr: dr[1] - o[1] }
    })
  }, 60_000)

  afterAll(() => {
    if (provider) metaData.removeProvider(provider)
    cache.purgeCache()
    tmp.cleanup()
  })

  /** Our labels, per segment and slice, in each source image's pixel order. */
  function ourPixels(labels: Uint8Array): PixelsBySegment {
    const [nx, ny] = pet.geometry.dims
    const out: PixelsBySegment = new Map()
    pet.slices.forEach((s, k) => {
      const h = headerOf.get(s.sopInstanceUid)!
      const rows = numberValue(h.Rows)!
      const columns = numberValue(h.Columns)!
      const m = pixelToVoxel[k]
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < columns; c++) {
          const i = m.i0 + m.ic * c + m.ir * r
          const j = m.j0 + m.jc * c + m.jr * r
          const v = labels[i + nx * (j + ny * k)]
          if (v === 0) continue
          let bySlice = out.get(v)
          if (!bySlice) out.set(v, (bySlice = new Map()))
          let list = bySlice.get(k)
          if (!list) bySlice.set(k, (list = []))
          list.push(r * columns + c)
        }
      }
    })
    return out
  }

  /** What the adapter's label maps hold, per segment number and slice (every overlap layer). */
  function adapterPixels(result: AdapterResult): PixelsBySegment {
    const out: PixelsBySegment = new Map()
    for (const layer of result.labelMapImages) {
      expect(layer).toHaveLength(imageIds.length)
      layer.forEach((image, k) => {
        expect(image.referencedImageId).toBe(imageIds[k])
        const data = image.getPixelData()
        for (let p = 0; p < data.length; p++) {
          const v = data[p]
          if (v === 0) continue
          let bySlice = out.get(v)
          if (!bySlice) out.set(v, (bySlice = new Map()))
          let list = bySlice.get(k)
          if (!list) bySlice.set(k, (list = []))
          list.push(p)
        }
      })
    }
    for (const bySlice of out.values()) for (const list of bySlice.values()) list.sort((a, b) => a - b)
    return out
  }

  async function readWithAdapter(path: string): Promise<AdapterResult> {
    const result = (await adaptersSEG.Cornerstone3D.Segmentation.createFromDICOMSegBuffer(imageIds, asArrayBuffer(readFileSync(path)), {
      metadataProvider: metaData,
    })) as AdapterResult
    return result
  }

  /** Compact per-segment / per-slice counts, for readable failure messages. */
  const counts = (px: PixelsBySegment): Record<number, Record<number, number>> =>
    Object.fromEntries([...px].sort((a, b) => a[0] - b[0]).map(([v, bySlice]) => [v, Object.fromEntries([...bySlice].sort((a, b) => a[0] - b[0]).map(([k, l]) => [k, l.length]))]))

  function expectSamePixels(actual: PixelsBySegment, expected: PixelsBySegment): void {
    expect(counts(actual)).toEqual(counts(expected))
    for (const [v, bySlice] of expected) {
      for (const [k, list] of bySlice) {
        const got = actual.get(v)?.get(k) ?? []
        expect(Buffer.from(Int32Array.from(got).buffer).equals(Buffer.from(Int32Array.from(list).buffer)), `segment ${v}, slice ${k}`).toBe(true)
      }
    }
  }

  it('control: the original QIN SEG read by the adapter matches our reader, slice by slice', async () => {
    const result = await readWithAdapter(QIN_SEG)
    const labels = result.segMetadata.data.filter((s): s is NaturalizedDataset => !!s).map((s) => textValue(s.SegmentLabel))
    expect(labels).toEqual(original.segments.map((s) => s.label))
    expect(result.segMetadata.seriesInstanceUid).toBe(pet.summary.seriesInstanceUid)
    const expected = ourPixels(original.labels)
    expect(expected.size).toBe(11)
    // Every voxel of every segment is accounted for on some source image.
    for (const seg of original.segments) {
      expect([...(expected.get(seg.number)?.values() ?? [])].reduce((n, l) => n + l.length, 0)).toBe(seg.voxelCount)
    }
    expect(result.overlappingSegments).toBe(false)
    expectSamePixels(adapterPixels(result), expected)
  })

  it('our SEG of the QIN lesions: same segments, labels and per-slice pixels through the adapter', async () => {
    const path = join(tmp.dir, 'qin-lesionlab.dcm')
    const segments: SegSegmentInput[] = original.segments.map((s) => ({
      number: s.number,
      label: s.label,
      algorithmType: 'SEMIAUTOMATIC',
      algorithmName: s.algorithmName,
      colorRgb: s.colorRgb,
    }))
    const written: WriteSegResult = await writeDicomSegFile(path, { labels: original.labels, source: pet, segments, software: SOFTWARE })
    expect(written.warnings).toEqual([])

    const result = await readWithAdapter(path)
    const bySegmentNumber = result.segMetadata.data
    const listed = bySegmentNumber.map((s, n) => ({ n, s })).filter((e): e is { n: number; s: NaturalizedDataset } => !!e.s)
    expect(listed).toHaveLength(original.segments.length)
    for (const seg of original.segments) {
      const n = written.segmentNumbers.get(seg.number)!
      expect(textValue(bySegmentNumber[n]?.SegmentLabel)).toBe(seg.label)
      expect(textValue(bySegmentNumber[n]?.SegmentAlgorithmType)).toBe('SEMIAUTOMATIC')
    }
    expect(result.overlappingSegments).toBe(false)

    // Our label value v is SegmentNumber written.segmentNumbers.get(v) in the file.
    const expected: PixelsBySegment = new Map([...ourPixels(original.labels)].map(([v, bySlice]) => [written.segmentNumbers.get(v)!, bySlice]))
    const actual = adapterPixels(result)
    expectSamePixels(actual, expected)

    // segmentsOnFrame: exactly the segments present on each slice.
    imageIds.forEach((_, k) => {
      const present = [...expected].filter(([, bySlice]) => bySlice.has(k)).map(([n]) => n).sort((a, b) => a - b)
      expect([...new Set(result.segmentsOnFrame[k] ?? [])].sort((a, b) => a - b), `slice ${k}`).toEqual(present)
    })
    ourSegPath = path
    ourSegmentNumbers = written.segmentNumbers
  })

  it('negative control: the comparison catches a frame that references the wrong source image', async () => {
    expect(ourSegPath).toBeDefined()
    // Point one frame of our SEG at the next slice's instance: the adapter places frames by that reference.
    const parsed = dcmjs.data.DicomMessage.readFile(asArrayBuffer(readFileSync(ourSegPath)))
    const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict)
    const perFrame = dataset.PerFrameFunctionalGroupsSequence as NaturalizedDataset[]
    const sourceOf = (f: number): NaturalizedDataset =>
      ((perFrame[f].DerivationImageSequence as NaturalizedDataset[])[0].SourceImageSequence as NaturalizedDataset[])[0]
    const uid = textValue(sourceOf(0).ReferencedSOPInstanceUID)
    const k = pet.slices.findIndex((s) => s.sopInstanceUid === uid)
    expect(k).toBeGreaterThanOrEqual(0)
    sourceOf(0).ReferencedSOPInstanceUID = pet.slices[k + 1].sopInstanceUid
    parsed.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset)
    const tampered = join(tmp.dir, 'qin-lesionlab-tampered.dcm')
    writeFileSync(tampered, Buffer.from(parsed.write()))

    const actual = adapterPixels(await readWithAdapter(tampered))
    const expected: PixelsBySegment = new Map([...ourPixels(original.labels)].map(([v, bySlice]) => [ourSegmentNumbers.get(v)!, bySlice]))
    expect(counts(actual)).not.toEqual(counts(expected))
  })
})
