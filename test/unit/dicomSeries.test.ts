import { copyFile, mkdir, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { deflateRawSync } from 'node:zlib'
import { basename, dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import dcmjs from 'dcmjs'
import { readImageNode } from '@itk-wasm/image-io'
import { indexToWorld, voxelCount, type VolumeGeometry } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { readNiftiFile, type NiftiImage } from '../../src/main/io/nifti/readNifti'
import { pickPetAndCt, readDicomImageSeries, scanDicom, type DicomSeriesSummary } from '../../src/main/io/dicom'
import { readDicomHeader } from '../../src/main/io/dicom/dicomFile'
import { planSliceStack, type StackFrame } from '../../src/main/io/dicom/sliceStack'
import { dataPath, makeTempDir, STS_001, STS_001_CT, STS_001_PET } from './helpers/data'

const STS_PET_DICOM = join(STS_001, 'PET', 'dicom', 'image')
const STS_CT_DICOM = join(STS_001, 'CT', 'dicom', 'image')
const RAW_PET = dataPath('mirp-sts001-fdgpet-raw', 'image')
const QIN = dataPath('mirp-qin-hn-0139-pet-seg')
const CT_3SLICE = dataPath('dcmqi-ct-seg-sr', 'ct-3slice')

const tmp = makeTempDir('lesionlab-dicom-')
// Rewriting real files drops their private tags; dcmjs warns about each one.
dcmjs.log.setLevel('error')
afterAll(() => tmp.cleanup())

/** The single series of a modality in a scan of `paths` (fails the test when not exactly one). */
async function onlySeries(paths: string[], modality = 'PT'): Promise<DicomSeriesSummary> {
  const { studies } = await scanDicom(paths)
  const found = studies.flatMap((s) => s.series).filter((s) => s.modality === modality)
  expect(found.length).toBe(1)
  return found[0]
}

function geometryDifference(a: VolumeGeometry, b: VolumeGeometry): { mm: number; direction: number } {
  let mm = 0
  let direction = 0
  for (let i = 0; i < 3; i++) mm = Math.max(mm, Math.abs(a.spacingMm[i] - b.spacingMm[i]), Math.abs(a.originLps[i] - b.originLps[i]))
  for (let i = 0; i < 9; i++) direction = Math.max(direction, Math.abs(a.directionLps[i] - b.directionLps[i]))
  return { mm, direction }
}

/** Voxels differing by more than 1e-3 relative (plus a tiny absolute floor for values near zero). */
function countDifferent(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  if (a.length !== b.length) return Math.max(a.length, b.length)
  let n = 0
  for (let i = from; i < to; i++) if (Math.abs(a[i] - b[i]) > 1e-3 * Math.max(Math.abs(a[i]), Math.abs(b[i])) + 1e-6) n++
  return n
}

/** Raw dcmjs view of one file: naturalized header and its pixel data as stored. */
function readRaw(bytes: Buffer): { header: Record<string, unknown>; pixels: Int16Array } {
  const parsed = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)
  const header = dcmjs.data.DicomMetaDictionary.naturalizeDataset(parsed.dict)
  return { header, pixels: new Int16Array((header.PixelData as ArrayBuffer[])[0]) }
}

/** A file's naturalized header (PixelData removed) and its raw pixel bytes. */
async function naturalOf(path: string): Promise<{ header: Record<string, unknown>; pixels: ArrayBuffer }> {
  const { header } = readRaw(await readFile(path))
  const pixels = (header.PixelData as ArrayBuffer[])[0]
  delete header.PixelData
  return { header, pixels }
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1'
const EXPLICIT_BE = '1.2.840.10008.1.2.2'
const DEFLATED = '1.2.840.10008.1.2.1.99'

/**
 * A Part 10 file written by dcmjs in the given transfer syntax. dcmjs writes big-endian tags but copies
 * PixelData bytes as given, so 16-bit pixels are swapped here; for deflate it writes a plain explicit
 * little-endian dataset, which is deflated here.
 */
function encodeDicom(header: Record<string, unknown>, pixels: ArrayBuffer, transferSyntax: string): Buffer {
  const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: header.SOPClassUID,
    MediaStorageSOPInstanceUID: header.SOPInstanceUID,
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: '1.2.826.0.1.3680043.10.1',
  })
  const dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(header)
  let bytes = new Uint8Array(pixels.slice(0))
  if (transferSyntax === EXPLICIT_BE) {
    for (let i = 0; i + 1 < bytes.length; i += 2) [bytes[i], bytes[i + 1]] = [bytes[i + 1], bytes[i]]
  }
  dict['7FE00010'] = { vr: 'OW', Value: [bytes.buffer] }
  const file = new dcmjs.data.DicomDict(meta)
  file.dict = dict
  const out = Buffer.from(file.write())
  if (transferSyntax !== DEFLATED) return out
  const datasetStart = 144 + out.readUInt32LE(140) // after preamble, "DICM" and the meta group
  bytes = deflateRawSync(out.subarray(datasetStart))
  return Buffer.concat([out.subarray(0, datasetStart), bytes])
}

async function copyFolder(from: string, to: string): Promise<string[]> {
  await mkdir(to, { recursive: true })
  const names = (await readdir(from)).sort()
  await Promise.all(names.map((n) => copyFile(join(from, n), join(to, n))))
  return names.map((n) => join(to, n))
}

describe('scanDicom', () => {
  it('indexes the STS_001 PET/CT study: PT, CT, two RTSTRUCTs; the NIfTI files are skipped', async () => {
    const progress: number[] = []
    const { studies, skipped } = await scanDicom([STS_001], { onProgress: (done) => progress.push(done) })
    expect(studies.length).toBe(1)
    const study = studies[0]
    expect(study.patientId).toBe('STS_001')
    const byModality = study.series.map((s) => `${s.modality}:${s.instanceCount}:${s.frameCount}`)
    expect(byModality.sort()).toEqual(['CT:59:59', 'PT:59:59', 'RTSTRUCT:1:0', 'RTSTRUCT:1:0'])
    const numbers = study.series.map((s) => s.seriesNumber ?? Infinity)
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    const pt = study.series.find((s) => s.modality === 'PT')!
    expect(pt.frameOfReferenceUid).toBe('1.3.6.1.4.1.14519.5.2.1.5168.1900.316167340799089327122304118088')
    expect(pt.seriesDescription).toBe('IBSI_1_STS_001_PET_image')
    expect(pt.seriesDate).toBe('20000907')
    expect(pt.patientName).toBe('STS_001')
    expect(skipped.length).toBe(4)
    expect(skipped.every((s) => s.path.endsWith('.nii.gz') && /not a DICOM file/.test(s.reason))).toBe(true)
    expect(progress.at(-1)).toBe(59 + 59 + 2 + 4)

    const { pet, ct } = pickPetAndCt(study)
    expect(pet?.modality).toBe('PT')
    expect(ct?.modality).toBe('CT')
  })

  it('lists the QIN-HN SEG as modality SEG with its 171 frames beside the 545-slice PET', async () => {
    const { studies } = await scanDicom([join(QIN, 'image'), join(QIN, 'mask')])
    expect(studies.length).toBe(1)
    const summary = studies[0].series.map((s) => `${s.modality}:${s.instanceCount}:${s.frameCount}`)
    expect(summary.sort()).toEqual(['PT:545:545', 'SEG:1:171'])
    expect(pickPetAndCt(studies[0]).ct).toBeUndefined()
  })

  it('reports a folder without DICOM as no studies plus the skipped files, never throwing', async () => {
    const dir = join(tmp.dir, 'no-dicom')
    await mkdir(join(dir, 'sub'), { recursive: true })
    await writeFile(join(dir, 'notes.txt'), 'not an image')
    await writeFile(join(dir, 'sub', 'tiny.dcm'), 'DICM')
    const { studies, skipped } = await scanDicom([dir, join(tmp.dir, 'does-not-exist')])
    expect(studies).toEqual([])
    expect(skipped.map((s) => basename(s.path)).sort()).toEqual(['does-not-exist', 'notes.txt', 'tiny.dcm'])
    expect(skipped.every((s) => s.reason.length > 0)).toBe(true)
  })

  it('prefers the attenuation-corrected PET and the CT in its frame of reference', () => {
    const s = (over: Partial<DicomSeriesSummary>): DicomSeriesSummary => ({
      studyInstanceUid: '1', seriesInstanceUid: Math.random().toString(), modality: 'PT', seriesDescription: '',
      instanceCount: 1, frameCount: 100, files: [], ...over,
    })
    const nac = s({ seriesDescription: 'PET WB NAC', frameCount: 400, frameOfReferenceUid: 'A' })
    const ac = s({ seriesDescription: 'PET WB', frameCount: 300, frameOfReferenceUid: 'A' })
    const uncorrected = s({ seriesDescription: 'PET uncorrected', frameCount: 500 })
    const ctOther = s({ modality: 'CT', frameCount: 600, frameOfReferenceUid: 'B' })
    const ctSame = s({ modality: 'CT', frameCount: 300, frameOfReferenceUid: 'A' })
    const scout = s({ modality: 'CT', frameCount: 1, frameOfReferenceUid: 'A' })
    const picked = pickPetAndCt({ studyInstanceUid: '1', series: [nac, uncorrected, ac, ctOther, scout, ctSame] })
    expect(picked.pet).toBe(ac)
    expect(picked.ct).toBe(ctSame)
  })
})

describe('readDicomImageSeries on real data', () => {
  const cases: [string, string, string, string][] = [
    ['STS_001 PET (SUV, per-slice slope)', STS_PET_DICOM, STS_001_PET, 'PT'],
    ['STS_001 CT', STS_CT_DICOM, STS_001_CT, 'CT'],
  ]
  it.each(cases)('%s matches the NIfTI made from it', async (_name, folder, niftiPath, modality) => {
    const series = await onlySeries([folder], modality)
    const [dicom, nifti] = await Promise.all([readDicomImageSeries(series), readNiftiFile(niftiPath)])
    expect(dicom.geometry.dims).toEqual(nifti.geometry.dims)
    const diff = geometryDifference(dicom.geometry, nifti.geometry)
    expect(diff.mm).toBeLessThan(1e-3)
    expect(diff.direction).toBeLessThan(1e-5)
    expect(dicom.voxels.length).toBe(voxelCount(dicom.geometry))
    expect(countDifferent(dicom.voxels, nifti.voxels)).toBe(0)
    expect(dicom.warnings).toEqual([])
    expect(dicom.voxels.constructor.name).toBe(modality === 'PT' ? 'Float32Array' : 'Int16Array')
    expect(dicom.voxels.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(dicom.slices.length).toBe(dicom.geometry.dims[2])
    expect(dicom.instanceHeaders.length).toBe(59)
    expect(dicom.firstHeader.PixelData).toBeUndefined()
    // Headers follow slice order: positions ascend along the normal (+z here).
    const z = dicom.instanceHeaders.map((h) => (h.ImagePositionPatient as number[])[2])
    expect(z.every((v, i) => i === 0 || v > z[i - 1])).toBe(true)
    expect(dicom.slices[0].imagePositionPatient[2]).toBeCloseTo(dicom.geometry.originLps[2], 6)
  })

  it('reads the full-length raw PET: slightly uneven gaps reported, slices kept as acquired on the even grid, per-slice slopes applied', async () => {
    const series = await onlySeries([RAW_PET])
    const pet = await readDicomImageSeries(series)
    expect(pet.geometry.dims).toEqual([128, 128, 267])
    expect(pet.voxels).toBeInstanceOf(Float32Array)
    expect(pet.warnings.length).toBe(1)
    expect(pet.warnings[0]).toMatch(/uneven \(gaps 3\.19\d-3\.29\d mm\).*within 0\.0\d\d mm of an even grid.*kept as acquired/)

    const headers = pet.instanceHeaders
    expect(headers.length).toBe(267)
    const slopes = new Set(headers.map((h) => h.RescaleSlope))
    expect(slopes.size).toBeGreaterThan(100)
    const z = headers.map((h) => (h.ImagePositionPatient as number[])[2])
    const meanSpacing = (z[266] - z[0]) / 266
    expect(pet.geometry.spacingMm[2]).toBeCloseTo(meanSpacing, 9)
    expect(pet.geometry.originLps[2]).toBeCloseTo(z[0], 9)

    // Output slice 0 is source slice 0 unblended: raw stored value x that file's slope + intercept.
    const first = readRaw(await readFile(pet.slices[0].filePath))
    const slice = 128 * 128
    let worst = 0
    for (let i = 0; i < slice; i++) {
      const expected = first.pixels[i] * (first.header.RescaleSlope as number) + (first.header.RescaleIntercept as number)
      worst = Math.max(worst, Math.abs(pet.voxels[i] - expected) / Math.max(1, Math.abs(expected)))
    }
    expect(worst).toBeLessThan(1e-6)

    // Independently of dcmjs: ITK/GDCM reads the first and last source slices (both kept unblended)
    // with their rescale applied, and places them where our grid does.
    for (const k of [0, 266]) {
      const itk = await readImageNode(pet.slices[k].filePath)
      const itkData = itk.data as unknown as ArrayLike<number>
      let itkWorst = 0
      for (let i = 0; i < slice; i++) itkWorst = Math.max(itkWorst, Math.abs(pet.voxels[k * slice + i] - itkData[i]) / Math.max(1, Math.abs(itkData[i])))
      expect(itkWorst).toBeLessThan(1e-6)
      const corner = indexToWorld(pet.geometry, [0, 0, k])
      expect(Math.max(...corner.map((v, a) => Math.abs(v - itk.origin[a])))).toBeLessThan(1e-4)
    }

    // Every output slice is its source slice unblended (the stack was snapped, not interpolated).
    for (const m of [44, 133, 200]) {
      expect(pet.slices[m].sopInstanceUid).toBe(headers[m].SOPInstanceUID)
      const raw = readRaw(await readFile(await findFileOf(series.files, headers[m].SOPInstanceUID as string)))
      let sliceWorst = 0
      for (let i = 0; i < slice; i++) {
        const expected = raw.pixels[i] * (raw.header.RescaleSlope as number) + (raw.header.RescaleIntercept as number)
        sliceWorst = Math.max(sliceWorst, Math.abs(pet.voxels[m * slice + i] - expected) / Math.max(1, Math.abs(expected)))
      }
      expect(sliceWorst).toBeLessThan(1e-6)
    }
  })

  it('reads the whole-body QIN-HN PET (168 x 168 x 545) and prints how long scan and read take', async () => {
    const t0 = performance.now()
    const { studies } = await scanDicom([join(QIN, 'image')])
    const t1 = performance.now()
    const pet = await readDicomImageSeries(studies[0].series[0])
    const t2 = performance.now()
    console.log(`QIN-HN 545 files: scan ${(t1 - t0).toFixed(0)} ms, read ${(t2 - t1).toFixed(0)} ms`)
    expect(pet.geometry.dims).toEqual([168, 168, 545])
    expect(pet.geometry.spacingMm[0]).toBeCloseTo(3.394, 3)
    expect(pet.geometry.spacingMm[2]).toBeCloseTo(2.025, 3)
    expect(pet.warnings).toEqual([])
    expect(pet.voxels).toBeInstanceOf(Float32Array)
  })

  it('reads the 3-slice 512 x 512 CT as int16 HU', async () => {
    const ct = await readDicomImageSeries(await onlySeries([CT_3SLICE], 'CT'))
    expect(ct.geometry.dims).toEqual([512, 512, 3])
    expect(ct.voxels).toBeInstanceOf(Int16Array)
    expect(ct.geometry.spacingMm[0]).toBeCloseTo(0.810547, 6)
    let min = Infinity
    for (let i = 0; i < ct.voxels.length; i++) min = Math.min(min, ct.voxels[i])
    expect(min).toBeGreaterThanOrEqual(-3024)
  })
})

async function findFileOf(files: string[], sopInstanceUid: string): Promise<string> {
  for (const f of files) {
    const { header } = readRaw(await readFile(f))
    if (header.SOPInstanceUID === sopInstanceUid) return f
  }
  throw new Error(`no file holds ${sopInstanceUid}`)
}

describe('transfer syntaxes and enhanced multi-frame', () => {
  let ctNifti: NiftiImage
  let petNifti: NiftiImage
  beforeAll(async () => {
    ;[ctNifti, petNifti] = await Promise.all([readNiftiFile(STS_001_CT), readNiftiFile(STS_001_PET)])
  })

  it.each([
    ['explicit VR big endian', EXPLICIT_BE],
    ['explicit VR little endian', EXPLICIT_LE],
    ['deflated explicit VR little endian', DEFLATED],
  ])('reads the STS_001 CT rewritten in %s', async (name, syntax) => {
    const dir = join(tmp.dir, `ct-${syntax}`)
    await mkdir(dir, { recursive: true })
    for (const file of (await readdir(STS_CT_DICOM)).sort()) {
      const { header, pixels } = await naturalOf(join(STS_CT_DICOM, file))
      await writeFile(join(dir, file), encodeDicom(header, pixels, syntax))
    }
    const ct = await readDicomImageSeries(await onlySeries([dir], 'CT'))
    expect(ct.geometry.dims).toEqual(ctNifti.geometry.dims)
    expect(geometryDifference(ct.geometry, ctNifti.geometry).mm).toBeLessThan(1e-3)
    expect(countDifferent(ct.voxels, ctNifti.voxels)).toBe(0)
    expect(name.length).toBeGreaterThan(0)
  })

  it('reads an enhanced multi-frame PET (functional groups, frames stored out of order, per-frame slopes)', async () => {
    const files = (await readdir(STS_PET_DICOM)).sort().map((f) => join(STS_PET_DICOM, f))
    const slices = await Promise.all(files.map(naturalOf))
    // Store the frames in a scrambled order: sorting must follow the positions, not the frame numbers.
    const order = slices.map((_, i) => (i * 17) % slices.length)
    const first = slices[0].header
    const header: Record<string, unknown> = { ...first }
    for (const key of ['ImagePositionPatient', 'ImageOrientationPatient', 'PixelSpacing', 'RescaleSlope', 'RescaleIntercept', 'SliceLocation', '_vrMap']) {
      delete header[key]
    }
    header.SOPClassUID = '1.2.840.10008.5.1.4.1.1.130' // Enhanced PET Image Storage
    header.NumberOfFrames = slices.length
    header.SharedFunctionalGroupsSequence = [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: first.ImageOrientationPatient }],
        PixelMeasuresSequence: [{ PixelSpacing: first.PixelSpacing, SliceThickness: first.SliceThickness }],
      },
    ]
    header.PerFrameFunctionalGroupsSequence = order.map((i) => ({
      PlanePositionSequence: [{ ImagePositionPatient: slices[i].header.ImagePositionPatient }],
      PixelValueTransformationSequence: [{ RescaleSlope: slices[i].header.RescaleSlope, RescaleIntercept: 0, RescaleType: 'US' }],
    }))
    const frameBytes = slices[0].pixels.byteLength
    const pixels = new Uint8Array(frameBytes * slices.length)
    order.forEach((i, f) => pixels.set(new Uint8Array(slices[i].pixels), f * frameBytes))
    const dir = join(tmp.dir, 'enhanced-pet')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'pet.dcm'), encodeDicom(header, pixels.buffer, EXPLICIT_LE))

    const series = await onlySeries([dir])
    expect(series.instanceCount).toBe(1)
    expect(series.frameCount).toBe(59)
    const pet = await readDicomImageSeries(series)
    expect(pet.geometry.dims).toEqual(petNifti.geometry.dims)
    const diff = geometryDifference(pet.geometry, petNifti.geometry)
    expect(diff.mm).toBeLessThan(1e-3)
    expect(diff.direction).toBeLessThan(1e-5)
    expect(countDifferent(pet.voxels, petNifti.voxels)).toBe(0)
    expect(pet.instanceHeaders.length).toBe(1)
    expect(pet.slices.map((s) => s.frameNumber).slice(0, 3)).toEqual([order.indexOf(0) + 1, order.indexOf(1) + 1, order.indexOf(2) + 1])
  })

  it('refuses compressed pixel data, naming the transfer syntax', async () => {
    const dir = join(tmp.dir, 'jpeg2000')
    await mkdir(dir, { recursive: true })
    const { header, pixels } = await naturalOf(join(CT_3SLICE, '01.dcm'))
    await writeFile(join(dir, '01.dcm'), encodeDicom(header, pixels, '1.2.840.10008.1.2.4.90'))
    const error = await readDicomImageSeries(await onlySeries([dir], 'CT')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).filePath).toBe(join(dir, '01.dcm'))
    expect((error as Error).message).toMatch(/JPEG 2000 Lossless \(1\.2\.840\.10008\.1\.2\.4\.90\).*not supported yet/)
  })
})

describe('damaged and irregular series', () => {
  it('names the truncated file when pixel data is cut short; the scan skips a file cut inside its header', async () => {
    const files = await copyFolder(STS_PET_DICOM, join(tmp.dir, 'truncated'))
    const cutPixels = files[30]
    const cutHeader = files[31]
    await truncate(cutPixels, (await stat(cutPixels)).size - 1000)
    await truncate(cutHeader, 700)
    const { studies, skipped } = await scanDicom([join(tmp.dir, 'truncated')])
    expect(skipped.map((s) => s.path)).toEqual([cutHeader])
    expect(skipped[0].reason).toMatch(/truncated/)
    const error = await readDicomImageSeries(studies[0].series[0]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).filePath).toBe(cutPixels)
    expect((error as Error).message).toMatch(/pixel data is truncated: the file holds 2526 of its 3526 bytes/)
  })

  it('reads a series with one slice removed: the gap is reported and the slice interpolated', async () => {
    const files = await copyFolder(STS_PET_DICOM, join(tmp.dir, 'gap'))
    const removed = await naturalOf(files[30])
    await unlink(files[30])
    const series = await onlySeries([join(tmp.dir, 'gap')])
    expect(series.instanceCount).toBe(58)
    const [pet, nifti] = await Promise.all([readDicomImageSeries(series), readNiftiFile(STS_001_PET)])
    expect(pet.warnings.length).toBe(1)
    expect(pet.warnings[0]).toMatch(/slices appear to be missing: 1 gap\(s\).*6\.54 mm between .*000029\.dcm and .*000031\.dcm.*59 slices 3\.2700 mm apart/)
    expect(pet.geometry.dims).toEqual(nifti.geometry.dims)
    expect(geometryDifference(pet.geometry, nifti.geometry).mm).toBeLessThan(1e-3)
    const slice = nifti.geometry.dims[0] * nifti.geometry.dims[1]
    const k = Math.round(((removed.header.ImagePositionPatient as number[])[2] - pet.geometry.originLps[2]) / pet.geometry.spacingMm[2])
    // Every measured slice is kept as it was; the missing one is the mean of its neighbours.
    expect(countDifferent(pet.voxels, nifti.voxels, 0, k * slice) + countDifferent(pet.voxels, nifti.voxels, (k + 1) * slice)).toBe(0)
    let worst = 0
    for (let i = 0; i < slice; i++) {
      const expected = 0.5 * (nifti.voxels[(k - 1) * slice + i] + nifti.voxels[(k + 1) * slice + i])
      worst = Math.max(worst, Math.abs(pet.voxels[k * slice + i] - expected))
    }
    expect(worst).toBeLessThan(1e-5)
    expect(pet.instanceHeaders.length).toBe(58)
  })

  async function rewrittenSeries(name: string, change: (header: Record<string, unknown>, index: number) => Record<string, unknown> | undefined): Promise<string[]> {
    const dir = join(tmp.dir, name)
    await mkdir(dir, { recursive: true })
    const sources = (await readdir(CT_3SLICE)).sort()
    const out: string[] = []
    for (const [index, file] of sources.entries()) {
      const { header, pixels } = await naturalOf(join(CT_3SLICE, file))
      const changed = change(header, index) ?? header
      await writeFile(join(dir, file), encodeDicom(changed, pixels, EXPLICIT_LE))
      out.push(join(dir, file))
    }
    return out
  }

  it.each([
    ['mixed orientations', (h: Record<string, unknown>, i: number) => (i === 2 ? { ...h, ImageOrientationPatient: [1, 0, 0, 0, 0.995004, 0.0998334] } : h), /orientation .* the series mixes orientations/],
    ['a missing ImagePositionPatient', (h: Record<string, unknown>, i: number) => { if (i === 2) delete h.ImagePositionPatient; return h }, /no valid ImagePositionPatient/],
    ['a missing ImageOrientationPatient', (h: Record<string, unknown>, i: number) => { if (i === 2) delete h.ImageOrientationPatient; return h }, /no valid ImageOrientationPatient/],
    ['mixed pixel spacings', (h: Record<string, unknown>, i: number) => (i === 2 ? { ...h, PixelSpacing: [0.9, 0.9] } : h), /pixel spacing 0\.9\\0\.9 mm but/],
    ['two frames at one position', (h: Record<string, unknown>, i: number) => (i === 2 ? { ...h, ImagePositionPatient: [-235.199997, -226.800003, -127.690002] } : h), /at the same position as .*02\.dcm.*one static volume/],
    ['an absurd pixel spacing', (h: Record<string, unknown>, i: number) => (i === 2 ? { ...h, PixelSpacing: [0, 0.8] } : h), /no valid PixelSpacing/],
  ])('rejects %s with an InputError naming the file', async (name, change, message) => {
    const files = await rewrittenSeries(name.replace(/\W+/g, '-'), change)
    const error = await readDicomImageSeries(await onlySeries([dirname(files[0])], 'CT')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).filePath).toBe(files[2])
    expect((error as Error).message).toMatch(message)
  })

  it('rejects a non-image series and honours an abort', async () => {
    const { studies } = await scanDicom([join(STS_001, 'PET', 'dicom', 'mask')])
    const error = await readDicomImageSeries(studies[0].series[0]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputError)
    expect((error as Error).message).toMatch(/RTSTRUCT object, not an image series/)
    const controller = new AbortController()
    controller.abort()
    await expect(scanDicom([STS_PET_DICOM], { signal: controller.signal })).rejects.toThrow(/abort/i)
  })

  it('reads the same header from a short probe (falling back to the whole file) as from the default one', async () => {
    const path = join(RAW_PET, (await readdir(RAW_PET)).sort()[0])
    const [short, normal] = await Promise.all([readDicomHeader(path, 1024), readDicomHeader(path)])
    expect(short.ok && normal.ok).toBe(true)
    if (short.ok && normal.ok) expect(Object.keys(short.dict).sort().join()).toBe(Object.keys(normal.dict).sort().join())
  })
})

describe('planSliceStack (synthetic positions)', () => {
  const frames = (positions: [number, number, number][]): StackFrame[] => positions.map((position, i) => ({ position, filePath: `/s/${i}.dcm` }))
  const options = { pixelSpacingMm: 1, seriesLabel: 'test series' }

  it('sorts along the normal, not by file order, and keeps even spacing as is', () => {
    const plan = planSliceStack(frames([[0, 0, 6], [0, 0, 0], [0, 0, 3], [0, 0, 9]]), [1, 0, 0], [0, 1, 0], options)
    expect(plan.order).toEqual([1, 2, 0, 3])
    expect(plan.resampled).toBe(false)
    expect(plan.sliceSpacingMm).toBeCloseTo(3, 12)
    expect(plan.sliceAxis).toEqual([0, 0, 1])
  })

  it('orders a feet-first stack with a flipped normal', () => {
    // Row along +x, column along -y: the normal is -z, so ascending projection means descending z.
    const plan = planSliceStack(frames([[0, 0, 0], [0, 0, -2], [0, 0, 2]]), [1, 0, 0], [0, -1, 0], options)
    expect(plan.order).toEqual([2, 0, 1])
    expect(plan.sliceAxis[2]).toBeCloseTo(-1, 12)
    expect(plan.originLps).toEqual([0, 0, 2])
  })

  it('keeps gantry tilt as a sheared slice axis, with a warning', () => {
    const tilt = Math.tan((15 * Math.PI) / 180)
    const plan = planSliceStack(frames([0, 1, 2, 3].map((k) => [0, 2 * k * tilt, 2 * k])), [1, 0, 0], [0, 1, 0], options)
    expect(plan.warnings[0]).toMatch(/gantry tilt of 15\.00 degrees/)
    expect(plan.sliceAxis[1]).toBeCloseTo(Math.sin((15 * Math.PI) / 180), 9)
    expect(plan.sliceSpacingMm).toBeCloseTo(2 / Math.cos((15 * Math.PI) / 180), 9)
  })

  it('rejects frames that do not lie on one line', () => {
    expect(() => planSliceStack(frames([[0, 0, 0], [5, 0, 1], [0, 0, 2], [0, 0, 3]]), [1, 0, 0], [0, 1, 0], options)).toThrow(/off the line/)
  })

  it('interpolates uneven slices onto the mean spacing, first slice kept, nearest source recorded', () => {
    const plan = planSliceStack(frames([[0, 0, 0], [0, 0, 1], [0, 0, 2.2], [0, 0, 3]]), [1, 0, 0], [0, 1, 0], options)
    expect(plan.resampled).toBe(true)
    expect(plan.sliceCount).toBe(4)
    expect(plan.sliceSpacingMm).toBeCloseTo(1, 12)
    expect(Array.from(plan.lower)).toEqual([0, 1, 1, 3])
    expect(plan.weight[2]).toBeCloseTo(1 / 1.2, 12)
    expect(Array.from(plan.nearest)).toEqual([0, 1, 2, 3])
    expect(plan.warnings[0]).toMatch(/uneven.*0\.800-1\.200 mm.*20\.0% from the mean 1\.0000 mm/)
  })
})
