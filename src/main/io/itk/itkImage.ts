import type { Mat3, Vec3, VolumeGeometry } from '../../../shared/geometry'
import { voxelTypeOf, type VoxelArray, type VoxelType } from '../../../shared/volume'
import { allocateVoxels, MAX_VOXELS } from '../../imaging/voxelBuffers'
import { InputError } from '../InputError'
import type { WireHeader, WireWriteImage } from './itkWorker'

/** itk-wasm component types we keep as they are. */
const KEPT = new Set<string>(['uint8', 'int8', 'uint16', 'int16', 'int32', 'float32'])
/** itk-wasm component types narrowed to float32, with the largest magnitude float32 holds exactly. */
const NARROWED = new Set<string>(['uint32', 'int64', 'uint64', 'float64'])
const FLOAT32_EXACT_INTEGER = 2 ** 24
const FLOAT32_MAX = 3.4028234663852886e38

/**
 * Check an itk-wasm header and turn it into our LPS geometry. ITK's world space is LPS already, and its
 * direction matrix (row-major in itk-wasm) has one column per voxel axis: column N = our axis N.
 * Throws InputError for anything LesionLab cannot hold: not scalar, not 2-D/3-D, degenerate axes.
 */
export function geometryFromItkHeader(filePath: string, h: WireHeader): { geometry: VolumeGeometry; warnings: string[] } {
  const warnings: string[] = []
  const n = h.dimension
  if (h.components !== 1) {
    throw new InputError(filePath, `has ${h.components} values per voxel (${h.pixelType} pixels); LesionLab needs one value per voxel`)
  }
  if (!(n >= 2 && n <= 4) || h.size.length !== n || h.spacing.length !== n || h.origin.length !== n || h.direction.length !== n * n) {
    throw new InputError(filePath, `is a ${n}-D image; LesionLab needs a 3-D volume (or a 2-D slice)`)
  }
  if (n === 4 && h.size[3] !== 1) {
    throw new InputError(filePath, `is a 4-D series of ${h.size[3]} volumes; LesionLab needs a single 3-D volume`)
  }
  const dims: Vec3 = [h.size[0], h.size[1], n >= 3 ? h.size[2] : 1]
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new InputError(filePath, `invalid image size ${dims.join(' x ')}`)
  }
  const count = dims[0] * dims[1] * dims[2]
  if (count > MAX_VOXELS) {
    throw new InputError(filePath, `image size ${dims.join(' x ')} (${count} voxels) is beyond what LesionLab can hold`)
  }

  const spacingMm: Vec3 = [1, 1, 1]
  const originLps: Vec3 = [0, 0, 0]
  const directionLps: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]
  let rescaled = false
  for (let axis = 0; axis < Math.min(n, 3); axis++) {
    originLps[axis] = h.origin[axis]
    const v: Vec3 = [0, 0, 0]
    for (let r = 0; r < Math.min(n, 3); r++) v[r] = h.direction[r * n + axis]
    const length = Math.hypot(...v)
    const s = h.spacing[axis]
    if (!Number.isFinite(s) || s === 0 || !Number.isFinite(length) || length < 1e-6) {
      throw new InputError(filePath, `the header has an invalid spacing or direction for axis ${axis} (spacing ${s})`)
    }
    // Keep world positions exactly: a negative spacing flips the axis, a non-unit direction moves into the spacing.
    const scale = Math.sign(s) / length
    if (Math.abs(length - 1) > 1e-6) rescaled = true
    spacingMm[axis] = Math.abs(s) * length
    for (let r = 0; r < 3; r++) directionLps[3 * axis + r] = v[r] * scale + 0 // + 0: no negative zeros
  }
  if ([...spacingMm, ...originLps].some((v) => !Number.isFinite(v))) {
    throw new InputError(filePath, 'the header has non-finite spacing or origin')
  }
  if (Math.abs(determinant(directionLps)) < 1e-6) {
    throw new InputError(filePath, 'the header has a singular direction matrix: the image axes are not independent')
  }
  if (rescaled) warnings.push(`${filePath}: the direction vectors were not unit length; their length was moved into the voxel spacing`)
  return { geometry: { dims, spacingMm, originLps, directionLps }, warnings }
}

/** Copy itk-wasm voxel data into a shared voxel array of one of our types, narrowing where needed. */
export function voxelsFromItk(
  filePath: string,
  componentType: string,
  data: ArrayLike<number | bigint>,
  count: number,
): { voxels: VoxelArray; warnings: string[] } {
  const warnings: string[] = []
  if (data.length !== count) {
    throw new InputError(filePath, `the image data holds ${data.length} values, ${count} expected`)
  }
  let voxels: VoxelArray
  if (KEPT.has(componentType)) {
    voxels = allocateVoxels(componentType as VoxelType, count)
    voxels.set(data as ArrayLike<number>)
  } else if (NARROWED.has(componentType)) {
    const out = allocateVoxels('float32', count) as Float32Array
    let inexact = 0
    if (componentType === 'float64') {
      const src = data as ArrayLike<number>
      for (let i = 0; i < count; i++) {
        const v = src[i]
        out[i] = v
        if (Math.abs(v) > FLOAT32_MAX) inexact++
      }
      if (inexact > 0) warnings.push(`${filePath}: ${inexact} float64 voxels are beyond the float32 range`)
    } else {
      for (let i = 0; i < count; i++) {
        const v = Number(data[i])
        out[i] = v
        if (Math.abs(v) > FLOAT32_EXACT_INTEGER && out[i] !== v) inexact++
      }
      if (inexact > 0) {
        warnings.push(`${filePath}: ${inexact} ${componentType} voxels could not be held exactly as float32 and were rounded`)
      }
    }
    voxels = out
  } else {
    throw new InputError(filePath, `unsupported voxel type ${componentType}`)
  }
  if (voxels instanceof Float32Array) {
    const nonFinite = replaceNonFinite(voxels)
    if (nonFinite > 0) warnings.push(`${filePath}: ${nonFinite} voxels were NaN or infinite and are shown as 0`)
  }
  return { voxels, warnings }
}

/** Our geometry and voxels as an itk-wasm image description (direction row-major, column N = axis N). */
export function itkImageFrom(geometry: VolumeGeometry, voxels: VoxelArray): WireWriteImage {
  const direction = new Array<number>(9)
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction[r * 3 + c] = geometry.directionLps[3 * c + r]
  return {
    componentType: voxelTypeOf(voxels),
    size: [...geometry.dims],
    spacing: [...geometry.spacingMm],
    origin: [...geometry.originLps],
    direction,
    data: voxels,
  }
}

function determinant(d: Mat3): number {
  // Rows are axes; the determinant of the transpose is the same.
  return d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6])
}

function replaceNonFinite(values: Float32Array): number {
  let n = 0
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      values[i] = 0
      n++
    }
  }
  return n
}
