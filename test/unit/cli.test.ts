import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { valueRange } from '../../src/main/study/volumeRecord'
import { makeTempDir, REPO_ROOT, STS_001, STS_001_CT, STS_001_PET, STS_001_PET_MASK } from './helpers/data'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** `node bin/lesionlab.mjs ...args` from the repository root. */
function lesionlab(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/lesionlab.mjs', ...args], { cwd: REPO_ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

interface ImageSummary {
  file: string
  role?: string
  dims: number[]
  spacingMm: number[]
  originLps: number[]
  directionLps: number[]
  voxelType: string
  valueRange: [number, number]
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]): number =>
  a.length !== b.length ? Infinity : Math.max(...a.map((v, i) => Math.abs(v - b[i])))

/** The summary agrees with readNiftiFile of the same file (the CLI rounds to 4-6 decimals). */
async function expectMatchesFile(summary: ImageSummary, file: string): Promise<void> {
  const image = await readNiftiFile(file)
  const g = image.geometry
  expect(summary.file).toBe(file)
  expect(summary.dims).toEqual(g.dims)
  expect(maxAbsDiff(summary.spacingMm, g.spacingMm)).toBeLessThan(1e-6)
  expect(maxAbsDiff(summary.originLps, g.originLps)).toBeLessThan(1e-4)
  expect(maxAbsDiff(summary.directionLps, g.directionLps)).toBeLessThan(1e-6)
  expect(summary.valueRange).toEqual(valueRange(image.voxels))
}

const tmp = makeTempDir('lesionlab-cli-')
afterAll(() => tmp.cleanup())

describe('lesionlab CLI', () => {
  it('info <STS_001 folder> --json: the study and its three images', async () => {
    const r = await lesionlab('info', STS_001, '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { study: { name: string; layout: string; tracer: string }; images: ImageSummary[] }
    expect(out.study).toEqual({ name: 'STS_001', layout: 'CT/ and PET/ folders', tracer: 'unknown' })
    expect(out.images.map((i) => i.role)).toEqual(['CT', 'PET', 'mask'])
    await expectMatchesFile(out.images[0], STS_001_CT)
    await expectMatchesFile(out.images[1], STS_001_PET)
    await expectMatchesFile(out.images[2], STS_001_PET_MASK)
    expect(out.images[0]).toMatchObject({ modality: 'CT', units: 'HU', voxelType: 'float32', orientation: 'LPS' })
    expect(out.images[2]).toMatchObject({ modality: 'SEG', voxelType: 'uint8', valueRange: [0, 1] })
  })

  it('info <PET .nii.gz> --json: one image', async () => {
    const r = await lesionlab('info', STS_001_PET, '--json')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { study?: unknown; images: ImageSummary[] }
    expect(out.study).toBeUndefined()
    expect(out.images).toHaveLength(1)
    await expectMatchesFile(out.images[0], STS_001_PET)
    expect(out.images[0].dims).toEqual([41, 43, 59])
  })

  it('info <PET> without --json: readable text', async () => {
    const r = await lesionlab('info', STS_001_PET)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('41 x 43 x 59')
    expect(r.stdout).toContain('4.6875 x 4.6875 x 3.27 mm')
    expect(() => JSON.parse(r.stdout)).toThrow()
  })

  it('--help, and a command\'s --help: exit 0 with usage', async () => {
    const [help, infoHelp] = await Promise.all([lesionlab('--help'), lesionlab('info', '--help')])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: lesionlab <command>/)
    expect(help.stdout).toMatch(/info/)
    expect(infoHelp.code).toBe(0)
    expect(infoHelp.stdout).toMatch(/lesionlab info <file-or-folder>/)
  })

  it('info /no/such/path: exit 1, the path in stderr', async () => {
    const missing = '/no/such/path'
    const r = await lesionlab('info', missing, '--json')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(missing)
    expect(r.stdout).toBe('')
  })

  it('info <a file that is not NIfTI>: exit 1, the path in stderr', async () => {
    const junk = join(tmp.dir, 'junk.nii.gz')
    writeFileSync(junk, 'definitely not an image')
    const r = await lesionlab('info', junk)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(junk)
  })

  it('usage errors exit 2: no arguments, an unknown command, info without a path or with two', async () => {
    const [none, unknown, noPath, twoPaths, badFlag] = await Promise.all([
      lesionlab(),
      lesionlab('frobnicate'),
      lesionlab('info'),
      lesionlab('info', STS_001_PET, STS_001_CT),
      lesionlab('info', STS_001_PET, '--frobnicate'),
    ])
    expect(none.code).toBe(2)
    expect(none.stdout + none.stderr).toMatch(/Usage/)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('frobnicate')
    expect(noPath.code).toBe(2)
    expect(twoPaths.code).toBe(2)
    expect(badFlag.code).toBe(2)
  })
})
