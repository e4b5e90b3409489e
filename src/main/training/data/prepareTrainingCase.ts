import { sameGrid, voxelCount, type Vec3, type VolumeGeometry } from '../../../shared/geometry'
import { clipScaleCt, petAsFloat32 } from '../../inference/preprocess/clipScaleCt'
import { cropGeometry, cropVolume, foregroundBox } from '../../inference/preprocess/cropForeground'
import { applyAxisTransform, isIdentity, rasOrientation, transformGeometry } from '../../inference/preprocess/orientRas'
import { planIsotropic, resampleIsotropic, resampleIsotropicNearest } from '../../inference/preprocess/resampleIsotropic'

/** A case ready for patch sampling, on the network's grid. */
export interface TrainingCase {
  name: string
  /** [2, n] channel-major: CT scaled to [0, 1], PET SUV; our voxel order (axis 0 fastest). */
  image: Float32Array
  channels: 2
  /** RAS axes at the model set's spacing. */
  dims: Vec3
  /** 0/1 on the same grid. */
  label: Uint8Array
  /** Lesion voxels on the training grid (0 for a case without lesions). */
  lesionVoxels: number
}

export interface TrainingCaseSource {
  name: string
  /** CT in HU on exactly the PET grid. */
  ctOnPetGrid: { geometry: VolumeGeometry; voxels: ArrayLike<number> }
  /** PET in SUVbw. */
  pet: { geometry: VolumeGeometry; voxels: ArrayLike<number> }
  /** The (corrected) lesion mask on the PET grid. */
  label: Uint8Array
}

/**
 * method.md §5's training transforms before augmentation: crop to raw CT > 0 HU (the body's soft
 * tissue and bone, unlike inference's > -1024 HU), clip/scale the CT, reorient to RAS, resample to the
 * model set's isotropic spacing (trilinear for the images, nearest for the label).
 */
export function prepareTrainingCase(source: TrainingCaseSource, spacingMm: number): TrainingCase {
  const grid = source.pet.geometry
  if (!sameGrid(source.ctOnPetGrid.geometry, grid, 0.01)) throw new Error(`${source.name}: the CT must be on the PET grid`)
  const n = voxelCount(grid)
  for (const [what, length] of [['CT', source.ctOnPetGrid.voxels.length], ['PET', source.pet.voxels.length], ['label', source.label.length]] as const) {
    if (length !== n) throw new Error(`${source.name}: the ${what} has ${length} voxels, the PET grid ${n}`)
  }
  for (const [what, voxels] of [['CT', source.ctOnPetGrid.voxels], ['PET', source.pet.voxels]] as const) {
    const bad = countNonFinite(voxels)
    if (bad > 0) throw new Error(`${source.name}: the ${what} has ${bad} voxel(s) that are not numbers (NaN or infinite); fix the image before training on it`)
  }
  const box = foregroundBox(source.ctOnPetGrid.voxels, grid.dims, 0)
  if (!box) throw new Error(`${source.name}: no CT voxel above 0 HU, so no body to train on`)
  const croppedGeometry = cropGeometry(grid, box)
  let ct = cropVolume(clipScaleCt(source.ctOnPetGrid.voxels), grid.dims, box)
  let pet = cropVolume(petAsFloat32(source.pet.voxels), grid.dims, box)
  let label = cropVolume(Float32Array.from(source.label), grid.dims, box)

  const orientation = rasOrientation(croppedGeometry)
  const oriented = transformGeometry(croppedGeometry, orientation)
  if (!isIdentity(orientation)) {
    ct = applyAxisTransform(ct, orientation)
    pet = applyAxisTransform(pet, orientation)
    label = applyAxisTransform(label, orientation)
  }
  const { geometry, record } = planIsotropic(oriented, spacingMm)
  const m = voxelCount(geometry)
  const image = new Float32Array(2 * m)
  resampleIsotropic(ct, record, image.subarray(0, m))
  resampleIsotropic(pet, record, image.subarray(m))
  const labelOut = resampleIsotropicNearest(Uint8Array.from(label), record)
  let lesionVoxels = 0
  for (let i = 0; i < m; i++) lesionVoxels += labelOut[i]
  return { name: source.name, image, channels: 2, dims: [...geometry.dims], label: labelOut, lesionVoxels }
}

/** Any nonzero label is lesion (multi-label masks are merged). */
export function binaryLabel(voxels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(voxels.length)
  for (let i = 0; i < voxels.length; i++) out[i] = voxels[i] > 0 ? 1 : 0
  return out
}

function countNonFinite(voxels: ArrayLike<number>): number {
  let bad = 0
  for (let i = 0; i < voxels.length; i++) if (!Number.isFinite(voxels[i])) bad++
  return bad
}
