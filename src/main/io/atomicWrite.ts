import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { dirname, basename, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'

export interface AtomicWriteOptions {
  /** The study's input files: never replaced. */
  protectedPaths?: Iterable<string>
  /** false: refuse when the target exists. */
  overwrite?: boolean
  /** Suffix of the temporary file (some writers pick the format from the extension). */
  tempSuffix?: string
}

/**
 * Replace `filePath` so that a reader sees either the old content or the complete new one, never a
 * torn write: `produce` writes a temporary file beside the target, which is fsynced and renamed over it.
 */
export async function replaceFileAtomically(
  filePath: string,
  produce: (tempPath: string) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = resolve(filePath)
  for (const p of options.protectedPaths ?? []) {
    if (resolve(p) === target) throw new Error(`${filePath}: refusing to overwrite an input file`)
  }
  if (options.overwrite === false && (await exists(target))) {
    throw new Error(`${filePath}: already exists; choose another name`)
  }
  await mkdir(dirname(target), { recursive: true })
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp${options.tempSuffix ?? ''}`)
  try {
    await produce(temp)
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

/** `replaceFileAtomically` for bytes already in memory. */
export async function writeFileAtomic(filePath: string, data: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await replaceFileAtomically(
    filePath,
    async (temp) => {
      const handle = await open(temp, 'w')
      try {
        await handle.writeFile(data)
      } finally {
        await handle.close()
      }
    },
    options,
  )
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p)
    return true
  } catch {
    return false
  }
}
