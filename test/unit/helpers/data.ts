import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { VoxelArray } from '../../../src/shared/volume'

/** The repository root (this file is test/unit/helpers/data.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** The shared real-data folder, a sibling of the repository (read-only: copy before writing). */
export const DATA = resolve(REPO_ROOT, '../shared/data')

if (!existsSync(join(DATA, 'README.md'))) {
  throw new Error(`real test data not found at ${DATA} (expected shared/data beside the repository)`)
}

/** Absolute path of a file or folder under the data folder. */
export function dataPath(...parts: string[]): string {
  return join(DATA, ...parts)
}

export const STS_001 = dataPath('mirp-sts-petct', 'STS_001')
export const STS_001_CT = join(STS_001, 'CT', 'nifti', 'image', 'image.nii.gz')
export const STS_001_CT_MASK = join(STS_001, 'CT', 'nifti', 'mask', 'mask.nii.gz')
export const STS_001_PET = join(STS_001, 'PET', 'nifti', 'image', 'image.nii.gz')
export const STS_001_PET_MASK = join(STS_001, 'PET', 'nifti', 'mask', 'mask.nii.gz')
export const PSMA_LABEL = dataPath('autopet3-psma-labels', 'psma_95b833d46f153cd2_2018-04-16_GT-label.nii.gz')
export const FDG_LABEL = dataPath('autopet3-fdg-labels', 'fdg_test_case_resunet-ensemble-pred.nii.gz')

/** A fresh private folder under the OS temp dir; `cleanup` removes it. */
export function makeTempDir(prefix = 'lesionlab-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The bytes of a voxel array, for fast exact comparison (Buffer.equals) without vitest deep equality. */
export function bytesOf(v: VoxelArray | Float32Array): Buffer {
  return Buffer.from(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength)
}
