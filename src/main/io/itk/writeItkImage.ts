import { replaceFileAtomically } from '../atomicWrite'
import { resolve } from 'node:path'
import { voxelCount, type VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray } from '../../../shared/volume'
import { itkImageFrom } from './itkImage'
import { runItk } from './itkWorker'

export interface WriteItkOptions {
  /** zlib-compress the voxel data (MHA CompressedData, NRRD gzip encoding). Default true: masks shrink a hundredfold. */
  compress?: boolean
  /** Files never to replace (the study's inputs). */
  protectedPaths?: Iterable<string>
  /** false: refuse to replace an existing file. */
  overwrite?: boolean
  /** Give up after this long (default: 60 s plus 1 s per 5 MB of voxels). */
  timeoutMs?: number
}

/** Write a single-file MetaImage (.mha, the autoPET container format) atomically. */
export function writeMhaFile(filePath: string, geometry: VolumeGeometry, voxels: VoxelArray, options: WriteItkOptions = {}): Promise<void> {
  return writeViaItk(filePath, geometry, voxels, '.mha', options)
}

/** Write a single-file NRRD (.nrrd, LPS space) atomically. */
export function writeNrrdFile(filePath: string, geometry: VolumeGeometry, voxels: VoxelArray, options: WriteItkOptions = {}): Promise<void> {
  return writeViaItk(filePath, geometry, voxels, '.nrrd', options)
}

/**
 * itk-wasm writes only to a path, so the same guarantee as writeFileAtomic comes from writing a temporary
 * file beside the target (its extension picks the format), fsync, then rename over the target.
 */
async function writeViaItk(
  filePath: string,
  geometry: VolumeGeometry,
  voxels: VoxelArray,
  ext: '.mha' | '.nrrd',
  options: WriteItkOptions,
): Promise<void> {
  if (voxels.length !== voxelCount(geometry)) {
    throw new Error(`${filePath}: ${voxels.length} voxels for a ${geometry.dims.join(' x ')} grid`)
  }
  const target = resolve(filePath)
  const timeoutMs = options.timeoutMs ?? 60_000 + voxels.byteLength / 5_000
  await replaceFileAtomically(
    target,
    async (temp) => {
      try {
        await runItk({ op: 'write', path: temp, image: itkImageFrom(geometry, voxels), compress: options.compress ?? true }, timeoutMs)
      } catch (e) {
        throw new Error(`${filePath}: could not write the image (${(e as Error).message})`)
      }
    },
    { protectedPaths: options.protectedPaths, overwrite: options.overwrite, tempSuffix: ext },
  )
}
