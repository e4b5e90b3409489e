import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { voxelCount } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { readDicomImageSeries, scanDicom } from '../../src/main/io/dicom'
import { dataPath, makeTempDir, STS_001_PET, STS_001_PET_MASK } from './helpers/data'
import { uniformRandom as random } from '../../src/main/imaging/seededRandom'

/**
 * Fuzzing the readers with truncated and byte-flipped copies of real files: each copy must give a
 * valid image or an InputError, never another exception, a crash or a hang. (MHA and NRRD have their
 * own fuzz set in itkIo.test.ts.)
 */
const tmp = makeTempDir('lesionlab-fuzz-')
afterAll(() => tmp.cleanup())


/** Half truncations at random lengths, half copies with 1-8 random bytes changed. */
function mutations(original: Uint8Array, count: number, seed: number): Uint8Array[] {
  const rand = random(seed)
  const out: Uint8Array[] = []
  for (let n = 0; n < count; n++) {
    if (n % 2 === 0) {
      out.push(original.slice(0, Math.floor(rand() * original.length)))
    } else {
      const copy = original.slice()
      const flips = 1 + Math.floor(rand() * 8)
      // Bias half the flips into the first 1 KB, where headers live.
      for (let f = 0; f < flips; f++) {
        const at = rand() < 0.5 ? Math.floor(rand() * Math.min(1024, copy.length)) : Math.floor(rand() * copy.length)
        copy[at] = Math.floor(rand() * 256)
      }
      out.push(copy)
    }
  }
  return out
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hang)`)), ms)))
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

type Outcome = 'valid' | 'rejected'

describe('fuzzed NIfTI (gzip and plain)', () => {
  // Plain .nii copies reach the header parser; .nii.gz copies exercise the gzip layer.
  const sources = [
    { name: 'pet.nii.gz', bytes: new Uint8Array(readFileSync(STS_001_PET)) },
    { name: 'pet.nii', bytes: new Uint8Array(gunzipSync(readFileSync(STS_001_PET))) },
    { name: 'mask.nii', bytes: new Uint8Array(gunzipSync(readFileSync(STS_001_PET_MASK))) },
  ]
  it('180 mutated copies: each a valid image or an InputError naming the file', async () => {
    const tally: Record<Outcome, number> = { valid: 0, rejected: 0 }
    let n = 0
    for (const source of sources) {
      for (const bytes of mutations(source.bytes, 60, 1234 + n)) {
        const file = join(tmp.dir, `${n++}-${source.name}`)
        writeFileSync(file, bytes)
        try {
          const image = await withTimeout(readNiftiFile(file), 10_000, file)
          expect(image.voxels.length).toBe(voxelCount(image.geometry))
          expect([...image.geometry.spacingMm, ...image.geometry.originLps].every(Number.isFinite)).toBe(true)
          tally.valid++
        } catch (e) {
          if (!(e instanceof InputError)) throw new Error(`${file}: ${(e as Error).name}: ${(e as Error).message}`)
          expect(e.message).toContain(file)
          tally.rejected++
        }
      }
    }
    console.log(`NIfTI fuzz: ${tally.valid} valid, ${tally.rejected} rejected with a clear error`)
    expect(tally.valid + tally.rejected).toBe(180)
  })
})

describe('fuzzed DICOM', () => {
  it('160 mutated copies of real PET and CT slices: a valid series, a skipped file, or an InputError', async () => {
    const slices = [
      dataPath('mirp-sts001-fdgpet-raw', 'image', '1-100.dcm'),
      dataPath('mirp-sts-petct', 'STS_001', 'CT', 'dicom', 'image', '000010.dcm'),
    ]
    const tally = { valid: 0, skipped: 0, rejected: 0 }
    let n = 0
    for (const source of slices) {
      const original = new Uint8Array(readFileSync(source))
      for (const bytes of mutations(original, 80, 99 + n)) {
        const dir = join(tmp.dir, `dicom-${n++}`)
        const file = join(dir, 'slice.dcm')
        mkdirSync(dir)
        writeFileSync(file, bytes)
        try {
          const { studies, skipped } = await withTimeout(scanDicom([dir]), 10_000, file)
          const series = studies.flatMap((s) => s.series)
          if (series.length === 0) {
            expect(skipped.length).toBe(1)
            expect(skipped[0].reason.length).toBeGreaterThan(0)
            tally.skipped++
            continue
          }
          const image = await withTimeout(readDicomImageSeries(series[0]), 10_000, file)
          expect(image.voxels.length).toBe(voxelCount(image.geometry))
          // A cut copy has lost pixel data: it must never pass as an image (dcmjs alone zero-fills it).
          expect(bytes.length, `${file} was truncated yet read as valid`).toBe(original.length)
          tally.valid++
        } catch (e) {
          if (!(e instanceof InputError)) throw new Error(`${file}: ${(e as Error).name}: ${(e as Error).message}`)
          expect(e.message).toContain(dir)
          tally.rejected++
        }
      }
    }
    console.log(`DICOM fuzz: ${tally.valid} valid, ${tally.skipped} not recognised as DICOM (skipped, with a reason), ${tally.rejected} rejected with a clear error`)
    expect(tally.valid + tally.skipped + tally.rejected).toBe(160)
  })
})
