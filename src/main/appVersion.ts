import { readFileSync } from 'node:fs'

/** The version from package.json, read once (works from source and from the bundled build). */
function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version
    } catch {
      // try the next location
    }
  }
  return '0.0.0'
}

export const APP_VERSION = readVersion()
