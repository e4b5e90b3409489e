import { sameGrid, type VolumeGeometry } from '../../../shared/geometry'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InputError } from '../../io/InputError'
import { CT_OUTSIDE_HU } from '../../study/StudySession'
import { loadStudyFromFiles } from '../../study/loadStudy'
import { detectStudyFiles } from '../../study/studyLayout'
import { workerPool } from '../../workers/WorkerPool'
import { resampleTrilinear } from '../../imaging/resample/resampleTrilinear'
import type { VoxelArray } from '../../../shared/volume'
import { binaryLabel, type TrainingCaseSource } from './prepareTrainingCase'

/**
 * A study folder (any layout LesionLab opens: autoPET, nnU-Net, CT/ + PET/) with its lesion mask as a
 * training case; the CT is resampled onto the PET grid as for segmentation: in a worker, or right here
 * when the caller already is one (`inline`).
 */
export async function trainingSourceFromStudyFolder(path: string, options: { inline?: boolean } = {}): Promise<TrainingCaseSource> {
  const files = await detectStudyFiles(path)
  if (!files.maskPath) throw new InputError(path, 'has no lesion mask next to its images, so it cannot be a training case')
  const study = await loadStudyFromFiles(files)
  const ct = study.volumes.get(study.info.ct!.id)
  const pet = study.volumes.get(study.info.pet.id)!
  const mask = [...study.volumes.values()].find((v) => v.info.role === 'mask')
  if (!ct || !mask) throw new InputError(path, 'needs a CT, a PET and a mask')
  return {
    name: study.info.name,
    ctOnPetGrid: { geometry: pet.info.geometry, voxels: await ctOnGrid(ct, pet.info.geometry, options.inline ?? false) },
    pet: { geometry: pet.info.geometry, voxels: pet.voxels },
    label: binaryLabel(mask.voxels),
  }
}

async function ctOnGrid(ct: { info: { geometry: VolumeGeometry }; voxels: VoxelArray }, grid: VolumeGeometry, inline: boolean): Promise<Float32Array> {
  if (sameGrid(ct.info.geometry, grid, 0.01)) return Float32Array.from(ct.voxels)
  if (inline) return resampleTrilinear({ geometry: ct.info.geometry, voxels: ct.voxels }, grid, { outsideValue: CT_OUTSIDE_HU })
  return workerPool.run('resampleTrilinear', { source: { geometry: ct.info.geometry, voxels: ct.voxels as Float32Array }, target: grid, outsideValue: CT_OUTSIDE_HU })
}

/**
 * The study folders under `path`: `path` itself when it is a study, else every sub-folder that is one
 * (sorted by name, so runs are reproducible). Folders that are not studies are skipped.
 */
export async function findStudyFolders(path: string): Promise<string[]> {
  if (!(await stat(path).catch(() => null))?.isDirectory()) throw new InputError(path, 'is not a folder')
  if (await detectStudyFiles(path).then(() => true, () => false)) return [path]
  const found: string[] = []
  for (const name of (await readdir(path)).sort()) {
    const sub = join(path, name)
    if (!(await stat(sub).catch(() => null))?.isDirectory()) continue
    if (await detectStudyFiles(sub).then(() => true, () => false)) found.push(sub)
  }
  if (found.length === 0) throw new InputError(path, 'holds no study folders (CT + PET + mask in a layout LesionLab opens)')
  return found
}
