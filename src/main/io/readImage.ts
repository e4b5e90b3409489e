import type { VolumeGeometry } from '../../shared/geometry'
import type { VoxelArray } from '../../shared/volume'
import { InputError } from './InputError'
import { readNiftiFile, type NiftiImage } from './nifti/readNifti'
import { writeNiftiFile } from './nifti/writeNifti'
import { itkExtension, readItkImageFile } from './itk/readItkImage'
import { writeMhaFile, writeNrrdFile } from './itk/writeItkImage'

/** A volume read from a file: LPS geometry, shared voxels, what the reader had to assume, a description. */
export type ImageFileContents = NiftiImage

export const READABLE_IMAGE_EXTENSIONS = ['.nii', '.nii.gz', '.mha', '.mhd', '.nrrd', '.nhdr'] as const
export const WRITABLE_IMAGE_EXTENSIONS = ['.nii', '.nii.gz', '.mha', '.nrrd'] as const

export interface WriteImageOptions {
  /** NIfTI header description. */
  description?: string
  /** MHA/NRRD: zlib-compress the voxels (default true). NIfTI compression follows the .gz extension. */
  compress?: boolean
  /** Files never to replace (the study's inputs). */
  protectedPaths?: Iterable<string>
}

/** Read a 3-D image by extension: NIfTI with our own reader (faster), MetaImage and NRRD through itk-wasm. */
export function readImageFile(filePath: string): Promise<ImageFileContents> {
  const lower = filePath.toLowerCase()
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return readNiftiFile(filePath)
  if (itkExtension(filePath)) return readItkImageFile(filePath)
  return Promise.reject(
    new InputError(filePath, `unsupported image format; LesionLab reads ${READABLE_IMAGE_EXTENSIONS.join(', ')}`),
  )
}

/** Write a 3-D image atomically, the format chosen by extension. */
export function writeImageFile(
  filePath: string,
  geometry: VolumeGeometry,
  voxels: VoxelArray,
  options: WriteImageOptions = {},
): Promise<void> {
  const lower = filePath.toLowerCase()
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    return writeNiftiFile(filePath, geometry, voxels, { description: options.description, protectedPaths: options.protectedPaths })
  }
  if (lower.endsWith('.mha')) return writeMhaFile(filePath, geometry, voxels, options)
  if (lower.endsWith('.nrrd')) return writeNrrdFile(filePath, geometry, voxels, options)
  return Promise.reject(
    new InputError(filePath, `cannot write this format; LesionLab writes ${WRITABLE_IMAGE_EXTENSIONS.join(', ')}`),
  )
}
