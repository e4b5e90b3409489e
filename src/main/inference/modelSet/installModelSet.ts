import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { InputError } from '../../io/InputError'
import { modelSetId } from '../../../shared/modelSetId'
import type { ModelSetManifest } from './manifest'
import { readModelSet, type InstalledModelSet } from './modelSetRegistry'

export { modelSetId }

/**
 * Creates a model set folder atomically: `fill` writes the fold files into a temporary folder and
 * returns the manifest, which is written last; the folder is then renamed into place. A failure or a
 * cancel while filling removes the temporary folder, so no half set is ever listed; an existing set is
 * never replaced.
 */
export async function installModelSet(root: string, name: string, fill: (tempDir: string) => Promise<ModelSetManifest>): Promise<InstalledModelSet> {
  const id = modelSetId(name)
  const finalDir = join(root, id)
  if (await stat(finalDir).catch(() => null)) throw new InputError(finalDir, 'a model set with this name exists already; choose another name')
  await removeStaleTempFolders(root)
  const tempDir = join(root, `.${id}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`)
  await mkdir(tempDir, { recursive: true })
  let manifest: ModelSetManifest
  try {
    manifest = await fill(tempDir)
    await writeFile(join(tempDir, 'model.json'), JSON.stringify(manifest, null, 2))
  } catch (e) {
    await rm(tempDir, { recursive: true, force: true })
    throw e
  }
  // The folder now holds a complete set (perhaps hours of training): never delete it from here on. If
  // the name was taken meanwhile, the next free one is used.
  for (let n = 1; n < 100; n++) {
    const candidateId = n === 1 ? id : `${id}-${n}`
    const candidate = join(root, candidateId)
    if (await stat(candidate).catch(() => null)) continue
    try {
      await rename(tempDir, candidate)
      return readModelSet(candidate, candidateId, 'user')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' && (e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') {
        throw new InputError(tempDir, `the finished model set could not be moved into place (${(e as Error).message}); it is kept in this folder, rename it yourself`)
      }
    }
  }
  throw new InputError(tempDir, 'no free name for the finished model set; it is kept in this folder, rename it yourself')
}

const TEMP_SUFFIX = '.tmp'
const STALE_AFTER_MS = 24 * 3600 * 1000

/**
 * Temporary folders older than a day were left by a crash or a killed process mid-write (a set being
 * written by a live run is younger): they are never usable, and can be large.
 */
async function removeStaleTempFolders(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith('.') || !name.endsWith(TEMP_SUFFIX)) continue
    const info = await stat(join(root, name)).catch(() => null)
    if (info?.isDirectory() && Date.now() - info.mtimeMs > STALE_AFTER_MS) await rm(join(root, name), { recursive: true, force: true })
  }
}
