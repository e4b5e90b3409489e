import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { InputError } from '../../io/InputError'
import type { ModelSetManifest } from './manifest'
import { readModelSet, type InstalledModelSet } from './modelSetRegistry'

/** The folder name of a model set called `name`. */
export function modelSetId(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'model-set'
}

/**
 * Creates a model set folder atomically: `fill` writes the fold files into a temporary folder and
 * returns the manifest, which is written last; the folder is then renamed into place. A failure or a
 * cancel removes the temporary folder, so no half set is ever listed, and an existing set is never
 * replaced.
 */
export async function installModelSet(root: string, name: string, fill: (tempDir: string) => Promise<ModelSetManifest>): Promise<InstalledModelSet> {
  const id = modelSetId(name)
  const finalDir = join(root, id)
  if (await stat(finalDir).catch(() => null)) throw new InputError(finalDir, 'a model set with this name exists already; choose another name')
  const tempDir = join(root, `.${id}.${randomBytes(4).toString('hex')}.tmp`)
  await mkdir(tempDir, { recursive: true })
  try {
    const manifest = await fill(tempDir)
    await writeFile(join(tempDir, 'model.json'), JSON.stringify(manifest, null, 2))
    await rename(tempDir, finalDir)
    return readModelSet(finalDir, id, 'user')
  } catch (e) {
    await rm(tempDir, { recursive: true, force: true })
    throw e
  }
}
