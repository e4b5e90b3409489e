import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * Where LesionLab keeps what the user made that is not an export: per-study settings now, the project
 * store later. LESIONLAB_DATA_DIR moves it (tests, portable installs).
 */
export function appDataDir(): string {
  return process.env.LESIONLAB_DATA_DIR ?? join(homedir(), '.lesionlab')
}
