import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { readImageNode } from '@itk-wasm/image-io'
import { voxelCount, type Mat3, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import type { VoxelArray } from '../../src/shared/volume'
import { InputError } from '../../src/main/io/InputError'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { encodeNifti, writeNiftiFile } from '../../src/main/io/nifti/writeNifti'
import { bytesOf, FDG_LABEL, makeTempDir, PSMA_LABEL, STS_001_CT, STS_001_PET, STS_001_PET_MASK } from './helpers/data'
import { uniformRandom as seeded } from '../../src/main/imaging/seededRandom'
import { rotation } from './helpers/fixtures'

const tmp = makeTempDir('lesionlab-nifti-')
afterAll(() => tmp.cleanup())

/** Our geometry as itk-wasm's reader sees a file: ITK's direction is row-major, column N = our axis N. */
async function itkGeometry(path: string): Promise<{ geometry: VolumeGeometry; data: ArrayLike<number> }> {
  const image = await readImageNode(path)
  const d = Array.from(image.direction as ArrayLike<number>)
  const directionLps = new Array<number>(9).fill(0) as Mat3
  for (let axis = 0; axis < 3; axis++) for (let r = 0; r < 3; r++) directionLps[3 * axis + r] = d[r * 3 + axis]
  return {
    geometry: {
      dims: [...image.size] as Vec3,
      spacingMm: [...image.spacing] as Vec3,
      originLps: [...image.origin] as Vec3,
      directionLps,
    },
    data: image.data as unknown as ArrayLike<number>,
  }
}

/** The largest absolute difference between two geometries' spacing/origin (mm) and direction entries. */
function geometryDifference(a: VolumeGeometry, b: VolumeGeometry): { dims: boolean; mm: number; direction: number } {
  let mm = 0
  let direction = 0
  for (let i = 0; i < 3; i++) {
    mm = Math.max(mm, Math.abs(a.spacingMm[i] - b.spacingMm[i]), Math.abs(a.originLps[i] - b.originLps[i]))
  }
  for (let i = 0; i < 9; i++) direction = Math.max(direction, Math.abs(a.directionLps[i] - b.directionLps[i]))
  return { dims: a.dims.every((n, i) => n === b.dims[i]), mm, direction }
}

function countMismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length)
  let n = 0
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++
  return n
}

describe('readNiftiFile agrees with itk-wasm on real data', () => {
  const cases: [string, string, string][] = [
    ['STS_001 CT', STS_001_CT, 'Float32Array'],
    ['STS_001 PET', STS_001_PET, 'Float32Array'],
    ['STS_001 PET mask', STS_001_PET_MASK, 'Uint8Array'],
    ['autoPET PSMA label (left-handed LPS axes)', PSMA_LABEL, 'Uint8Array'],
    ['autoPET FDG label', FDG_LABEL, 'Uint8Array'],
  ]
  it.each(cases)('%s', async (_name, path, arrayType) => {
    const [ours, ref] = await Promise.all([readNiftiFile(path), itkGeometry(path)])
    const diff = geometryDifference(ours.geometry, ref.geometry)
    expect(ours.geometry.dims).toEqual(ref.geometry.dims)
    expect(diff.mm).toBeLessThan(1e-4)
    expect(diff.direction).toBeLessThan(1e-4)
    expect(ours.voxels.constructor.name).toBe(arrayType)
    expect(ours.voxels.length).toBe(voxelCount(ours.geometry))
    expect(countMismatches(ours.voxels, ref.data)).toBe(0)
    expect(ours.warnings).toEqual([])
  })

  it('reads the documented real geometry (CT 0.98 mm / 3.27 mm, PET 4.69 mm, PSMA label 4.07 x 4.07 x 2 mm)', async () => {
    const [ct, pet, psma] = await Promise.all([readNiftiFile(STS_001_CT), readNiftiFile(STS_001_PET), readNiftiFile(PSMA_LABEL)])
    expect(ct.geometry.spacingMm[0]).toBeCloseTo(0.9766, 3)
    expect(ct.geometry.spacingMm[2]).toBeCloseTo(3.27, 3)
    expect(pet.geometry.spacingMm[0]).toBeCloseTo(4.6875, 4)
    expect(psma.geometry.dims).toEqual([200, 200, 448])
    expect(psma.geometry.spacingMm[2]).toBeCloseTo(2, 5)
    // The PSMA label's second axis runs anterior (LPS -y): a left-handed index frame.
    expect(psma.geometry.directionLps[4]).toBeCloseTo(-1, 6)
  })
})

// ----------------------------------------------------------------------------------------------------
// Round trips through our writer


function determinant(d: Mat3): number {
  const m = (r: number, c: number): number => d[3 * c + r]
  return (
    m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1)) -
    m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0)) +
    m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0))
  )
}

const OBLIQUE = rotation([1, 2, 3], (33 * Math.PI) / 180)
// Oblique and left-handed: the third axis of a rotation flipped.
const LEFT_HANDED = ((): Mat3 => {
  const d = rotation([-2, 1, 0.5], (117 * Math.PI) / 180)
  return [d[0], d[1], d[2], d[3], d[4], d[5], -d[6], -d[7], -d[8]]
})()
// A 180-degree rotation (quaternion a = 0): NIfTI's "trickier case".
const HALF_TURN: Mat3 = [-1, 0, 0, 0, 1, 0, 0, 0, -1]

function grid(directionLps: Mat3, dims: Vec3 = [13, 11, 7]): VolumeGeometry {
  return { dims, spacingMm: [0.8125, 1.37, 3.27], originLps: [-123.456, 56.789, -881.3], directionLps }
}


function randomVoxels(type: 'uint8' | 'int16' | 'float32', n: number, seed: number): VoxelArray {
  const rnd = seeded(seed)
  if (type === 'uint8') {
    const a = new Uint8Array(n)
    for (let i = 0; i < n; i++) a[i] = Math.floor(rnd() * 256)
    a[0] = 0
    a[1] = 255
    return a
  }
  if (type === 'int16') {
    const a = new Int16Array(n)
    for (let i = 0; i < n; i++) a[i] = Math.floor(rnd() * 65536) - 32768
    a[0] = -32768
    a[1] = 32767
    a[2] = -1024
    return a
  }
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) a[i] = (rnd() - 0.3) * 10 ** Math.floor(rnd() * 12 - 6)
  a[0] = -0
  a[1] = 3.4e38
  a[2] = -1.17e-38
  a[3] = 1e-45 // a denormal
  return a
}

/** Geometry read back from our own file: stored as float32, so equal within float32 precision. */
function expectSameGeometry(read: VolumeGeometry, written: VolumeGeometry, mmTolerance: number, directionTolerance = 1e-6): void {
  const diff = geometryDifference(read, written)
  expect(diff.dims, 'dims').toBe(true)
  expect(diff.mm, 'spacing/origin (mm)').toBeLessThan(mmTolerance)
  expect(diff.direction, 'direction').toBeLessThan(directionTolerance)
}

describe('encodeNifti / writeNiftiFile round trip', () => {
  const directions: [string, Mat3][] = [
    ['oblique', OBLIQUE],
    ['left-handed oblique', LEFT_HANDED],
    ['half turn', HALF_TURN],
  ]
  const types = ['uint8', 'int16', 'float32'] as const

  it('the test directions are what they claim', () => {
    expect(determinant(OBLIQUE)).toBeCloseTo(1, 12)
    expect(determinant(LEFT_HANDED)).toBeCloseTo(-1, 12)
    expect(determinant(HALF_TURN)).toBe(1)
    // Oblique: no axis is aligned with a world axis.
    expect(OBLIQUE.every((v) => Math.abs(v) > 0.05 && Math.abs(v) < 0.99)).toBe(true)
  })

  for (const [dirName, direction] of directions) {
    for (const type of types) {
      for (const ext of ['.nii', '.nii.gz']) {
        it(`${type}, ${dirName}, ${ext}: voxels bit-exact, geometry within float32 precision, itk-wasm agrees`, async () => {
          const g = grid(direction)
          const voxels = randomVoxels(type, voxelCount(g), type.length + dirName.length)
          const path = join(tmp.dir, `rt-${type}-${dirName.replace(/\W/g, '_')}${ext}`)
          await writeNiftiFile(path, g, voxels, { description: 'round trip' })
          const back = await readNiftiFile(path)
          expect(back.voxels.constructor).toBe(voxels.constructor)
          expect(bytesOf(back.voxels).equals(bytesOf(voxels))).toBe(true)
          expectSameGeometry(back.geometry, g, 1e-4)
          // The origin is stored as float32 and negated exactly: it comes back as float32(origin).
          expect(back.geometry.originLps).toEqual(g.originLps.map(Math.fround))
          expect(back.description).toBe('round trip')
          expect(back.warnings).toEqual([])

          // An independent reader (ITK, which reads qform/sform its own way) sees the same grid.
          const itk = await itkGeometry(path)
          expectSameGeometry(itk.geometry, g, 1e-4)
          expect(countMismatches(itk.data, voxels)).toBe(0)
        })
      }
    }
  }

  // Files from other tools often carry only one of the two transforms. Ours must be right on its own
  // each time: the qform (quaternion + qfac) and the sform (srow_*) are read by different code paths.
  // A rotation 1e-5 rad short of a half turn *in RAS* (what the quaternion encodes): its float32
  // quaternion has b^2 + c^2 + d^2 slightly above 1, which nifti1_io.c clamps (a = 0).
  const NEAR_HALF_TURN = ((): Mat3 => {
    const ras = rotation([2, -1, 1], Math.PI - 1e-5)
    return ras.map((v, i) => (i % 3 === 2 ? v : -v)) as Mat3
  })()
  const singleForm: [string, Mat3][] = [...directions, ['oblique, 180 degrees less 1e-5 rad', NEAR_HALF_TURN]]
  for (const [dirName, direction] of singleForm) {
    for (const only of ['qform', 'sform'] as const) {
      it(`${only} only, ${dirName}: our reader and itk-wasm both read the written grid`, async () => {
        const g = grid(direction, [6, 5, 4])
        const voxels = randomVoxels('float32', voxelCount(g), 11)
        const bytes = encodeNifti(g, voxels)
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        v.setInt16(only === 'qform' ? 254 : 252, 0, true) // drop the other transform's code
        const path = join(tmp.dir, `${only}-only-${dirName.replace(/\W/g, '_')}.nii`)
        await writeFile(path, bytes)
        // A float32 quaternion resolves angles near 180 degrees only to about sqrt(6e-8) (its a is
        // sqrt(1 - b² - c² - d²)): there the qform alone is good to ~1e-3, for every reader.
        const directionTolerance = only === 'qform' && direction === NEAR_HALF_TURN ? 1e-3 : 1e-6
        const back = await readNiftiFile(path)
        expectSameGeometry(back.geometry, g, 1e-4, directionTolerance)
        expect(bytesOf(back.voxels).equals(bytesOf(voxels))).toBe(true)
        const itk = await itkGeometry(path)
        expectSameGeometry(itk.geometry, g, 1e-4, directionTolerance)
        // Both readers agree with each other much more closely than with the written grid.
        expectSameGeometry(back.geometry, itk.geometry, 1e-4, 1e-5)
      })
    }
  }

  it('the other voxel types (int8, uint16, int32) round-trip bit-exact too, and itk-wasm agrees', async () => {
    const g = grid(OBLIQUE, [9, 8, 7])
    const n = voxelCount(g)
    const rnd = seeded(5)
    const arrays: VoxelArray[] = [
      new Int8Array(n).map(() => Math.floor(rnd() * 256) - 128),
      new Uint16Array(n).map(() => Math.floor(rnd() * 65536)),
      new Int32Array(n).map(() => Math.floor(rnd() * 2 ** 32) - 2 ** 31),
    ]
    for (const voxels of arrays) {
      const path = join(tmp.dir, `rt-${voxels.constructor.name}.nii.gz`)
      await writeNiftiFile(path, g, voxels)
      const back = await readNiftiFile(path)
      expect(back.voxels.constructor).toBe(voxels.constructor)
      expect(bytesOf(back.voxels).equals(bytesOf(voxels))).toBe(true)
      const itk = await itkGeometry(path)
      expect(countMismatches(itk.data, voxels), voxels.constructor.name).toBe(0)
    }
  })

  it('reads a big-endian file (header and voxels byte-swapped) to the same grid and values', async () => {
    for (const type of ['int16', 'float32'] as const) {
      const g = grid(LEFT_HANDED, [7, 6, 5])
      const voxels = randomVoxels(type, voxelCount(g), 21)
      const path = join(tmp.dir, `big-endian-${type}.nii`)
      await writeFile(path, toBigEndian(encodeNifti(g, voxels), type === 'int16' ? 2 : 4))
      const back = await readNiftiFile(path)
      expect(back.voxels.constructor).toBe(voxels.constructor)
      // Equal values (the byte-swapping path computes v * 1 + 0, which turns -0 into +0).
      expect(countMismatches(back.voxels, voxels)).toBe(0)
      expectSameGeometry(back.geometry, g, 1e-4)
      const itk = await itkGeometry(path)
      expectSameGeometry(itk.geometry, g, 1e-4)
      expect(countMismatches(itk.data, voxels)).toBe(0)
    }
  })

  it('encodes a view with a byteOffset into a larger buffer (only the view is written)', async () => {
    const g = grid(OBLIQUE, [5, 4, 3])
    const n = voxelCount(g)
    const big = new Int16Array(n + 20)
    for (let i = 0; i < big.length; i++) big[i] = i * 37 - 500
    const view = big.subarray(7, 7 + n)
    const encoded = encodeNifti(g, view)
    expect(encoded.byteLength).toBe(352 + n * 2)
    const path = join(tmp.dir, 'view.nii')
    await writeFile(path, encoded)
    const back = await readNiftiFile(path)
    expect(bytesOf(back.voxels).equals(bytesOf(view))).toBe(true)
  })

  it('applies scl_slope / scl_inter when the header sets them (values become float32)', async () => {
    const g = grid(OBLIQUE, [6, 5, 4])
    const raw = randomVoxels('int16', voxelCount(g), 7) as Int16Array
    const bytes = encodeNifti(g, raw)
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    v.setFloat32(112, 0.5, true)
    v.setFloat32(116, -1024, true)
    const path = join(tmp.dir, 'scaled.nii')
    await writeFile(path, bytes)
    const back = await readNiftiFile(path)
    expect(back.voxels).toBeInstanceOf(Float32Array)
    let bad = 0
    for (let i = 0; i < raw.length; i++) if (back.voxels[i] !== Math.fround(raw[i] * 0.5 - 1024)) bad++
    expect(bad).toBe(0)
  })
})

/** A little-endian NIfTI-1 file (as encodeNifti writes it) with every header field and voxel swapped. */
function toBigEndian(le: Uint8Array, voxelBytes: number): Uint8Array {
  const out = new Uint8Array(le)
  const swap = (offset: number, size: number): void => {
    for (let i = 0; i < size / 2; i++) {
      const t = out[offset + i]
      out[offset + i] = out[offset + size - 1 - i]
      out[offset + size - 1 - i] = t
    }
  }
  swap(0, 4) // sizeof_hdr
  for (let i = 0; i < 8; i++) swap(40 + 2 * i, 2) // dim
  for (const o of [56, 60, 64]) swap(o, 4) // intent_p*
  for (const o of [68, 70, 72, 74]) swap(o, 2) // intent_code, datatype, bitpix, slice_start
  for (let i = 0; i < 8; i++) swap(76 + 4 * i, 4) // pixdim
  for (const o of [108, 112, 116]) swap(o, 4) // vox_offset, scl_slope, scl_inter
  swap(120, 2) // slice_end
  for (const o of [124, 128, 132, 136, 140, 144]) swap(o, 4) // cal_max/min, slice_duration, toffset, glmax/min
  for (const o of [252, 254]) swap(o, 2) // qform_code, sform_code
  for (let o = 256; o < 328; o += 4) swap(o, 4) // quatern_*, qoffset_*, srow_*
  for (let o = 352; o < out.length; o += voxelBytes) swap(o, voxelBytes)
  return out
}

// ----------------------------------------------------------------------------------------------------
// Bad input: always an InputError naming the file, never a crash or a hang

async function expectInputError(path: string, messagePart?: RegExp): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readNiftiFile(${path}) did not settle within 10 s`)), 10_000)
  })
  try {
    const error = await Promise.race([readNiftiFile(path).then(() => null, (e: unknown) => e), timeout])
    expect(error, 'readNiftiFile should have failed').toBeInstanceOf(InputError)
    const message = (error as InputError).message
    expect(message).toContain(path)
    expect((error as InputError).filePath).toBe(path)
    if (messagePart) expect(message).toMatch(messagePart)
  } finally {
    clearTimeout(timer)
  }
}

describe('readNiftiFile on bad input', () => {
  const small = grid(OBLIQUE, [8, 7, 6])
  const smallVoxels = randomVoxels('int16', voxelCount(small), 3)

  it('a truncated .nii.gz (real CT, cut in half)', async () => {
    const gz = await readFile(STS_001_CT)
    const path = join(tmp.dir, 'truncated.nii.gz')
    await writeFile(path, gz.subarray(0, Math.floor(gz.length / 2)))
    await expectInputError(path, /gzip|truncated|corrupt/i)
  })

  it('a .nii.gz whose voxel data is short (valid gzip of a truncated image)', async () => {
    const encoded = encodeNifti(small, smallVoxels)
    const path = join(tmp.dir, 'short-data.nii.gz')
    await writeFile(path, gzipSync(encoded.subarray(0, encoded.length - 10)))
    await expectInputError(path, /truncated/i)
  })

  it('a truncated uncompressed .nii (header complete, data cut)', async () => {
    const encoded = encodeNifti(small, smallVoxels)
    const path = join(tmp.dir, 'truncated.nii')
    await writeFile(path, encoded.subarray(0, 352 + 100))
    await expectInputError(path, /truncated/i)
  })

  it('a truncated uncompressed .nii (header cut)', async () => {
    const encoded = encodeNifti(small, smallVoxels)
    const path = join(tmp.dir, 'header-cut.nii')
    await writeFile(path, encoded.subarray(0, 200))
    await expectInputError(path)
  })

  it('an empty file', async () => {
    const path = join(tmp.dir, 'empty.nii.gz')
    await writeFile(path, new Uint8Array(0))
    await expectInputError(path)
  })

  it('random bytes, plain and behind a gzip magic number', async () => {
    const rnd = seeded(99)
    const junk = new Uint8Array(5000)
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rnd() * 256)
    const plain = join(tmp.dir, 'random.nii')
    await writeFile(plain, junk)
    await expectInputError(plain, /not a NIfTI/i)
    junk[0] = 0x1f
    junk[1] = 0x8b
    const gz = join(tmp.dir, 'random.nii.gz')
    await writeFile(gz, junk)
    await expectInputError(gz)
  })

  it('a 4-D NIfTI (3 time points)', async () => {
    const g = grid(OBLIQUE, [4, 3, 2])
    const encoded = encodeNifti(g, new Float32Array(voxelCount(g) * 3))
    const v = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength)
    v.setInt16(40, 4, true) // dim[0] = rank 4
    v.setInt16(48, 3, true) // dim[4] = 3 volumes
    const path = join(tmp.dir, 'four-d.nii')
    await writeFile(path, encoded)
    await expectInputError(path, /4-D|single 3-D/i)
  })

  it('an unsupported datatype (complex64, RGB24)', async () => {
    for (const [code, bitpix] of [[32, 64], [128, 24]]) {
      const encoded = encodeNifti(small, new Float32Array(voxelCount(small) * 2))
      const v = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength)
      v.setInt16(70, code, true)
      v.setInt16(72, bitpix, true)
      const path = join(tmp.dir, `datatype-${code}.nii`)
      await writeFile(path, encoded)
      await expectInputError(path, new RegExp(`unsupported.*${code}`, 'i'))
    }
  })

  it('a zero or negative image size', async () => {
    const encoded = encodeNifti(small, smallVoxels)
    const v = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength)
    v.setInt16(42, 0, true)
    const path = join(tmp.dir, 'zero-size.nii')
    await writeFile(path, encoded)
    await expectInputError(path, /size/i)
    v.setInt16(42, -5, true)
    await writeFile(path, encoded)
    await expectInputError(path, /size/i)
  })

  it('a missing file and a folder', async () => {
    await expectInputError(join(tmp.dir, 'no-such-file.nii.gz'), /cannot read/i)
    await expectInputError(tmp.dir, /cannot read/i)
  })
})
