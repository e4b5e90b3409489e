import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { indexToWorld, sameGrid, worldToIndex, type VolumeGeometry } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { readDicomImageSeries, scanDicom, type DicomImageSeries } from '../../src/main/io/dicom'
import { readRtstructFile } from '../../src/main/io/dicom/rtstruct/readRtstruct'
import { fillPolygonsEvenOdd } from '../../src/main/io/dicom/rtstruct/fillPolygons'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { dataPath, makeTempDir } from './helpers/data'
import { dice } from './helpers/fixtures'

const STS = dataPath('mirp-sts-petct')
const RAW = dataPath('mirp-sts001-fdgpet-raw')

const tmp = makeTempDir('lesionlab-rtstruct-')
afterAll(() => tmp.cleanup())

async function readFolder(folder: string, modality: string): Promise<{ image: DicomImageSeries; rtstruct: string }> {
  const scan = await scanDicom([folder])
  const all = scan.studies.flatMap((s) => s.series)
  const series = all.find((s) => s.modality === modality)
  const rtstruct = all.find((s) => s.modality === 'RTSTRUCT')
  if (!series || !rtstruct) throw new Error(`no ${modality} + RTSTRUCT in ${folder}`)
  return { image: await readDicomImageSeries(series), rtstruct: rtstruct.files[0] }
}

function nonZero(a: ArrayLike<number>): number {
  let n = 0
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++
  return n
}


describe('fillPolygonsEvenOdd', () => {
  const fill = (polygons: number[][], nx: number, ny: number): Uint8Array => {
    const mask = new Uint8Array(nx * ny)
    fillPolygonsEvenOdd(polygons.map((p) => Float64Array.from(p)), nx, ny, (i) => mask[i]++)
    return mask
  }

  it('fills a square with a hole (even-odd across contours) and clips at the edges', () => {
    const outer = [1.5, 1.5, 8.5, 1.5, 8.5, 8.5, 1.5, 8.5] // centres 2..8: 7 x 7
    const hole = [3.5, 3.5, 6.5, 3.5, 6.5, 6.5, 3.5, 6.5] // centres 4..6: 3 x 3
    const mask = fill([outer, hole], 10, 10)
    expect(mask.reduce((n, v) => n + v, 0)).toBe(49 - 9)
    expect(Math.max(...mask)).toBe(1)
    expect(mask[5 + 10 * 5]).toBe(0)
    expect(mask[2 + 10 * 2]).toBe(1)
    // Beyond the grid: only the inside part is filled, nothing wraps.
    expect(fill([[-5.5, -5.5, 2.5, -5.5, 2.5, 2.5, -5.5, 2.5]], 10, 10).reduce((n, v) => n + v, 0)).toBe(9)
  })

  it('agrees with a point-in-polygon test at every pixel centre for random polygons', () => {
    let seed = 12345
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let trial = 0; trial < 50; trial++) {
      const polygons = Array.from({ length: 1 + (trial % 3) }, () => Array.from({ length: 2 * (3 + Math.floor(rnd() * 8)) }, () => rnd() * 24 - 2))
      const mask = fill(polygons, 20, 20)
      for (let j = 0; j < 20; j++) {
        for (let i = 0; i < 20; i++) {
          let inside = false
          for (const poly of polygons) {
            const n = poly.length / 2
            for (let a = 0, b = n - 1; a < n; b = a++) {
              const [xa, ya, xb, yb] = [poly[2 * a], poly[2 * a + 1], poly[2 * b], poly[2 * b + 1]]
              if (ya <= j !== yb <= j && i < xa + ((j - ya) * (xb - xa)) / (yb - ya)) inside = !inside
            }
          }
          expect(mask[i + 20 * j], `trial ${trial} pixel ${i},${j}`).toBe(inside ? 1 : 0)
        }
      }
    }
  })
})

describe('STS RTSTRUCTs (MIRP, uncropped references) on the cropped DICOM grids', () => {
  const cases = ['001', '002', '003'].flatMap((id) => (['PET', 'CT'] as const).map((modality) => [id, modality] as const))
  it.each(cases)('STS_%s %s agrees with the NIfTI mask (Dice >= 0.95)', async (id, modality) => {
    const { image, rtstruct } = await readFolder(join(STS, `STS_${id}`, modality, 'dicom'), modality === 'PET' ? 'PT' : 'CT')
    const mask = await readNiftiFile(join(STS, `STS_${id}`, modality, 'nifti', 'mask', 'mask.nii.gz'))
    // NIfTI axis 0 is the DICOM column axis, as ours: the grids must be the same before voxels compare.
    expect(sameGrid(mask.geometry, image.geometry, 0.01)).toBe(true)
    const result = await readRtstructFile(rtstruct, { geometry: image.geometry, frameOfReferenceUid: image.summary.frameOfReferenceUid })
    expect(result.rois).toHaveLength(1)
    expect(result.rois[0].name).toBe(`GTV_Mass_${modality}`)
    expect(result.warnings).toEqual([])
    const score = dice(result.labels, mask.voxels)
    console.info(`STS_${id} ${modality}: ${result.rois[0].voxelCount} voxels (NIfTI ${nonZero(mask.voxels)}), ${result.rois[0].contourCount} contours, Dice ${score.toFixed(4)}`)
    expect(score).toBeGreaterThanOrEqual(0.95)
  })
})

describe('STS_001 raw PET (128 x 128 x 267, uneven slices) with GTV_Mass and GTV_Edema', () => {
  it('reads both ROIs; the mass lies inside the edema and stays visible; it matches the cropped case', async () => {
    const { image, rtstruct } = await readFolder(RAW, 'PT')
    const target = { geometry: image.geometry, frameOfReferenceUid: image.summary.frameOfReferenceUid }
    const both = await readRtstructFile(rtstruct, target)
    expect(both.rois.map((r) => [r.number, r.roiNumber, r.name])).toEqual([[1, 1, 'GTV_Mass'], [2, 2, 'GTV_Edema']])
    const mass = await readRtstructFile(rtstruct, { ...target, roiNames: ['GTV_Mass'] })
    const edema = await readRtstructFile(rtstruct, { ...target, roiNames: ['gtv_edema'] })
    expect(mass.rois[0]).toMatchObject({ number: 1, roiNumber: 1, name: 'GTV_Mass', contourCount: 32 })
    expect(edema.rois[0]).toMatchObject({ number: 1, roiNumber: 2, name: 'GTV_Edema', contourCount: 43 })
    let inside = 0
    for (let v = 0; v < mass.labels.length; v++) if (mass.labels[v] && edema.labels[v]) inside++
    const massVoxels = mass.rois[0].voxelCount
    console.info(`raw PET: GTV_Mass ${massVoxels} voxels, GTV_Edema ${edema.rois[0].voxelCount}, mass inside edema ${((100 * inside) / massVoxels).toFixed(1)}%`)
    expect(inside / massVoxels).toBeGreaterThanOrEqual(0.9)
    expect(edema.rois[0].voxelCount).toBeGreaterThan(massVoxels)
    // Together: the smaller mass wins where they overlap, so it keeps every voxel.
    expect(both.rois[0].voxelCount).toBe(massVoxels)
    expect(both.rois[1].voxelCount).toBe(edema.rois[0].voxelCount - inside)
    expect(both.warnings).toEqual([`${inside} voxels belong to more than one ROI; each keeps the smallest ROI that contains it.`])

    // Same patient, same frame of reference: the mass on the raw grid is the mass of the cropped case.
    const cropped = await readNiftiFile(join(STS, 'STS_001', 'PET', 'nifti', 'mask', 'mask.nii.gz'))
    const [cx, cy, cz] = cropped.geometry.dims
    const onRaw = new Uint8Array(mass.labels.length)
    for (let k = 0; k < cz; k++) for (let j = 0; j < cy; j++) for (let i = 0; i < cx; i++) {
      if (!cropped.voxels[i + cx * (j + cy * k)]) continue
      const [ri, rj, rk] = worldToIndex(image.geometry, indexToWorld(cropped.geometry, [i, j, k])).map(Math.round)
      onRaw[ri + image.geometry.dims[0] * (rj + image.geometry.dims[1] * rk)] = 1
    }
    expect(dice(mass.labels, onRaw)).toBeGreaterThanOrEqual(0.99)
  })

  it('names the ROIs it has when asked for one it lacks', async () => {
    const { image, rtstruct } = await readFolder(RAW, 'PT')
    const error = await readRtstructFile(rtstruct, { geometry: image.geometry, roiNames: ['GTV_Node'] }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message).toContain('has no ROI named "GTV_Node" (it has "GTV_Mass", "GTV_Edema")')
  })
})

describe('RTSTRUCT placement and bad input', () => {
  const sts001Pet = join(STS, 'STS_001', 'PET', 'dicom')

  it('counts contours beyond the grid or between slices in warnings; refuses when none lands', async () => {
    const { image, rtstruct } = await readFolder(sts001Pet, 'PT')
    const g = image.geometry
    // Keep slices 0..29 only: the contours on slices 30..42 fall beyond the last one.
    const short: VolumeGeometry = { ...g, dims: [g.dims[0], g.dims[1], 30] }
    const partial = await readRtstructFile(rtstruct, { geometry: short })
    expect(partial.warnings).toEqual(['14 contour(s) of ROI "GTV_Mass_PET" were not placed: they lie beyond the first or last image slice.'])
    expect(partial.rois[0].contourCount).toBe(18)
    // A tenth of a slice off is still on the slice; half a slice is between slices.
    const nudged = await readRtstructFile(rtstruct, { geometry: { ...g, originLps: indexToWorld(g, [0, 0, 0.1]) } })
    expect(nudged.rois[0].contourCount).toBe(32)
    const between = await readRtstructFile(rtstruct, { geometry: { ...g, originLps: indexToWorld(g, [0, 0, 0.5]) } }).catch((e) => e)
    expect(between).toBeInstanceOf(InputError)
    expect(between.message).toMatch(/none of its 32 contours lies on a slice of the image grid/)
  })

  it('refuses a structure set of another frame of reference, naming both', async () => {
    const { image } = await readFolder(sts001Pet, 'PT')
    const other = join(STS, 'STS_002', 'PET', 'dicom', 'mask', 'RS.dcm')
    const error = await readRtstructFile(other, { geometry: image.geometry, frameOfReferenceUid: image.summary.frameOfReferenceUid }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message).toContain(other)
    expect(error.message).toContain('1.3.6.1.4.1.14519.5.2.1.5168.1900.114679355310645018817373178374')
    expect(error.message).toContain(image.summary.frameOfReferenceUid)
  })

  it.each([0.999, 0.7, 0.3, 0.02])('a copy cut at %s of its length is an InputError naming the file', async (fraction) => {
    const geometry: VolumeGeometry = { dims: [41, 43, 59], spacingMm: [4.6875, 4.6875, 3.27], originLps: [-21.09375, -86.71875, -881.3], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
    const bytes = readFileSync(join(sts001Pet, 'mask', 'RS.dcm'))
    const path = join(tmp.dir, `rs-${fraction}.dcm`)
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * fraction)))
    const error = await readRtstructFile(path, { geometry }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message.startsWith(`${path}: `)).toBe(true)
  })

  it('a SEG is not a structure set', async () => {
    const geometry: VolumeGeometry = { dims: [4, 4, 4], spacingMm: [1, 1, 1], originLps: [0, 0, 0], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
    const error = await readRtstructFile(dataPath('dcmqi-ct-seg-sr', 'liver.dcm'), { geometry }).catch((e) => e)
    expect(error).toBeInstanceOf(InputError)
    expect(error.message).toMatch(/is not an RT Structure Set \(SOP class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.66\.4, modality SEG\)/)
  })
})
