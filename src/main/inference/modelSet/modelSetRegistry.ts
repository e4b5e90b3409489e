import { readdir, readFile, stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { appDataDir } from '../../store/appDataDir'
import { InputError } from '../../io/InputError'
import { modelSetManifestSchema, type ModelSetManifest } from './manifest'

export interface InstalledModelSet {
  /** Folder name, unique across locations (shipped sets first). */
  id: string
  dir: string
  location: 'shipped' | 'user'
  manifest?: ModelSetManifest
  /** Why the folder is not usable (bad manifest, missing fold file). */
  problem?: string
}

/** Where model sets live: the ones shipped in resources/models, and the user's own. */
export function modelSetLocations(): { shipped: string; user: string } {
  return {
    shipped: process.env.LESIONLAB_SHIPPED_MODELS ?? fileURLToPath(new URL('../../../../resources/models', import.meta.url)),
    user: join(appDataDir(), 'models'),
  }
}

/** Every folder with a model.json in the two locations; broken ones are listed with their problem. */
export async function listModelSets(): Promise<InstalledModelSet[]> {
  const { shipped, user } = modelSetLocations()
  const out: InstalledModelSet[] = []
  for (const [location, root] of [['shipped', shipped], ['user', user]] as const) {
    let names: string[] = []
    try {
      names = (await readdir(root)).sort()
    } catch {
      continue
    }
    for (const name of names) {
      // ".<id>.<random>.tmp": a set being written (or left by a crash mid-write), never a usable set.
      if (name.startsWith('.')) continue
      const dir = join(root, name)
      if (!(await stat(dir).catch(() => null))?.isDirectory()) continue
      if (!(await stat(join(dir, 'model.json')).catch(() => null))) continue
      out.push(await readModelSet(dir, name, location))
    }
  }
  return out
}

export async function readModelSet(dir: string, id: string, location: InstalledModelSet['location']): Promise<InstalledModelSet> {
  try {
    const parsed = modelSetManifestSchema.safeParse(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')))
    if (!parsed.success) {
      return { id, dir, location, problem: `model.json is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` }
    }
    for (const fold of parsed.data.folds) {
      if (!(await stat(join(dir, fold.file)).catch(() => null))) return { id, dir, location, manifest: parsed.data, problem: `fold file ${fold.file} is missing` }
    }
    return { id, dir, location, manifest: parsed.data }
  } catch (e) {
    return { id, dir, location, problem: `model.json cannot be read (${(e as Error).message})` }
  }
}

/** Check a fold file against its recorded checksum (a model must be exactly what was validated). */
export async function verifyFold(dir: string, file: string, sha256: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(join(dir, file)))
  const actual = createHash('sha256').update(bytes).digest('hex')
  if (actual !== sha256) throw new Error(`${join(dir, file)}: checksum mismatch (the file changed since the model set was made)`)
  return bytes
}

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** An installed, usable model set by id; otherwise an InputError that lists what is installed. */
export async function requireInstalledModelSet(id: string): Promise<InstalledModelSet & { manifest: ModelSetManifest }> {
  const sets = await listModelSets()
  const set = sets.find((s) => s.id === id)
  if (!set) throw new InputError(id, `no such model set (installed: ${sets.map((s) => s.id).join(', ') || 'none'})`)
  if (!set.manifest || set.problem) throw new InputError(set.dir, `the model set cannot be used: ${set.problem}`)
  return set as InstalledModelSet & { manifest: ModelSetManifest }
}
