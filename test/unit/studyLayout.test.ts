import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sameGrid, worldBoundsLps, type VolumeGeometry } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { writeNiftiFile } from '../../src/main/io/nifti/writeNifti'
import { loadStudyFromFiles } from '../../src/main/study/loadStudy'
import { detectStudyFiles, tracerFromName, type StudyFiles } from '../../src/main/study/studyLayout'
import {
  bytesOf,
  makeTempDir,
  PSMA_LABEL,
  STS_001,
  STS_001_CT,
  STS_001_CT_MASK,
  STS_001_PET,
  STS_001_PET_MASK,
} from './helpers/data'

const tmp = makeTempDir('lesionlab-layout-')
afterAll(() => tmp.cleanup())

/** A folder under the temp dir holding links to real files: { name in folder: real file }. */
function folderOf(rel: string, links: Record<string, string> = {}): string {
  const dir = join(tmp.dir, rel)
  mkdirSync(dir, { recursive: true })
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name))
  return dir
}

async function inputError(promise: Promise<unknown>): Promise<InputError> {
  const e = await promise.then(
    () => null,
    (err: unknown) => err,
  )
  expect(e, 'expected an InputError').toBeInstanceOf(InputError)
  return e as InputError
}

describe('detectStudyFiles', () => {
  it('real STS_001: CT/ and PET/ folders, the mask found in PET', async () => {
    const files = await detectStudyFiles(STS_001)
    expect(files).toEqual({
      layout: 'CT/ and PET/ folders',
      name: 'STS_001',
      ctPath: STS_001_CT,
      petPath: STS_001_PET,
      maskPath: STS_001_PET_MASK,
      tracer: 'unknown',
    })
  })

  it('STS_001 inside a parent folder named like a mask folder ("labels", "seg"): still found', async () => {
    // Only the part of a path below the study folder says whether an image is a mask.
    for (const parent of ['labels', 'seg', 'mask']) {
      const study = folderOf(`${parent}/STS_001`, { CT: join(STS_001, 'CT'), PET: join(STS_001, 'PET') })
      const files = await detectStudyFiles(study)
      expect(files.ctPath).toBe(join(study, 'CT', 'nifti', 'image', 'image.nii.gz'))
      expect(files.petPath).toBe(join(study, 'PET', 'nifti', 'image', 'image.nii.gz'))
      expect(files.maskPath).toBe(join(study, 'PET', 'nifti', 'mask', 'mask.nii.gz'))
    }
  })

  it('an autoPET study folder (CTres, SUV, SEG)', async () => {
    const dir = folderOf('autopet/PETCT_0011f3deaf', { 'CTres.nii.gz': STS_001_CT, 'SUV.nii.gz': STS_001_PET, 'SEG.nii.gz': STS_001_PET_MASK })
    expect(await detectStudyFiles(dir)).toEqual({
      layout: 'autoPET study folder',
      name: 'PETCT_0011f3deaf',
      ctPath: join(dir, 'CTres.nii.gz'),
      petPath: join(dir, 'SUV.nii.gz'),
      maskPath: join(dir, 'SEG.nii.gz'),
      tracer: 'unknown',
    })
  })

  it('an autoPET study folder without SEG: no mask', async () => {
    const dir = folderOf('autopet/fdg_nomask', { 'CTres.nii.gz': STS_001_CT, 'SUV.nii.gz': STS_001_PET })
    const files = await detectStudyFiles(dir)
    expect(files.maskPath).toBeUndefined()
    expect(files.tracer).toBe('FDG')
  })

  describe('nnU-Net imagesTr/labelsTr', () => {
    const caseName = 'psma_95b833d46f153cd2_2018-04-16'
    let images: string
    beforeAll(() => {
      images = folderOf('nnunet/Dataset221_autoPETIII/imagesTr', {
        [`${caseName}_0000.nii.gz`]: STS_001_CT,
        [`${caseName}_0001.nii.gz`]: STS_001_PET,
      })
      folderOf('nnunet/Dataset221_autoPETIII/labelsTr', { [`${caseName}.nii.gz`]: PSMA_LABEL })
    })

    it('the imagesTr folder holding one case: PSMA, label from labelsTr', async () => {
      expect(await detectStudyFiles(images)).toEqual({
        layout: 'nnU-Net case',
        name: caseName,
        ctPath: join(images, `${caseName}_0000.nii.gz`),
        petPath: join(images, `${caseName}_0001.nii.gz`),
        maskPath: join(tmp.dir, 'nnunet/Dataset221_autoPETIII/labelsTr', `${caseName}.nii.gz`),
        tracer: 'PSMA',
      })
    })

    it('either image of the pair opens the same case', async () => {
      const viaFolder = await detectStudyFiles(images)
      expect(await detectStudyFiles(join(images, `${caseName}_0000.nii.gz`))).toEqual(viaFolder)
      expect(await detectStudyFiles(join(images, `${caseName}_0001.nii.gz`))).toEqual(viaFolder)
    })

    it('an fdg_ case with its label beside the images', async () => {
      const dir = folderOf('nnunet/flat', {
        'fdg_0a1b2c3d_07-05-2002_0000.nii.gz': STS_001_CT,
        'fdg_0a1b2c3d_07-05-2002_0001.nii.gz': STS_001_PET,
        'fdg_0a1b2c3d_07-05-2002.nii.gz': STS_001_PET_MASK,
      })
      const files = await detectStudyFiles(dir)
      expect(files.tracer).toBe('FDG')
      expect(files.name).toBe('fdg_0a1b2c3d_07-05-2002')
      expect(files.maskPath).toBe(join(dir, 'fdg_0a1b2c3d_07-05-2002.nii.gz'))
    })

    it('an incomplete case (no _0001) is an InputError naming the missing image', async () => {
      const dir = folderOf('nnunet/incomplete', { 'fdg_x_0000.nii.gz': STS_001_CT })
      const e = await inputError(detectStudyFiles(dir))
      expect(e.message).toMatch(/_0001/)
    })
  })

  it('tracerFromName', () => {
    expect(tracerFromName('psma_abc')).toBe('PSMA')
    expect(tracerFromName('FDG_abc')).toBe('FDG')
    expect(tracerFromName('x-fdg-1')).toBe('FDG')
    expect(tracerFromName('fdgpsma')).toBe('unknown')
    expect(tracerFromName('STS_001')).toBe('unknown')
  })

  describe('errors', () => {
    it('a missing folder', async () => {
      const missing = join(tmp.dir, 'does-not-exist')
      const e = await inputError(detectStudyFiles(missing))
      expect(e.message).toContain(missing)
      expect(e.message).toMatch(/no such file or folder/)
    })

    it('an autoPET folder missing SUV', async () => {
      const dir = folderOf('autopet/no-suv', { 'CTres.nii.gz': STS_001_CT, 'SEG.nii.gz': STS_001_PET_MASK })
      const e = await inputError(detectStudyFiles(dir))
      expect(e.message).toContain(dir)
      expect(e.message).toMatch(/SUV\.nii\.gz is missing/)
    })

    it('an autoPET folder missing CTres', async () => {
      const dir = folderOf('autopet/no-ctres', { 'SUV.nii.gz': STS_001_PET })
      const e = await inputError(detectStudyFiles(dir))
      expect(e.message).toMatch(/CTres\.nii\.gz is missing/)
    })

    it('a folder with two nnU-Net cases', async () => {
      const dir = folderOf('nnunet/two-cases', {
        'psma_a_0000.nii.gz': STS_001_CT,
        'psma_a_0001.nii.gz': STS_001_PET,
        'fdg_b_0000.nii.gz': STS_001_CT,
        'fdg_b_0001.nii.gz': STS_001_PET,
      })
      const e = await inputError(detectStudyFiles(dir))
      expect(e.message).toContain(dir)
      expect(e.message).toMatch(/2 nnU-Net cases/)
    })

    it('a lone NIfTI file that is not an nnU-Net image', async () => {
      const e = await inputError(detectStudyFiles(STS_001_PET))
      expect(e.message).toContain(STS_001_PET)
      expect(e.message).toMatch(/single file is not a study/)
    })

    it('an empty folder, and CT/ + PET/ folders without images', async () => {
      const empty = folderOf('empty')
      expect((await inputError(detectStudyFiles(empty))).message).toMatch(/no study found/)
      const noImages = folderOf('no-images')
      folderOf('no-images/CT')
      folderOf('no-images/PET')
      writeFileSync(join(noImages, 'PET', 'notes.txt'), 'nothing here')
      expect((await inputError(detectStudyFiles(noImages))).message).toMatch(/no study found/)
    })
  })
})

describe('loadStudyFromFiles', () => {
  it('real STS_001: CT in HU, PET in SUVbw, the mask on the PET grid', async () => {
    const files = await detectStudyFiles(STS_001)
    const [study, ctRef, petRef, maskRef] = await Promise.all([
      loadStudyFromFiles(files),
      readNiftiFile(STS_001_CT),
      readNiftiFile(STS_001_PET),
      readNiftiFile(STS_001_PET_MASK),
    ])
    const { info } = study
    expect(info.name).toBe('STS_001')
    expect(info.layout).toBe('CT/ and PET/ folders')
    expect(info.ct).toMatchObject({ role: 'ct', modality: 'CT', unit: 'HU', voxelType: 'float32', source: STS_001_CT })
    expect(info.pet).toMatchObject({ role: 'pet', modality: 'PT', unit: 'SUVbw', voxelType: 'float32', source: STS_001_PET })
    expect(info.ct!.geometry.dims).toEqual([198, 202, 59])
    expect(info.pet.geometry.dims).toEqual([41, 43, 59])
    expect(info.ct!.valueRange[0]).toBeLessThan(-500) // air in HU
    expect(info.pet.valueRange[0]).toBeGreaterThanOrEqual(0)
    expect(info.pet.valueRange[1]).toBeGreaterThan(1) // SUV of a sarcoma
    expect(info.pet.valueRange[1]).toBeLessThan(100)
    expect(info.masks).toHaveLength(1)
    const mask = info.masks[0]
    expect(mask).toMatchObject({ role: 'mask', modality: 'SEG', unit: 'label', voxelType: 'uint8', source: STS_001_PET_MASK, valueRange: [0, 1] })
    expect(sameGrid(mask.geometry, info.pet.geometry, 0)).toBe(true)
    expect(info.warnings).toEqual([])

    // The voxels held are what the files hold; ids are unique and index the volumes map.
    const ids = [info.ct!.id, info.pet.id, mask.id]
    expect(new Set(ids).size).toBe(3)
    expect(ids.every((id) => id.startsWith(info.id))).toBe(true)
    expect(bytesOf(study.volumes.get(info.ct!.id)!.voxels).equals(bytesOf(ctRef.voxels))).toBe(true)
    expect(bytesOf(study.volumes.get(info.pet.id)!.voxels).equals(bytesOf(petRef.voxels))).toBe(true)
    expect(bytesOf(study.volumes.get(mask.id)!.voxels).equals(bytesOf(maskRef.voxels))).toBe(true)
    expect(study.source).toEqual({ kind: 'files', files })
  })

  it('a CT and a PET that do not overlap in space: InputError "do not overlap"', async () => {
    const pet = await readNiftiFile(STS_001_PET)
    const ct = await readNiftiFile(STS_001_CT)
    const ctBounds = worldBoundsLps(ct.geometry)
    // Move the PET 500 mm towards the head: far beyond the CT's z extent.
    const shifted: VolumeGeometry = { ...pet.geometry, originLps: [pet.geometry.originLps[0], pet.geometry.originLps[1], ctBounds.max[2] + 500] }
    const petPath = join(tmp.dir, 'shifted-pet.nii.gz')
    await writeNiftiFile(petPath, shifted, pet.voxels)
    const files: StudyFiles = { layout: 'CT + PET files', name: 'shifted', ctPath: STS_001_CT, petPath, tracer: 'unknown' }
    const e = await inputError(loadStudyFromFiles(files))
    expect(e.message).toContain('do not overlap')
    expect(e.message).toContain(petPath)
    expect(e.message).toMatch(/along the S axis/)

    // The same PET moved by only 10 mm still overlaps: accepted.
    const nudged: VolumeGeometry = { ...pet.geometry, originLps: [pet.geometry.originLps[0], pet.geometry.originLps[1], pet.geometry.originLps[2] + 10] }
    const nudgedPath = join(tmp.dir, 'nudged-pet.nii.gz')
    await writeNiftiFile(nudgedPath, nudged, pet.voxels)
    const ok = await loadStudyFromFiles({ ...files, petPath: nudgedPath })
    expect(ok.info.pet.geometry.originLps[2]).toBeCloseTo(pet.geometry.originLps[2] + 10, 3)
  })

  it('a mask on the wrong grid (the CT mask with the PET): InputError naming the mask', async () => {
    const files: StudyFiles = { layout: 'CT + PET files', name: 'wrong-grid', ctPath: STS_001_CT, petPath: STS_001_PET, maskPath: STS_001_CT_MASK, tracer: 'unknown' }
    const e = await inputError(loadStudyFromFiles(files))
    expect(e.message).toContain(STS_001_CT_MASK)
    expect(e.message).toMatch(/not the PET grid/)
  })

  it('a mask that is not a label map (the PET as the mask): InputError', async () => {
    const files: StudyFiles = { layout: 'CT + PET files', name: 'pet-as-mask', ctPath: STS_001_CT, petPath: STS_001_PET, maskPath: STS_001_PET, tracer: 'unknown' }
    const e = await inputError(loadStudyFromFiles(files))
    expect(e.message).toMatch(/not a label map/)
  })

  it('a missing or broken image file: InputError naming it', async () => {
    const broken = join(tmp.dir, 'broken.nii.gz')
    writeFileSync(broken, 'not a nifti file at all')
    const files: StudyFiles = { layout: 'CT + PET files', name: 'broken', ctPath: STS_001_CT, petPath: broken, tracer: 'unknown' }
    expect((await inputError(loadStudyFromFiles(files))).message).toContain(broken)
  })
})
