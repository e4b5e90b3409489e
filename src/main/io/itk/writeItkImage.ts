import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
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
  for (const p of options.protectedPaths ?? []) {
    if (resolve(p) === target) throw new Error(`${filePath}: refusing to overwrite an input file`)
  }
  if (options.overwrite === false && (await exists(target))) {
    throw new Error(`${filePath}: already exists; choose another name`)
  }
  await mkdir(dirname(target), { recursive: true })
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp${ext}`)
  try {
    const timeoutMs = options.timeoutMs ?? 60_000 + voxels.byteLength / 5_000
    try {
      await runItk({ op: 'write', path: temp, image: itkImageFrom(geometry, voxels), compress: options.compress ?? true }, timeoutMs)
    } catch (e) {
      throw new Error(`${filePath}: could not write the image (${(e as Error).message})`)
    }
    const handle = await open(temp, 'r+')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (e) {
    await rm(temp, { force: true })
    throw e
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}
