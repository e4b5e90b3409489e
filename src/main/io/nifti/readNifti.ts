import { readFile } from 'node:fs/promises'
import { gunzip } from 'node:zlib'
import { promisify } from 'node:util'
import * as nifti from 'nifti-reader-js'
import type { Vec3, VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray, VoxelType } from '../../../shared/volume'
import { InputError } from '../InputError'
import { allocateVoxels, MAX_VOXELS } from '../../imaging/voxelBuffers'
import { geometryFromRasAffine, rasAffineOfHeader } from './niftiAffine'

const gunzipAsync = promisify(gunzip)

export interface NiftiImage {
  geometry: VolumeGeometry
  voxels: VoxelArray
  /** Things the reader had to fix or assume, phrased for the user. */
  warnings: string[]
  /** The header's description field (often names the modality or tool). */
  description: string
}

/** NIfTI datatype codes we read, and how their values are stored in memory. */
const DATATYPES: Record<number, { name: string; bytes: number; read: (v: DataView, o: number, le: boolean) => number; keep: VoxelType }> = {
  2: { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o), keep: 'uint8' },
  256: { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o), keep: 'int8' },
  4: { name: 'int16', bytes: 2, read: (v, o, le) => v.getInt16(o, le), keep: 'int16' },
  512: { name: 'uint16', bytes: 2, read: (v, o, le) => v.getUint16(o, le), keep: 'uint16' },
  8: { name: 'int32', bytes: 4, read: (v, o, le) => v.getInt32(o, le), keep: 'int32' },
  768: { name: 'uint32', bytes: 4, read: (v, o, le) => v.getUint32(o, le), keep: 'float32' },
  16: { name: 'float32', bytes: 4, read: (v, o, le) => v.getFloat32(o, le), keep: 'float32' },
  64: { name: 'float64', bytes: 8, read: (v, o, le) => v.getFloat64(o, le), keep: 'float32' },
}

/** Read a .nii or .nii.gz file into LPS geometry and voxels (scaled by scl_slope/scl_inter). */
export async function readNiftiFile(filePath: string): Promise<NiftiImage> {
  let raw: Buffer
  try {
    raw = await readFile(filePath)
  } catch (e) {
    throw new InputError(filePath, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  return parseNifti(filePath, raw)
}

export async function parseNifti(filePath: string, raw: Uint8Array): Promise<NiftiImage> {
  let bytes: Uint8Array = raw
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes)
    } catch (e) {
      throw new InputError(filePath, `the gzip stream is corrupt or truncated (${(e as Error).message})`)
    }
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  if (buffer.byteLength < 348 || !nifti.isNIFTI(buffer)) {
    throw new InputError(filePath, 'not a NIfTI file (no NIfTI-1/NIfTI-2 header found)')
  }
  let header: nifti.NIFTI1 | nifti.NIFTI2
  try {
    header = nifti.readHeader(buffer)
  } catch (e) {
    throw new InputError(filePath, `the NIfTI header is unreadable (${(e as Error).message})`)
  }
  return decodeNifti(filePath, header, buffer)
}

function decodeNifti(filePath: string, header: nifti.NIFTI1 | nifti.NIFTI2, buffer: ArrayBuffer): NiftiImage {
  const warnings: string[] = []
  const rank = header.dims[0]
  if (!(rank >= 2 && rank <= 7)) throw new InputError(filePath, `invalid number of dimensions (${rank})`)
  const dims: Vec3 = [header.dims[1], header.dims[2], rank >= 3 ? header.dims[3] : 1]
  if (dims.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InputError(filePath, `invalid image size ${dims.join(' x ')}`)
  }
  const extraVolumes = header.dims.slice(4, rank + 1).reduce((p, n) => p * Math.max(1, n), 1)
  if (extraVolumes > 1) {
    throw new InputError(filePath, `is a ${rank}-D series of ${extraVolumes} volumes; LesionLab needs a single 3-D volume`)
  }
  const count = dims[0] * dims[1] * dims[2]
  if (count > MAX_VOXELS) {
    throw new InputError(filePath, `image size ${dims.join(' x ')} (${count} voxels) is beyond what LesionLab can hold`)
  }
  const type = DATATYPES[header.datatypeCode]
  if (!type) {
    throw new InputError(filePath, `unsupported voxel type (NIfTI datatype code ${header.datatypeCode})`)
  }
  const offset = Math.max(0, Math.floor(header.vox_offset))
  const needed = offset + count * type.bytes
  if (buffer.byteLength < needed) {
    throw new InputError(filePath, `the file is truncated: ${buffer.byteLength} bytes of image data, ${needed} needed for ${dims.join(' x ')} ${type.name}`)
  }
  if (header.qform_code < 1 && header.sform_code < 1) {
    warnings.push(`${filePath}: no qform or sform in the header; orientation assumed from voxel sizes only`)
  }
  let geometry: VolumeGeometry
  try {
    // sform unless the qform has the higher code; the qform computed as nifti1_io.c does.
    geometry = geometryFromRasAffine(rasAffineOfHeader(header), dims)
  } catch (e) {
    throw new InputError(filePath, (e as Error).message)
  }
  if ([...geometry.spacingMm, ...geometry.originLps].some((v) => !Number.isFinite(v))) {
    throw new InputError(filePath, 'the header has non-finite spacing or origin')
  }

  const slope = header.scl_slope
  const inter = header.scl_inter
  const scaled = Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (inter === 0 || !Number.isFinite(inter)))
  const keep: VoxelType = scaled ? 'float32' : type.keep
  const voxels = allocateVoxels(keep, count)
  const view = new DataView(buffer, offset, count * type.bytes)
  const le = header.littleEndian
  const nativeCopy = !scaled && keep === type.name && le === isHostLittleEndian()
  if (nativeCopy) {
    // Fast path: same layout as memory, one copy.
    new Uint8Array(voxels.buffer).set(new Uint8Array(buffer, offset, count * type.bytes))
  } else {
    const b = scaled ? inter || 0 : 0
    const m = scaled ? slope : 1
    for (let i = 0, o = 0; i < count; i++, o += type.bytes) voxels[i] = type.read(view, o, le) * m + b
  }
  if (keep === 'float32') {
    const nonFinite = replaceNonFinite(voxels as Float32Array)
    if (nonFinite > 0) {
      warnings.push(`${filePath}: ${nonFinite} voxels were NaN or infinite and are shown as 0`)
    }
  }
  return { geometry, voxels, warnings, description: header.description ?? '' }
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

function isHostLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
}
