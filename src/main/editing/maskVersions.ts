import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { deflate, inflate } from 'node:zlib'
import type { Vec3 } from '../../shared/geometry'
import { writeFileAtomic } from '../io/atomicWrite'
import { InputError } from '../io/InputError'
import { maskChecksum } from './journal'

const deflateAsync = promisify(deflate)
const inflateAsync = promisify(inflate)

/**
 * Saved versions of a working mask, `v0001.mask`, `v0002.mask`, ... in one folder; a version is never
 * overwritten. File: 'LLM1' | u32 JSON header byte length | JSON header | zlib deflate of the mask bytes.
 */
export interface MaskVersionHeader {
  format: 'lesionlab-mask'
  formatVersion: 1
  version: number
  dims: Vec3
  /** crc32 of the uncompressed mask bytes; also the journal's base identity. */
  checksum: number
  savedAt: string
  /** Caller's metadata: geometry, who saved, the model set the mask came from, ... */
  meta: Record<string, unknown>
}

export interface MaskVersionEntry {
  version: number
  path: string
}

const MAGIC = 'LLM1'
const NAME = /^v(\d{4,})\.mask$/
/** Attempts when another writer takes the number we picked. */
const MAX_NUMBER_RACES = 16

export function maskVersionPath(dir: string, version: number): string {
  return join(dir, `v${String(version).padStart(4, '0')}.mask`)
}

/** Saved versions in `dir`, oldest first (empty when the folder does not exist). */
export async function listMaskVersions(dir: string): Promise<MaskVersionEntry[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const out: MaskVersionEntry[] = []
  for (const name of names) {
    const m = NAME.exec(name)
    if (m) out.push({ version: Number(m[1]), path: join(dir, name) })
  }
  return out.sort((a, b) => a.version - b.version)
}

/**
 * Write `mask` as the next version: one past the highest number present, whatever that file holds.
 * An existing file is never replaced; if one appears under the chosen number meanwhile, the next number
 * is taken.
 */
export async function saveMaskVersion(
  dir: string,
  mask: Uint8Array,
  dims: Vec3,
  meta: Record<string, unknown> = {},
): Promise<{ version: number; path: string; checksum: number }> {
  if (mask.length !== dims[0] * dims[1] * dims[2]) throw new RangeError(`mask has ${mask.length} voxels; the grid ${dims.join('x')} has ${dims[0] * dims[1] * dims[2]}`)
  const checksum = maskChecksum(mask)
  const compressed = await deflateAsync(mask, { level: 6 })
  const existing = await listMaskVersions(dir)
  let version = (existing.at(-1)?.version ?? 0) + 1
  for (let attempt = 0; ; attempt++, version++) {
    const header: MaskVersionHeader = {
      format: 'lesionlab-mask',
      formatVersion: 1,
      version,
      dims: [dims[0], dims[1], dims[2]],
      checksum,
      savedAt: new Date().toISOString(),
      meta,
    }
    const json = Buffer.from(JSON.stringify(header), 'utf8')
    const head = Buffer.alloc(8)
    head.write(MAGIC, 0, 'ascii')
    head.writeUInt32LE(json.length, 4)
    const path = maskVersionPath(dir, version)
    try {
      await writeFileAtomic(path, Buffer.concat([head, json, compressed]), { overwrite: false })
      return { version, path, checksum }
    } catch (e) {
      if (attempt + 1 >= MAX_NUMBER_RACES || !/already exists/.test(String((e as Error).message))) throw e
    }
  }
}

/** The header of a saved version (reads and checks the file's framing, not the voxels). */
export async function readMaskVersionHeader(dir: string, version: number): Promise<MaskVersionHeader> {
  const path = maskVersionPath(dir, version)
  return parse(path, await readFile(path)).header
}

/** A saved version's voxels, checked against its checksum. */
export async function loadMaskVersion(dir: string, version: number): Promise<{ mask: Uint8Array; header: MaskVersionHeader }> {
  const path = maskVersionPath(dir, version)
  const { header, body } = parse(path, await readFile(path))
  let raw: Buffer
  try {
    raw = await inflateAsync(body)
  } catch (e) {
    throw new InputError(path, `mask data is corrupt (${(e as Error).message})`)
  }
  const mask = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  const n = header.dims[0] * header.dims[1] * header.dims[2]
  if (mask.length !== n) throw new InputError(path, `mask holds ${mask.length} voxels; its grid ${header.dims.join('x')} has ${n}`)
  if (maskChecksum(mask) !== header.checksum) throw new InputError(path, 'mask data does not match its checksum')
  return { mask, header }
}

function parse(path: string, file: Buffer): { header: MaskVersionHeader; body: Buffer } {
  if (file.length < 8 || file.toString('ascii', 0, 4) !== MAGIC) throw new InputError(path, 'not a LesionLab mask version (bad magic)')
  const jsonLength = file.readUInt32LE(4)
  if (8 + jsonLength > file.length) throw new InputError(path, 'mask version header is truncated')
  let header: MaskVersionHeader
  try {
    header = JSON.parse(file.toString('utf8', 8, 8 + jsonLength)) as MaskVersionHeader
  } catch {
    throw new InputError(path, 'mask version header is not valid JSON')
  }
  if (header.format !== 'lesionlab-mask' || header.formatVersion !== 1 || !Array.isArray(header.dims) || header.dims.length !== 3) {
    throw new InputError(path, 'mask version header is not a supported LesionLab mask (format/version/dims)')
  }
  return { header, body: file.subarray(8 + jsonLength) }
}
