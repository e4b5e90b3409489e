/**
 * The method's preprocessing (method.md §2) and its inverse (§4), as a chain of small pure steps:
 *
 *   CT HU --clipScaleCt--> [0,1] --+
 *                                  +--cropForeground--orientRas--resampleIsotropic--> input (2 mm, RAS)
 *   PET SUV (untouched) -----------+
 *
 *   probabilities (2 mm, RAS) --resampleBack--unorient--uncrop(0)--> PET grid --argmaxToMask--> uint8 mask
 *
 * AXIS ORDER: what the network sees. MONAI's LoadImage (NibabelReader and ITKReader alike) indexes an
 * image as [x, y, z] = NIfTI/ITK voxel index (i, j, k), which is exactly our voxel index (i, j, k): our
 * geometry keeps the file's voxel axes. After Orientation('RAS') MONAI's array axis 0 increases towards
 * patient Right, 1 towards Anterior, 2 towards Superior, and ours too (`orientRas`). The network tensor
 * is [N, C, D, H, W] with D = axis 0 (R), H = axis 1 (A), W = axis 2 (S); C-contiguous, so W (our axis 2)
 * varies FASTEST in memory. Our volumes store axis 0 fastest (i + n0 * (j + n1 * k)), so a channel of
 * `input` read as a C-contiguous array is [W][H][D], the transpose of what the network expects: it
 * must never be handed to the network as is. The sliding-window patch extractor
 * (`slidingWindow/patch.ts`) transposes each window into [1, C, D, H, W] and transposes the logits
 * back; `volumeToNcdhw` does the same for a whole volume.
 *
 * `input` layout: channel-major, channel 0 = CT scaled to [0,1], channel 1 = PET SUV (§2.5); each
 * channel in our voxel order, element (c, i, j, k) at `c * n + i + n0 * (j + n1 * k)`, n = n0 * n1 * n2.
 */
import { sameGrid, voxelCount, type Vec3, type VolumeGeometry } from '../../../shared/geometry'
import { allocateVoxels } from '../../imaging/voxelBuffers'
import { clipScaleCt, petAsFloat32 } from './clipScaleCt'
import { cropGeometry, cropVolume, foregroundBox, uncropVolume, type CropRecord } from './cropForeground'
import {
  applyAxisTransform,
  axisCodes,
  inverseAxisTransform,
  isIdentity,
  rasOrientation,
  transformGeometry,
  type AxisTransform,
} from './orientRas'
import { planIsotropic, resampleBack, resampleIsotropic, TARGET_SPACING_MM, type ResampleRecord } from './resampleIsotropic'

/** A volume as the pipeline takes it. */
export interface GridImage {
  geometry: VolumeGeometry
  voxels: ArrayLike<number>
}

/** Everything needed to bring outputs on the network grid back onto the PET grid. */
export interface InversionRecord {
  /** The full PET grid the mask must land on. */
  petGeometry: VolumeGeometry
  /** §2.2: the foreground box on the PET grid. */
  crop: CropRecord
  croppedGeometry: VolumeGeometry
  /** Axis codes of the cropped grid before reorientation ('LAS' for a typical autoPET NIfTI). */
  axisCodesBefore: string
  /** §2.3: the permutation/flips applied to the cropped arrays. */
  orientation: AxisTransform
  orientedGeometry: VolumeGeometry
  /** §2.4: oriented grid -> 2 mm grid. */
  resample: ResampleRecord
  /** The 2 mm RAS grid of the network input. */
  inputGeometry: VolumeGeometry
}

export interface PreprocessedInput {
  /** [2, n0*n1*n2]: channel 0 CT in [0,1], channel 1 PET SUV; our voxel order (see the file comment). */
  input: Float32Array
  channels: 2
  /** n0, n1, n2 = the network's D, H, W. */
  dims: Vec3
  record: InversionRecord
}

/**
 * §2 in order: clip/scale the CT, crop both to CT > -1024 HU, reorient to RAS, resample to 2 mm.
 * `ct` must already be on the PET grid (CTres); `pet` in SUV.
 */
export function preprocessForInference(ct: GridImage, pet: GridImage, spacingMm = TARGET_SPACING_MM): PreprocessedInput {
  const grid = pet.geometry
  if (!sameGrid(ct.geometry, grid, 0.01)) {
    throw new Error('the CT must be resampled onto the PET grid (CTres) before preprocessing')
  }
  const n = voxelCount(grid)
  if (ct.voxels.length !== n || pet.voxels.length !== n) {
    throw new RangeError(`CT has ${ct.voxels.length} voxels, PET ${pet.voxels.length}, the grid ${n}`)
  }
  const scaledCt = clipScaleCt(ct.voxels)
  const box = foregroundBox(scaledCt, grid.dims)
  if (!box) throw new Error('the CT has no voxel above -1024 HU: no field of view to segment')
  const croppedGeometry = cropGeometry(grid, box)
  let ctVoxels = cropVolume(scaledCt, grid.dims, box)
  let petVoxels = cropVolume(petAsFloat32(pet.voxels), grid.dims, box)

  const orientation = rasOrientation(croppedGeometry)
  const orientedGeometry = transformGeometry(croppedGeometry, orientation)
  if (!isIdentity(orientation)) {
    ctVoxels = applyAxisTransform(ctVoxels, orientation)
    petVoxels = applyAxisTransform(petVoxels, orientation)
  }

  const { geometry: inputGeometry, record: resample } = planIsotropic(orientedGeometry, spacingMm)
  const m = voxelCount(inputGeometry)
  const input = allocateVoxels('float32', 2 * m) as Float32Array
  resampleIsotropic(ctVoxels, resample, input.subarray(0, m))
  resampleIsotropic(petVoxels, resample, input.subarray(m, 2 * m))
  return {
    input,
    channels: 2,
    dims: [...inputGeometry.dims],
    record: {
      petGeometry: grid,
      crop: { fullDims: [...grid.dims], box },
      croppedGeometry,
      axisCodesBefore: axisCodes(croppedGeometry),
      orientation,
      orientedGeometry,
      resample,
      inputGeometry,
    },
  }
}

/**
 * §4: per-channel maps on the network grid (channel-major, our voxel order; e.g. the ensemble's
 * sigmoid probabilities) back onto the full PET grid: trilinear back to the cropped size, undo the
 * reorientation, pad with `fill` (0, as MONAI's inverse crop pads) outside the crop box.
 */
export function invertToPetGrid(maps: Float32Array, record: InversionRecord, fill = 0): Float32Array[] {
  const m = voxelCount(record.inputGeometry)
  const channels = maps.length / m
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`${maps.length} values are not whole channels of ${m} voxels`)
  const undo = inverseAxisTransform(record.orientation)
  const out: Float32Array[] = []
  for (let c = 0; c < channels; c++) {
    let v = resampleBack(maps.subarray(c * m, (c + 1) * m), record.resample)
    if (!isIdentity(undo)) v = applyAxisTransform(v, undo)
    out.push(uncropVolume(v, record.crop, fill, allocateVoxels('float32', voxelCount(record.petGeometry)) as Float32Array))
  }
  return out
}

/**
 * §4: argmax over [background, lesion]; ties (the zero padding outside the crop included) and NaN go
 * to background, as torch.argmax picks the first of equal maxima.
 */
export function argmaxToMask(p0: Float32Array, p1: Float32Array): Uint8Array {
  if (p0.length !== p1.length) throw new RangeError(`channels differ in length (${p0.length}, ${p1.length})`)
  const out = allocateVoxels('uint8', p0.length) as Uint8Array
  for (let i = 0, n = p0.length; i < n; i++) out[i] = p1[i] > p0[i] ? 1 : 0
  return out
}
