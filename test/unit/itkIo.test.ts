import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deflateSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { indexToWorld, voxelCount, type Mat3, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import { voxelTypeOf, type VoxelArray, type VoxelType } from '../../src/shared/volume'
import { InputError } from '../../src/main/io/InputError'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { readItkImageFile } from '../../src/main/io/itk/readItkImage'
import { writeMhaFile, writeNrrdFile } from '../../src/main/io/itk/writeItkImage'
import { closeItkWorker } from '../../src/main/io/itk/itkWorker'
import { readImageFile, writeImageFile } from '../../src/main/io/readImage'
import { bytesOf, dataPath, makeTempDir, STS_001_CT, STS_001_PET, STS_001_PET_MASK } from './helpers/data'
import { uniformRandom as mulberry32 } from '../../src/main/imaging/seededRandom'
import { rotation } from './helpers/fixtures'

const tmp = makeTempDir('lesionlab-itk-')
afterAll(async () => {
  await closeItkWorker()
  tmp.cleanup()
})

const LIVER_SEG = dataPath('dcmqi-ct-seg-sr', 'liver_seg.nrrd')

// ----------------------------------------------------------------------------------------------------
// Helpers


function geometryDifference(a: VolumeGeometry, b: VolumeGeometry): { dims: boolean; mm: number; direction: number } {
  let mm = 0
  let direction = 0
  for (let i = 0; i < 3; i++) {
    mm = Math.max(mm, Math.abs(a.spacingMm[i] - b.spacingMm[i]), Math.abs(a.originLps[i] - b.originLps[i]))
  }
  for (let i = 0; i < 9; i++) direction = Math.max(direction, Math.abs(a.directionLps[i] - b.directionLps[i]))
  return { dims: a.dims.every((n, i) => n === b.dims[i]), mm, direction }
}

function expectSameGeometry(read: VolumeGeometry, written: VolumeGeometry, tolerance = 1e-6): void {
  const diff = geometryDifference(read, written)
  expect(diff.dims, `dims ${read.dims.join('x')} vs ${written.dims.join('x')}`).toBe(true)
  expect(diff.mm, 'spacing/origin (mm)').toBeLessThan(tolerance)
  expect(diff.direction, 'direction').toBeLessThan(tolerance)
}

function expectSameVoxels(read: VoxelArray, written: VoxelArray): void {
  expect(voxelTypeOf(read)).toBe(voxelTypeOf(written))
  expect(read.length).toBe(written.length)
  expect(bytesOf(read).equals(bytesOf(written)), 'voxels bit-exact').toBe(true)
}


const LEFT_HANDED_OBLIQUE: Mat3 = (() => {
  const d = rotation([-2, 1, 0.5], (117 * Math.PI) / 180)
  return [d[0], d[1], d[2], d[3], d[4], d[5], -d[6], -d[7], -d[8]]
})()

function determinant(d: Mat3): number {
  return d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6])
}

function randomVoxels(type: VoxelType, n: number, seed: number): VoxelArray {
  const rnd = mulberry32(seed)
  const ranges: Record<Exclude<VoxelType, 'float32'>, [number, number]> = {
    uint8: [0, 256], int8: [-128, 256], uint16: [0, 65536], int16: [-32768, 65536], int32: [-(2 ** 31), 2 ** 32],
  }
  if (type === 'float32') {
    const a = new Float32Array(n)
    for (let i = 0; i < n; i++) a[i] = (rnd() - 0.3) * 10 ** Math.floor(rnd() * 12 - 6)
    a[0] = -0
    a[1] = 3.4e38
    a[2] = 1e-45 // a denormal
    return a
  }
  const [lo, span] = ranges[type]
  const Ctor = { uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, int32: Int32Array }[type]
  const a = new Ctor(n)
  for (let i = 0; i < n; i++) a[i] = lo + Math.floor(rnd() * span)
  a[0] = lo
  a[1] = lo + span - 1
  return a
}

/** A box of a volume as its own volume (origin moved to the box's first voxel). */
function crop(g: VolumeGeometry, v: VoxelArray, start: Vec3, dims: Vec3): { geometry: VolumeGeometry; voxels: VoxelArray } {
  const out = new (v.constructor as new (n: number) => VoxelArray)(dims[0] * dims[1] * dims[2])
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++) {
        out[i + dims[0] * (j + dims[1] * k)] = v[start[0] + i + g.dims[0] * (start[1] + j + g.dims[1] * (start[2] + k))]
      }
    }
  }
  return { geometry: { ...g, dims, originLps: indexToWorld(g, start) }, voxels: out }
}

/** Parse an attached NRRD header's geometry ourselves, as an independent check of itk-wasm. */
function nrrdGeometry(header: string): { dims: Vec3; spacingMm: Vec3; originLps: Vec3; directionLps: Mat3 } {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(header)
    if (!m) throw new Error(`no "${name}" field`)
    return m[1].trim()
  }
  const vectors = (text: string): number[][] => [...text.matchAll(/\(([^)]*)\)/g)].map((m) => m[1].split(',').map(Number))
  const space = field('space').toLowerCase()
  // LPS is ours; RAS negates x and y.
  const sign =
    space === 'left-posterior-superior' || space === 'lps'
      ? [1, 1, 1]
      : space === 'right-anterior-superior' || space === 'ras'
        ? [-1, -1, 1]
        : null
  if (!sign) throw new Error(`unexpected NRRD space ${space}`)
  const dims = field('sizes').split(/\s+/).map(Number) as Vec3
  const axes = vectors(field('space directions'))
  const origin = vectors(field('space origin'))[0]
  const spacingMm = axes.map((v) => Math.hypot(...v)) as Vec3
  const directionLps = axes.flatMap((v, a) => v.map((x, r) => (sign[r] * x) / spacingMm[a])) as Mat3
  return { dims, spacingMm, originLps: origin.map((x, r) => sign[r] * x) as Vec3, directionLps }
}

async function expectInputError(promise: Promise<unknown>, path: string, pattern: RegExp, withinMs = 5_000): Promise<InputError> {
  const start = performance.now()
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(performance.now() - start, 'rejected quickly').toBeLessThan(withinMs)
  expect(error, 'an InputError').toBeInstanceOf(InputError)
  const e = error as InputError
  expect(e.filePath).toBe(path)
  expect(e.message.startsWith(path)).toBe(true)
  expect(e.message).toMatch(pattern)
  return e
}

// ----------------------------------------------------------------------------------------------------

describe('readItkImageFile on real NRRD', () => {
  it('liver_seg.nrrd: geometry matches its header, values are labels', async () => {
    const bytes = await readFile(LIVER_SEG)
    const header = bytes.subarray(0, bytes.indexOf('\n\n')).toString('latin1')
    const expected = nrrdGeometry(header)
    const image = await readItkImageFile(LIVER_SEG)
    expectSameGeometry(image.geometry, expected, 1e-9)
    expect(image.geometry.dims).toEqual([512, 512, 3])
    expect(image.geometry.spacingMm[0]).toBeCloseTo(0.810547, 6)
    expect(image.voxels).toBeInstanceOf(Int16Array) // "type: short"
    expect(image.voxels.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(image.warnings).toEqual([])
    const counts = new Map<number, number>()
    for (const v of image.voxels) counts.set(v, (counts.get(v) ?? 0) + 1)
    const labels = [...counts.keys()].sort((a, b) => a - b)
    expect(labels[0]).toBe(0)
    expect(labels.length).toBeGreaterThanOrEqual(2)
    expect(labels.length).toBeLessThanOrEqual(16)
    expect(labels.every((l) => Number.isInteger(l) && l >= 0 && l < 256)).toBe(true)
    const labelled = image.voxels.length - counts.get(0)!
    // A liver on three 512 x 512 slices: thousands of voxels, far from all of them.
    expect(labelled).toBeGreaterThan(1_000)
    expect(labelled).toBeLessThan(image.voxels.length / 2)
  })
})

describe('MHA / NRRD round trips', () => {
  let pet: { geometry: VolumeGeometry; voxels: VoxelArray }
  let mask: { geometry: VolumeGeometry; voxels: VoxelArray }
  let ctInt16: { geometry: VolumeGeometry; voxels: VoxelArray }

  beforeAll(async () => {
    const [p, m, ct] = await Promise.all([readNiftiFile(STS_001_PET), readNiftiFile(STS_001_PET_MASK), readNiftiFile(STS_001_CT)])
    pet = p
    mask = m
    // The CT NIfTI is float32 holding whole HU: store it the way scanners do, int16.
    const hu = new Int16Array(ct.voxels.length)
    for (let i = 0; i < hu.length; i++) hu[i] = Math.max(-32768, Math.min(32767, Math.round(ct.voxels[i])))
    ctInt16 = { geometry: ct.geometry, voxels: hu }
  })

  const cases: [string, () => { geometry: VolumeGeometry; voxels: VoxelArray }][] = [
    ['STS_001 PET float32', () => pet],
    ['STS_001 PET mask uint8', () => mask],
    ['STS_001 CT int16', () => ctInt16],
  ]
  const formats: [string, string, (p: string, g: VolumeGeometry, v: VoxelArray) => Promise<void>][] = [
    ['MHA', '.mha', (p, g, v) => writeMhaFile(p, g, v, { compress: false })],
    ['MHA compressed', '.mha', (p, g, v) => writeMhaFile(p, g, v, { compress: true })],
    ['NRRD', '.nrrd', (p, g, v) => writeNrrdFile(p, g, v, { compress: false })],
    ['NRRD gzip', '.nrrd', (p, g, v) => writeNrrdFile(p, g, v)],
  ]

  for (const [name, volume] of cases) {
    for (const [format, ext, write] of formats) {
      it(`${name} as ${format}: geometry within 1e-6, voxels bit-exact`, async () => {
        const { geometry, voxels } = volume()
        const path = join(tmp.dir, `rt-${name.replace(/\W+/g, '_')}-${format.replace(/\W+/g, '_')}${ext}`)
        await write(path, geometry, voxels)
        const back = await readItkImageFile(path)
        expectSameGeometry(back.geometry, geometry)
        expectSameVoxels(back.voxels, voxels)
        expect(back.voxels.buffer).toBeInstanceOf(SharedArrayBuffer)
        expect(back.warnings).toEqual([])
        const head = (await readFile(path)).subarray(0, 600).toString('latin1')
        if (ext === '.mha') expect(head).toMatch(format.includes('compressed') ? /CompressedData = True/ : /CompressedData = False/)
        else expect(head).toMatch(format.includes('gzip') ? /encoding: gzip/ : /encoding: raw/)
      })
    }
  }

  it('the synthetic direction is oblique and left-handed', () => {
    expect(determinant(LEFT_HANDED_OBLIQUE)).toBeCloseTo(-1, 12)
    expect(LEFT_HANDED_OBLIQUE.every((v) => Math.abs(v) > 0.01 && Math.abs(v) < 0.99)).toBe(true)
  })

  const types: VoxelType[] = ['uint8', 'int8', 'uint16', 'int16', 'int32', 'float32']
  for (const type of types) {
    for (const [format, ext, write] of formats) {
      it(`synthetic oblique left-handed ${type} as ${format}`, async () => {
        const geometry: VolumeGeometry = {
          dims: [7, 6, 5],
          spacingMm: [0.8125, 1.37, 3.27],
          originLps: [-123.456789012, 56.789012345, -881.3],
          directionLps: LEFT_HANDED_OBLIQUE,
        }
        const voxels = randomVoxels(type, voxelCount(geometry), type.length * 7 + ext.length)
        const path = join(tmp.dir, `syn-${type}-${format.replace(/\W+/g, '_')}${ext}`)
        await write(path, geometry, voxels)
        const back = await readItkImageFile(path)
        expectSameGeometry(back.geometry, geometry)
        expectSameVoxels(back.voxels, voxels)
      })
    }
  }

  it('writes atomically: no temporary files left, protected inputs refused', async () => {
    const dir = join(tmp.dir, 'atomic')
    const path = join(dir, 'mask.mha')
    await writeMhaFile(path, mask.geometry, mask.voxels)
    await writeMhaFile(path, mask.geometry, mask.voxels) // replaces
    expect(await readdir(dir)).toEqual(['mask.mha'])
    const before = await readFile(path)
    await expect(writeMhaFile(path, pet.geometry, pet.voxels, { protectedPaths: [path] })).rejects.toThrow(/refusing to overwrite/)
    await expect(writeMhaFile(path, pet.geometry, pet.voxels, { overwrite: false })).rejects.toThrow(/already exists/)
    expect((await readFile(path)).equals(before)).toBe(true)
    expect(await readdir(dir)).toEqual(['mask.mha'])
  })

  it('readImageFile: NIfTI and MHA/NRRD of the same data agree', async () => {
    const mha = join(tmp.dir, 'agree-pet.mha')
    const nrrd = join(tmp.dir, 'agree-pet.nrrd')
    const niiGz = join(tmp.dir, 'agree-pet.nii.gz')
    await writeImageFile(mha, pet.geometry, pet.voxels)
    await writeImageFile(nrrd, pet.geometry, pet.voxels)
    await writeImageFile(niiGz, pet.geometry, pet.voxels)
    const [fromNifti, fromMha, fromNrrd, fromOurNifti] = await Promise.all([
      readImageFile(STS_001_PET),
      readImageFile(mha),
      readImageFile(nrrd),
      readImageFile(niiGz),
    ])
    for (const other of [fromMha, fromNrrd, fromOurNifti]) {
      expectSameGeometry(other.geometry, fromNifti.geometry)
      expectSameVoxels(other.voxels, fromNifti.voxels)
    }
    await expectInputError(readImageFile(join(tmp.dir, 'x.png')), join(tmp.dir, 'x.png'), /unsupported image format.*\.mha/)
    await expectInputError(
      writeImageFile(join(tmp.dir, 'x.mhd'), pet.geometry, pet.voxels),
      join(tmp.dir, 'x.mhd'),
      /cannot write this format/,
    )
  })
})

describe('bad input becomes an InputError naming the file, quickly', () => {
  let smallMha: Buffer
  const small = (): { geometry: VolumeGeometry; voxels: VoxelArray } => ({
    geometry: { dims: [8, 8, 4], spacingMm: [2, 2, 3], originLps: [1, 2, 3], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
    voxels: randomVoxels('int16', 256, 5),
  })

  beforeAll(async () => {
    const { geometry, voxels } = small()
    const path = join(tmp.dir, 'bad-source.mha')
    await writeMhaFile(path, geometry, voxels, { compress: false })
    smallMha = await readFile(path)
  })

  it('truncated .mha (header intact, data short)', async () => {
    const path = join(tmp.dir, 'truncated.mha')
    await writeFile(path, smallMha.subarray(0, smallMha.length - 100))
    await expectInputError(readItkImageFile(path), path, /truncated: 412 of 512 bytes/)
  })

  it('truncated compressed .mha', async () => {
    const { geometry, voxels } = small()
    const full = join(tmp.dir, 'truncated-z-source.mha')
    await writeMhaFile(full, geometry, voxels, { compress: true })
    const bytes = await readFile(full)
    const path = join(tmp.dir, 'truncated-z.mha')
    await writeFile(path, bytes.subarray(0, bytes.length - 50))
    await expectInputError(readItkImageFile(path), path, /truncated|not a readable MetaImage/)
  })

  it('garbage bytes named .nrrd', async () => {
    const rnd = mulberry32(42)
    const path = join(tmp.dir, 'garbage.nrrd')
    await writeFile(path, Uint8Array.from({ length: 4096 }, () => Math.floor(rnd() * 256)))
    await expectInputError(readItkImageFile(path), path, /not a readable NRRD file/)
  })

  it('.mhd pointing to a missing .raw, or to one outside its folder', async () => {
    const header = (dataFile: string): string =>
      `ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_UCHAR\nElementDataFile = ${dataFile}\n`
    const missing = join(tmp.dir, 'missing.mhd')
    await writeFile(missing, header('missing.raw'))
    await expectInputError(readItkImageFile(missing), missing, /data file "missing.raw" is missing/)
    await writeFile(join(tmp.dir, 'outside.raw'), new Uint8Array(64))
    const escaping = join(tmp.dir, 'sub', 'escaping.mhd')
    await mkdir(join(tmp.dir, 'sub'), { recursive: true })
    await writeFile(escaping, header('../outside.raw'))
    await expectInputError(readItkImageFile(escaping), escaping, /outside the header's folder/)
    // A .mhd with its data beside it reads.
    const ok = join(tmp.dir, 'present.mhd')
    await writeFile(join(tmp.dir, 'present.raw'), Uint8Array.from({ length: 64 }, (_, i) => i))
    await writeFile(ok, header('present.raw'))
    const image = await readItkImageFile(ok)
    expect(image.geometry.dims).toEqual([4, 4, 4])
    expect(image.voxels[63]).toBe(63)
  })

  it('4-D series and vector images', async () => {
    const fourD = join(tmp.dir, 'series.mha')
    await writeFile(fourD, Buffer.concat([
      Buffer.from('ObjectType = Image\nNDims = 4\nDimSize = 4 4 4 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n'),
      Buffer.alloc(128),
    ]))
    await expectInputError(readItkImageFile(fourD), fourD, /4-D series of 2 volumes/)
    const vector = join(tmp.dir, 'vector.mha')
    await writeFile(vector, Buffer.concat([
      Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementNumberOfChannels = 3\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n'),
      Buffer.alloc(192),
    ]))
    await expectInputError(readItkImageFile(vector), vector, /3 values per voxel/)
    // A 2-D image is a one-slice volume.
    const flat = join(tmp.dir, 'flat.mha')
    await writeFile(flat, Buffer.concat([
      Buffer.from('ObjectType = Image\nNDims = 2\nDimSize = 3 2\nElementSpacing = 0.5 0.25\nOffset = 10 20\nElementType = MET_SHORT\nElementDataFile = LOCAL\n'),
      Buffer.from(new Int16Array([1, 2, 3, -4, -5, -6]).buffer),
    ]))
    const image = await readItkImageFile(flat)
    expect(image.geometry).toEqual({ dims: [3, 2, 1], spacingMm: [0.5, 0.25, 1], originLps: [10, 20, 0], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] })
    expect([...image.voxels]).toEqual([1, 2, 3, -4, -5, -6])
  })

  it('float64, uint32 and int64 are narrowed to float32 with warnings; NaN becomes 0', async () => {
    const f64 = join(tmp.dir, 'double.mha')
    await writeFile(f64, Buffer.concat([
      Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 2 2 1\nElementType = MET_DOUBLE\nElementDataFile = LOCAL\n'),
      Buffer.from(new Float64Array([1.5, -2.25, Number.NaN, 1e300]).buffer),
    ]))
    const d = await readItkImageFile(f64)
    expect(d.voxels).toBeInstanceOf(Float32Array)
    expect([...d.voxels]).toEqual([1.5, -2.25, 0, 0])
    expect(d.warnings.join('\n')).toMatch(/beyond the float32 range/)
    expect(d.warnings.join('\n')).toMatch(/2 voxels were NaN or infinite/)
    const u32 = join(tmp.dir, 'uint32.nrrd')
    await writeFile(u32, Buffer.concat([
      Buffer.from('NRRD0004\ntype: uint32\ndimension: 3\nsizes: 2 1 1\nendian: little\nencoding: raw\n\n'),
      Buffer.from(new Uint32Array([7, 2 ** 32 - 1]).buffer),
    ]))
    const u = await readItkImageFile(u32)
    expect(u.voxels).toBeInstanceOf(Float32Array)
    expect(u.voxels[0]).toBe(7)
    expect(u.warnings.join('\n')).toMatch(/1 uint32 voxels could not be held exactly/)
    const i64 = join(tmp.dir, 'int64.nrrd')
    await writeFile(i64, Buffer.concat([
      Buffer.from('NRRD0004\ntype: int64\ndimension: 3\nsizes: 3 1 1\nendian: little\nencoding: raw\ncontent: lesion labels\n\n'),
      Buffer.from(new BigInt64Array([-5n, 2n ** 24n, 2n ** 40n + 1n]).buffer),
    ]))
    const l = await readItkImageFile(i64)
    expect([...l.voxels]).toEqual([-5, 2 ** 24, 2 ** 40])
    expect(l.warnings).toEqual([`${i64}: 1 int64 voxels could not be held exactly as float32 and were rounded`])
    expect(l.description).toBe('lesion labels')
  })

  it('empty, missing and wrongly named files', async () => {
    const empty = join(tmp.dir, 'empty.nrrd')
    await writeFile(empty, '')
    await expectInputError(readItkImageFile(empty), empty, /empty/)
    const absent = join(tmp.dir, 'absent.mha')
    await expectInputError(readItkImageFile(absent), absent, /cannot read the file \(ENOENT\)/)
    const wrong = join(tmp.dir, 'image.nii')
    await expectInputError(readItkImageFile(wrong), wrong, /not a MetaImage or NRRD file name/)
  })

  it('a read that takes too long is abandoned, and the next read works', async () => {
    const path = join(tmp.dir, 'slow.mha')
    const { geometry, voxels } = small()
    await writeMhaFile(path, geometry, voxels)
    await expectInputError(readItkImageFile(path, { timeoutMs: 1 }), path, /gave up after .* s; the file may be corrupt/)
    const image = await readItkImageFile(path)
    expectSameVoxels(image.voxels, voxels)
  })
})

describe('compressed data is checked against its own checksum (ITK does not)', () => {
  const geometry: VolumeGeometry = { dims: [10, 10, 10], spacingMm: [1, 1, 1], originLps: [0, 0, 0], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
  const values = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5)
  const mhaHeader = (extra = ''): string =>
    `ObjectType = Image\nNDims = 3\nDimSize = 10 10 10\nElementType = MET_FLOAT\nCompressedData = True\n${extra}ElementDataFile = LOCAL\n`
  const nrrdHeader = 'NRRD0004\ntype: float\ndimension: 3\nsizes: 10 10 10\nendian: little\nencoding: gzip\n\n'
  const raw = Buffer.from(values.buffer)

  it('a damaged zlib stream in an MHA or gzip stream in a NRRD is refused, not returned as garbage', async () => {
    for (const [name, write] of [
      ['damaged.mha', (p: string) => writeMhaFile(p, geometry, values, { compress: true })],
      ['damaged.nrrd', (p: string) => writeNrrdFile(p, geometry, values, { compress: true })],
    ] as const) {
      const path = join(tmp.dir, name)
      await write(path)
      const bytes = await readFile(path)
      bytes.fill(0, bytes.length - 400, bytes.length - 380) // inside the compressed data, before the trailer
      await writeFile(path, bytes)
      await expectInputError(readItkImageFile(path), path, /compressed image data is corrupt/)
    }
  })

  it('files from other writers still read: trailing newline, two gzip members, .mhd + .zraw', async () => {
    const z = deflateSync(raw)
    const cases: [string, Buffer][] = [
      ['other-trailing.nrrd', Buffer.concat([Buffer.from(nrrdHeader), gzipSync(raw), Buffer.from('\n')])],
      ['other-members.nrrd', Buffer.concat([Buffer.from(nrrdHeader), gzipSync(raw.subarray(0, 1500)), gzipSync(raw.subarray(1500))])],
      ['other-size.mha', Buffer.concat([Buffer.from(mhaHeader(`CompressedDataSize = ${z.length}\n`)), z, Buffer.from('\n')])],
    ]
    await writeFile(join(tmp.dir, 'other.zraw'), z)
    await writeFile(join(tmp.dir, 'other.mhd'), mhaHeader().replace('LOCAL', 'other.zraw'))
    for (const [name, bytes] of cases) await writeFile(join(tmp.dir, name), bytes)
    for (const name of [...cases.map((c) => c[0]), 'other.mhd']) {
      const image = await readItkImageFile(join(tmp.dir, name))
      expectSameVoxels(image.voxels, values)
    }
  })

  it('an attached compressed MHA without CompressedDataSize: itk-wasm returns zeros, we refuse it', async () => {
    const path = join(tmp.dir, 'no-size.mha')
    await writeFile(path, Buffer.concat([Buffer.from(mhaHeader()), deflateSync(raw)]))
    await expectInputError(readItkImageFile(path), path, /corrupt or truncated \(or its header lacks CompressedDataSize/)
  })

  it('a header claiming more than the file can hold is refused before ITK allocates it', async () => {
    const path = join(tmp.dir, 'claims-a-gigabyte.mha')
    await writeFile(path, Buffer.concat([Buffer.from(mhaHeader().replace('10 10 10', '1000 1000 1000')), deflateSync(raw)]))
    await expectInputError(readItkImageFile(path), path, /header describes a 1000 x 1000 x 1000 image \(4000000000 bytes\)/, 1_000)
    const bz = join(tmp.dir, 'bzip2.nrrd')
    await writeFile(bz, Buffer.concat([Buffer.from(nrrdHeader.replace('gzip', 'bzip2')), Buffer.alloc(100)]))
    await expectInputError(readItkImageFile(bz), bz, /bzip2/)
  })
})

describe('fuzz: truncated and byte-flipped MHA and NRRD', () => {
  it('every read returns a consistent image or an InputError, never hangs', async () => {
    const pet = await readNiftiFile(STS_001_PET)
    // A real 12 x 12 x 6 box of PET around the volume centre: small, so each read is fast.
    const box = crop(pet.geometry, pet.voxels, [14, 15, 26], [12, 12, 6])
    const sources: [string, Buffer][] = []
    for (const [name, write] of [
      ['raw.mha', (p: string) => writeMhaFile(p, box.geometry, box.voxels, { compress: false })],
      ['zlib.mha', (p: string) => writeMhaFile(p, box.geometry, box.voxels, { compress: true })],
      ['raw.nrrd', (p: string) => writeNrrdFile(p, box.geometry, box.voxels, { compress: false })],
      ['gzip.nrrd', (p: string) => writeNrrdFile(p, box.geometry, box.voxels, { compress: true })],
    ] as const) {
      const path = join(tmp.dir, `fuzz-source-${name}`)
      await write(path)
      sources.push([name, await readFile(path)])
    }
    const rnd = mulberry32(20240607)
    const int = (n: number): number => Math.floor(rnd() * n)
    const plausible = Buffer.from('0123456789 -.e\n=:')
    const counts = { valid: 0, rejected: 0, timedOut: 0 }
    const reasons = new Map<string, number>()
    const cases = 300
    for (let c = 0; c < cases; c++) {
      const [name, source] = sources[c % sources.length]
      const bytes = Buffer.from(source)
      const headerLength = Math.max(1, name.endsWith('.mha') ? bytes.indexOf('LOCAL\n') + 6 : bytes.indexOf('\n\n') + 2)
      const kind = int(4)
      let length = bytes.length
      if (kind === 0 || kind === 3) length = int(bytes.length)
      if (kind >= 1) {
        for (let f = 1 + int(4); f > 0; f--) {
          const at = kind === 1 || rnd() < 0.5 ? int(headerLength) : int(bytes.length)
          bytes[at] = rnd() < 0.5 ? plausible[int(plausible.length)] : int(256)
        }
      }
      const path = join(tmp.dir, `fuzz-${String(c).padStart(3, '0')}-${name}`)
      await writeFile(path, bytes.subarray(0, length))
      try {
        const image = await readItkImageFile(path, { timeoutMs: 10_000 })
        const g = image.geometry
        expect(voxelCount(g)).toBe(image.voxels.length)
        expect(g.dims.every((d) => Number.isInteger(d) && d >= 1)).toBe(true)
        expect([...g.spacingMm, ...g.originLps, ...g.directionLps].every(Number.isFinite)).toBe(true)
        expect(g.spacingMm.every((s) => s > 0)).toBe(true)
        counts.valid++
      } catch (e) {
        if (!(e instanceof InputError)) throw new Error(`case ${c} (${name}, kind ${kind}): ${String(e)}`)
        expect(e.filePath).toBe(path)
        if (/gave up after/.test(e.message)) counts.timedOut++
        else counts.rejected++
        const reason = e.message.slice(path.length + 2).replace(/\d+/g, 'N').slice(0, 70)
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
      }
    }
    console.log(`itk fuzz: ${cases} cases, ${counts.valid} valid, ${counts.rejected} rejected, ${counts.timedOut} timed out`)
    console.log([...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `  ${n} x ${r}`).join('\n'))
    expect(counts.valid + counts.rejected + counts.timedOut).toBe(cases)
    expect(counts.valid).toBeGreaterThan(0)
    expect(counts.rejected).toBeGreaterThan(0)
    // Still alive and reading afterwards.
    const again = await readItkImageFile(join(tmp.dir, 'fuzz-source-gzip.nrrd'))
    expectSameVoxels(again.voxels, box.voxels)
  }, 120_000)
})
