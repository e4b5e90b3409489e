import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import dcmjs from 'dcmjs'
import { readImageNode } from '@itk-wasm/image-io'
import { sameGrid, type Mat3, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { readDicomImageSeries, scanDicom, type DicomImageSeries, type NaturalizedDataset } from '../../src/main/io/dicom'
import { readDicomSegFile, LABELMAP_SEG_SOP_CLASS_UID } from '../../src/main/io/dicom/seg/readSeg'
import { encodeSegDataset } from '../../src/main/io/dicom/seg/writeSeg'
import { bytesOf, dataPath, makeTempDir } from './helpers/data'
import { dice } from './helpers/fixtures'

const QIN = dataPath('mirp-qin-hn-0139-pet-seg')
const QIN_SEG = join(QIN, 'mask', 'mask.dcm')
const DCMQI = dataPath('dcmqi-ct-seg-sr')

const tmp = makeTempDir('lesionlab-seg-')
afterAll(() => tmp.cleanup())

/** A DICOM file as dcmjs naturalizes it (the independent view the tests check our reader against). */
function readNaturalized(path: string): NaturalizedDataset {
  const bytes = readFileSync(path)
  const parsed = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict)
  dataset._meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.meta)
  // Private tags (QIN's CTP block) have no keyword; dropped so re-encoding copies stays quiet.
  for (const key of Object.keys(dataset)) if (/^[0-9A-F]{8}$/i.test(key)) delete dataset[key]
  return dataset
}

const items = (v: unknown): NaturalizedDataset[] => (Array.isArray(v) ? v : v ? [v] : []) as NaturalizedDataset[]
const pixelBytes = (ds: NaturalizedDataset): Uint8Array => new Uint8Array((ds.PixelData as ArrayBuffer[])[0])

async function readImageSeries(folder: string, modality: string): Promise<DicomImageSeries> {
  const scan = await scanDicom([folder])
  const series = scan.studies.flatMap((s) => s.series).find((s) => s.modality === modality)
  if (!series) throw new Error(`no ${modality} series in ${folder}`)
  return readDicomImageSeries(series)
}

function countLabel(labels: Uint8Array, value: number): number {
  let n = 0
  for (let i = 0; i < labels.length; i++) if (labels[i] === value) n++
  return n
}

function slicesHolding(labels: Uint8Array, dims: Vec3, value?: number): Set<number> {
  const perSlice = dims[0] * dims[1]
  const out = new Set<number>()
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0 && (value === undefined || labels[i] === value)) out.add(Math.floor(i / perSlice))
  return out
}


/** Slice index of a position on a grid whose slices run along axis 2 (nearest slice). */
function sliceOf(g: VolumeGeometry, ipp: number[]): number {
  const n = [g.directionLps[6], g.directionLps[7], g.directionLps[8]]
  const d = (ipp[0] - g.originLps[0]) * n[0] + (ipp[1] - g.originLps[1]) * n[1] + (ipp[2] - g.originLps[2]) * n[2]
  return Math.round(d / g.spacingMm[2])
}

describe('DICOM SEG with 11 lesions on the QIN-HEADNECK PET (168 x 168 x 545)', () => {
  let pet: DicomImageSeries
  let seg: NaturalizedDataset
  let result: Awaited<ReturnType<typeof readDicomSegFile>>
  beforeAll(async () => {
    pet = await readImageSeries(join(QIN, 'image'), 'PT')
    seg = readNaturalized(QIN_SEG)
    result = await readDicomSegFile(QIN_SEG, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })
  })

  it('reads 11 segments with their labels and metadata onto the PET grid', () => {
    expect(pet.geometry.dims).toEqual([168, 168, 545])
    expect(result.labels.length).toBe(168 * 168 * 545)
    expect(result.segments.map((s) => s.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    expect(result.segments[0].label).toBe('Neoplasm, Primary')
    expect(result.segments.slice(1).every((s) => s.label === 'Neoplasm, Secondary')).toBe(true)
    expect(result.segments.every((s) => s.algorithmType === 'SEMIAUTOMATIC' && s.algorithmName === 'Iowa QIN PET Tumor Segmentation 1.0')).toBe(true)
    expect(result.segments[0].category).toBe('Morphologically Altered Structure')
    expect(result.segments[0].type).toBe('Neoplasm, Primary')
    expect(result.referencedSeriesUid).toBe(pet.summary.seriesInstanceUid)
    expect(result.warnings).toEqual([])
  })

  it('each voxel count equals the set pixels of that segment\'s frames, counted straight from the bit-packed pixel data', () => {
    const rows = seg.Rows as number
    const columns = seg.Columns as number
    const bits = pixelBytes(seg)
    const perFrame = items(seg.PerFrameFunctionalGroupsSequence)
    const expected = new Map<number, number>()
    perFrame.forEach((group, f) => {
      const segment = items(group.SegmentIdentificationSequence)[0].ReferencedSegmentNumber as number
      let n = 0
      for (let bit = f * rows * columns; bit < (f + 1) * rows * columns; bit++) n += (bits[Math.floor(bit / 8)] >> bit % 8) & 1
      expected.set(segment, (expected.get(segment) ?? 0) + n)
    })
    for (const s of result.segments) {
      expect(s.voxelCount, `segment ${s.number}`).toBeGreaterThan(0)
      expect(s.voxelCount, `segment ${s.number}`).toBe(expected.get(s.number))
      expect(countLabel(result.labels, s.number)).toBe(s.voxelCount)
    }
    // 1697 voxels in the primary tumour, 9282 in all.
    expect(result.segments[0].voxelCount).toBe(1697)
    expect(result.segments.reduce((n, s) => n + s.voxelCount, 0)).toBe(9282)
  })

  it('lands on exactly the PET slices listed in seg_referenced_slices.txt, each segment on its own frames\' slices', () => {
    const listed = readFileSync(join(QIN, 'seg_referenced_slices.txt'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)
    expect(listed.length).toBe(66)
    const sliceOfUid = new Map(pet.slices.map((s, k) => [s.sopInstanceUid, k]))
    const listedSlices = new Set(listed.map((file) => sliceOfUid.get(readNaturalized(join(QIN, 'image', file)).SOPInstanceUID as string)))
    expect(listedSlices.has(undefined)).toBe(false)
    const occupied = slicesHolding(result.labels, pet.geometry.dims)
    expect([...occupied].sort((a, b) => a - b)).toEqual([...listedSlices].sort((a, b) => (a as number) - (b as number)))

    // Per segment: the slices its frames' positions name (placed independently of our reader).
    const framesOf = new Map<number, Set<number>>()
    for (const group of items(seg.PerFrameFunctionalGroupsSequence)) {
      const segment = items(group.SegmentIdentificationSequence)[0].ReferencedSegmentNumber as number
      const ipp = items(group.PlanePositionSequence)[0].ImagePositionPatient as number[]
      framesOf.set(segment, (framesOf.get(segment) ?? new Set()).add(sliceOf(pet.geometry, ipp)))
    }
    for (const s of result.segments) {
      const mine = slicesHolding(result.labels, pet.geometry.dims, s.number)
      expect([...mine].sort((a, b) => a - b), `segment ${s.number}`).toEqual([...(framesOf.get(s.number) ?? [])].sort((a, b) => a - b))
      for (const k of mine) expect(listedSlices.has(k)).toBe(true)
    }
  })

  it('places frames by position, not by reference: without any source references the result is identical', async () => {
    const stripped = readNaturalized(QIN_SEG)
    for (const group of items(stripped.PerFrameFunctionalGroupsSequence)) delete group.DerivationImageSequence
    delete stripped.ReferencedSeriesSequence
    const path = join(tmp.dir, 'no-references.dcm')
    writeFileSync(path, encodeSegDataset(stripped))
    const again = await readDicomSegFile(path, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })
    expect(bytesOf(again.labels).equals(bytesOf(result.labels))).toBe(true)
    expect(again.referencedSeriesUid).toBeUndefined()
  })

  it('warns about frames off the slice grid or in another orientation, and places the rest', async () => {
    const moved = readNaturalized(QIN_SEG)
    const groups = items(moved.PerFrameFunctionalGroupsSequence)
    const ipp0 = items(groups[0].PlanePositionSequence)[0]
    ipp0.ImagePositionPatient = (ipp0.ImagePositionPatient as number[]).map((v, a) => (a === 2 ? v + 0.5 * 2.025 : v))
    // A tilted frame: per-frame orientation overrides the shared one.
    groups[1].PlaneOrientationSequence = [{ ImageOrientationPatient: [1, 0, 0, 0, 0.8, 0.6] }]
    const path = join(tmp.dir, 'moved.dcm')
    writeFileSync(path, encodeSegDataset(moved))
    const again = await readDicomSegFile(path, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })
    expect(again.warnings.some((w) => /1 frame\(s\) holding 18 segmented pixels .* between target slices/.test(w))).toBe(true)
    expect(again.warnings.some((w) => /1 frame\(s\) holding 40 segmented pixels .* not parallel/.test(w))).toBe(true)
    expect(again.segments[0].voxelCount).toBe(1697 - 18 - 40)
    expect(again.segments[1].voxelCount).toBe(result.segments[1].voxelCount)
  })

  it('reads a FRACTIONAL version (threshold at half of MaximumFractionalValue) to the same labels', async () => {
    const fractional = readNaturalized(QIN_SEG)
    const rows = fractional.Rows as number
    const columns = fractional.Columns as number
    const frames = fractional.NumberOfFrames as number
    const bits = pixelBytes(fractional)
    const bytes = new Uint8Array(rows * columns * frames)
    // 128 of 255 is at least half: in. 127: out.
    for (let p = 0; p < bytes.length; p++) {
      const on = (bits[Math.floor(p / 8)] >> p % 8) & 1
      bytes[p] = on ? (p % 2 ? 128 : 255) : p % 3 === 0 ? 127 : 0
    }
    Object.assign(fractional, {
      SegmentationType: 'FRACTIONAL',
      SegmentationFractionalType: 'PROBABILITY',
      MaximumFractionalValue: 255,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
    })
    fractional.PixelData = [bytes.buffer]
    const path = join(tmp.dir, 'fractional.dcm')
    writeFileSync(path, encodeSegDataset(fractional))
    const again = await readDicomSegFile(path, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })
    expect(bytesOf(again.labels).equals(bytesOf(result.labels))).toBe(true)
    expect(again.warnings).toEqual([])
  })

  it('reads a LABELMAP SEG (one frame per slice, pixel = segment number) to the same labels', async () => {
    const labelmap = readNaturalized(QIN_SEG)
    const [nx, ny] = pet.geometry.dims
    const slices = [...slicesHolding(result.labels, pet.geometry.dims)].sort((a, b) => a - b)
    const bytes = new Uint8Array(nx * ny * slices.length)
    slices.forEach((k, f) => bytes.set(result.labels.subarray(k * nx * ny, (k + 1) * nx * ny), f * nx * ny))
    const shared = items(labelmap.SharedFunctionalGroupsSequence)[0]
    Object.assign(labelmap, {
      SOPClassUID: LABELMAP_SEG_SOP_CLASS_UID,
      SegmentationType: 'LABELMAP',
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      NumberOfFrames: slices.length,
      PixelData: [bytes.buffer],
      PerFrameFunctionalGroupsSequence: slices.map((k) => ({
        PlanePositionSequence: [{ ImagePositionPatient: pet.slices[k].imagePositionPatient }],
      })),
    })
    expect(shared.PlaneOrientationSequence).toBeDefined()
    const path = join(tmp.dir, 'labelmap.dcm')
    writeFileSync(path, encodeSegDataset(labelmap))
    const again = await readDicomSegFile(path, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid })
    expect(bytesOf(again.labels).equals(bytesOf(result.labels))).toBe(true)
    expect(again.segments.map((s) => s.voxelCount)).toEqual(result.segments.map((s) => s.voxelCount))
  })

  it('refuses a SEG of another patient (frame of reference) with an InputError naming both', async () => {
    const other = join(DCMQI, 'pet-sr-example', 'seg.dcm')
    const error = await readDicomSegFile(other, { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message).toContain(other)
    expect(error.message).toContain('1.3.6.1.4.1.14519.5.2.1.2744.7002.251810428873134458890815509055')
    expect(error.message).toContain(pet.summary.frameOfReferenceUid)
  })
})

describe('dcmqi liver SEG on its 3-slice CT', () => {
  it('matches liver_seg.nrrd voxel for voxel (Dice >= 0.99)', async () => {
    const ct = await readImageSeries(join(DCMQI, 'ct-3slice'), 'CT')
    const result = await readDicomSegFile(join(DCMQI, 'liver.dcm'), { geometry: ct.geometry, frameOfReferenceUid: ct.summary.frameOfReferenceUid })
    expect(result.segments).toHaveLength(1)
    expect(result.segments[0]).toMatchObject({ number: 1, label: 'Liver', algorithmType: 'SEMIAUTOMATIC', algorithmName: 'SlicerEditor', category: 'Tissue', type: 'Liver' })

    const nrrd = await readImageNode(join(DCMQI, 'liver_seg.nrrd'))
    const d = Array.from(nrrd.direction as ArrayLike<number>)
    const directionLps = [0, 1, 2].flatMap((axis) => [0, 1, 2].map((r) => d[r * 3 + axis])) as Mat3
    const nrrdGeometry: VolumeGeometry = { dims: [...nrrd.size] as Vec3, spacingMm: [...nrrd.spacing] as Vec3, originLps: [...nrrd.origin] as Vec3, directionLps }
    // The NRRD header rounds the CT's positions to 0.1 mm (and its slice spacing to exactly 1 mm).
    expect(sameGrid(nrrdGeometry, ct.geometry, 0.01)).toBe(true)
    const reference = nrrd.data as unknown as ArrayLike<number>
    const score = dice(result.labels, reference)
    console.info(`liver SEG vs NRRD: ${result.segments[0].voxelCount} voxels, Dice ${score.toFixed(4)}`)
    expect(score).toBeGreaterThanOrEqual(0.99)
    expect(result.segments[0].voxelCount).toBe(107098)
  })

  it('refuses the PET-grid SEG of pet-sr-example on this CT: frame of reference named, or no frame landing', async () => {
    const ct = await readImageSeries(join(DCMQI, 'ct-3slice'), 'CT')
    const seg = join(DCMQI, 'pet-sr-example', 'seg.dcm')
    const byReference = await readDicomSegFile(seg, { geometry: ct.geometry, frameOfReferenceUid: ct.summary.frameOfReferenceUid }).catch((e) => e)
    expect(byReference).toBeInstanceOf(InputError)
    expect(byReference.message).toMatch(/frame of reference 1\.3\.6\.1\.4\.1\.14519\.5\.2\.1\.2744\.7002\.251810428873134458890815509055 but the image is in 1\.2\.392\.200103/)
    // Without a frame of reference to compare, the grid mismatch itself is the error.
    const byGrid = await readDicomSegFile(seg, { geometry: ct.geometry }).catch((e) => e)
    expect(byGrid).toBeInstanceOf(InputError)
    expect(byGrid.message).toContain(seg)
    expect(byGrid.message).toMatch(/none of its segmented frames lands on the image grid: its pixel spacing/)
  })
})

describe('bad SEG input', () => {
  const geometry: VolumeGeometry = { dims: [168, 168, 545], spacingMm: [3.3940266832237, 3.3940266832237, 2.025], originLps: [-285.36751038035, -494.58683139285, -1873.382], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }

  it.each([0.999, 0.9, 0.5, 0.15, 0.01])('a copy cut at %s of its length is an InputError naming the file', async (fraction) => {
    const bytes = readFileSync(QIN_SEG)
    const path = join(tmp.dir, `truncated-${fraction}.dcm`)
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * fraction)))
    const error = await readDicomSegFile(path, { geometry }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message.startsWith(`${path}: `)).toBe(true)
    expect(error.message).toMatch(/truncated/)
  })

  it('an image (not a SEG) is an InputError', async () => {
    const path = join(tmp.dir, 'pet-slice.dcm')
    copyFileSync(join(QIN, 'image', '1-103.dcm'), path)
    const error = await readDicomSegFile(path, { geometry }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message).toMatch(/is not a DICOM Segmentation \(SOP class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.128, modality PT\)/)
  })
})
