import { gzip } from 'node:zlib'
import { promisify } from 'node:util'
import type { VolumeGeometry } from '../../../shared/geometry'
import { voxelTypeOf, type VoxelArray } from '../../../shared/volume'
import { writeFileAtomic } from '../atomicWrite'
import { quaternionFromRotation, rasAffineFromGeometry } from './niftiAffine'

const gzipAsync = promisify(gzip)

const DATATYPE_CODE = { uint8: 2, int8: 256, int16: 4, uint16: 512, int32: 8, float32: 16 } as const
const BITPIX = { uint8: 8, int8: 8, int16: 16, uint16: 16, int32: 32, float32: 32 } as const

/**
 * Encode a NIfTI-1 single file (.nii) with both sform and qform set to the same affine (code 1,
 * scanner). nifti-reader-js only reads, so the 348-byte header is written here by hand.
 */
export function encodeNifti(geometry: VolumeGeometry, voxels: VoxelArray, description = 'LesionLab'): Uint8Array {
  const type = voxelTypeOf(voxels)
  const header = new ArrayBuffer(352)
  const v = new DataView(header)
  const le = true
  v.setInt32(0, 348, le) // sizeof_hdr
  v.setUint8(38, 'r'.charCodeAt(0)) // regular
  const dims = [3, ...geometry.dims, 1, 1, 1, 1]
  dims.forEach((d, i) => v.setInt16(40 + 2 * i, d, le))
  v.setInt16(70, DATATYPE_CODE[type], le)
  v.setInt16(72, BITPIX[type], le)

  const affine = rasAffineFromGeometry(geometry)
  const rasDirection = [0, 1, 2].map((r) => [0, 1, 2].map((c) => affine[r][c] / geometry.spacingMm[c]))
  const q = quaternionFromRotation(rasDirection)
  const pixdim = [q.qfac, ...geometry.spacingMm, 0, 0, 0, 0]
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le))
  v.setFloat32(108, 352, le) // vox_offset
  v.setFloat32(112, 1, le) // scl_slope
  v.setFloat32(116, 0, le) // scl_inter
  v.setUint8(123, 2 | 8) // xyzt_units: mm, s
  const descr = new TextEncoder().encode(description.slice(0, 79))
  new Uint8Array(header, 148, 80).set(descr)
  v.setInt16(252, 1, le) // qform_code: scanner
  v.setInt16(254, 1, le) // sform_code: scanner
  v.setFloat32(256, q.b, le)
  v.setFloat32(260, q.c, le)
  v.setFloat32(264, q.d, le)
  v.setFloat32(268, affine[0][3], le)
  v.setFloat32(272, affine[1][3], le)
  v.setFloat32(276, affine[2][3], le)
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, affine[r][c], le)
  new Uint8Array(header, 344, 4).set([0x6e, 0x2b, 0x31, 0x00]) // "n+1\0"

  const out = new Uint8Array(352 + voxels.byteLength)
  out.set(new Uint8Array(header), 0)
  out.set(new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength), 352)
  return out
}

/** Write .nii or .nii.gz (by extension) atomically. */
export async function writeNiftiFile(
  filePath: string,
  geometry: VolumeGeometry,
  voxels: VoxelArray,
  options: { description?: string; protectedPaths?: Iterable<string> } = {},
): Promise<void> {
  const encoded = encodeNifti(geometry, voxels, options.description)
  const bytes = filePath.endsWith('.gz') ? await gzipAsync(encoded, { level: 6 }) : encoded
  await writeFileAtomic(filePath, bytes, { protectedPaths: options.protectedPaths })
}
