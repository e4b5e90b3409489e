import { mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { dirname, basename, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'

/**
 * Write a file so that a reader sees either the old content or the complete new one, never a torn
 * write: write a temporary file beside the target, fsync, then rename over it.
 * `protectedPaths` (the study's input files) are never replaced.
 */
export async function writeFileAtomic(
  filePath: string,
  data: Uint8Array,
  options: { protectedPaths?: Iterable<string>; overwrite?: boolean } = {},
): Promise<void> {
  const target = resolve(filePath)
  for (const p of options.protectedPaths ?? []) {
    if (resolve(p) === target) throw new Error(`${filePath}: refusing to overwrite an input file`)
  }
  if (options.overwrite === false && (await exists(filePath))) {
    throw new Error(`${filePath}: already exists; choose another name`)
  }
  await mkdir(dirname(filePath), { recursive: true })
  const temp = join(dirname(filePath), `.${basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (e) {
    await handle.close()
    await rm(temp, { force: true })
    throw e
  }
  await handle.close()
  try {
    await rename(temp, filePath)
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
