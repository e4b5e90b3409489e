import { readFile } from 'node:fs/promises'
import { InputError } from '../../io/InputError'

/** The whole file, or an InputError saying why it cannot be read. */
export async function readCheckpointBytes(filePath: string): Promise<Uint8Array> {
  try {
    return await readFile(filePath)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file'
      : code === 'EISDIR' ? 'is a folder, not a checkpoint file'
      : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
      : code === 'ERR_FS_FILE_TOO_LARGE' ? 'too large to read (over 2 GiB)'
      : `cannot read it (${code ?? (e as Error).message})`
    throw new InputError(filePath, why)
  }
}
