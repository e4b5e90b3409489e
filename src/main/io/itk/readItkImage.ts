import { open, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path'
import { InputError } from '../InputError'
import type { NiftiImage } from '../nifti/readNifti'
import { readHeaderFacts, type HeaderFacts } from './itkHeader'
import { geometryFromItkHeader, voxelsFromItk } from './itkImage'
import { ItkFailure, runItk, type WireImage } from './itkWorker'

/** The extensions this reader accepts (lower case). */
export const ITK_READ_EXTENSIONS = ['.mha', '.mhd', '.nrrd', '.nhdr'] as const
type ItkExtension = (typeof ITK_READ_EXTENSIONS)[number]

const FORMAT_NAME: Record<ItkExtension, string> = { '.mha': 'MetaImage', '.mhd': 'MetaImage', '.nrrd': 'NRRD', '.nhdr': 'NRRD' }

export interface ReadItkOptions {
  /** Give up after this long (default: 30 s plus 1 s per 5 MB of file or of decoded voxels, whichever is more). */
  timeoutMs?: number
}

/**
 * Read a MetaImage (.mha, .mhd + data file) or NRRD (.nrrd, .nhdr + data file) scalar image through
 * itk-wasm into LPS geometry and shared voxels. 2-D images become one-slice volumes; uint32, int64,
 * uint64 and float64 are narrowed to float32. Every failure is an InputError naming the file.
 */
export async function readItkImageFile(filePath: string, options: ReadItkOptions = {}): Promise<NiftiImage> {
  const ext = itkExtension(filePath)
  if (!ext) {
    throw new InputError(filePath, `not a MetaImage or NRRD file name (expected ${ITK_READ_EXTENSIONS.join(', ')})`)
  }
  const checked = await checkBeforeReading(filePath, ext)
  // Decoding time follows the larger of the stored and the decoded size (bounded by the checks above).
  const timeoutMs = options.timeoutMs ?? 30_000 + Math.max(checked.bytes, checked.facts.claimedBytes ?? 0) / 5_000
  const request = { op: 'read', path: resolve(filePath), checksum: checked.facts.checksum?.kind } as const
  const { image, log } = await runItk(request, timeoutMs).catch((e: unknown) => {
    if (e instanceof ItkFailure && e.kind === 'unavailable') throw new Error(`${filePath}: cannot be read: ${e.reason}`)
    throw new InputError(filePath, readFailureReason(e, FORMAT_NAME[ext]))
  })
  if (/Uncompress failed/i.test(log)) {
    // ITK's MetaImage reader prints this and returns the image anyway, zeros where data failed. It also
    // fails this way on attached data without CompressedDataSize (which its writer always includes).
    const { dataFile, checksum } = checked.facts
    const hint = dataFile === null && checksum?.trailerAt === null ? ' (or its header lacks CompressedDataSize, which the reader needs)' : ''
    throw new InputError(filePath, `the compressed image data is corrupt or truncated${hint}`)
  }
  if (!image) throw new InputError(filePath, `not a readable ${FORMAT_NAME[ext]} file`)
  await verifyChecksum(filePath, checked, image)
  const { geometry, warnings } = geometryFromItkHeader(filePath, image)
  const count = geometry.dims[0] * geometry.dims[1] * geometry.dims[2]
  const converted = voxelsFromItk(filePath, image.componentType, image.data, count)
  return {
    geometry,
    voxels: converted.voxels,
    warnings: [...warnings, ...converted.warnings],
    description: descriptionOf(image.metadata),
  }
}

/** The format extension of a path this reader handles (any case), else null. */
export function itkExtension(filePath: string): ItkExtension | null {
  const lower = filePath.toLowerCase()
  return ITK_READ_EXTENSIONS.find((e) => lower.endsWith(e)) ?? null
}

interface Checked {
  facts: HeaderFacts
  /** Bytes itk-wasm will read: the header file plus any data file. */
  bytes: number
  /** The file holding the voxel data and its size, when known. */
  dataPath: string | null
  dataBytes: number | null
}

/**
 * What can be said from the header text before itk-wasm reads the whole file: a missing or unreachable
 * data file (the common mistake), a series or vector image, and a size the file cannot hold (so a corrupt
 * header never makes ITK allocate gigabytes, nor return zeros).
 */
async function checkBeforeReading(filePath: string, ext: ItkExtension): Promise<Checked> {
  let size: number
  let head: string
  try {
    const s = await stat(filePath)
    if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' })
    size = s.size
    const handle = await open(filePath, 'r')
    try {
      const buffer = Buffer.alloc(Math.min(size, 65_536))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
      head = buffer.subarray(0, bytesRead).toString('latin1')
    } finally {
      await handle.close()
    }
  } catch (e) {
    throw new InputError(filePath, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  if (size === 0) throw new InputError(filePath, 'the file is empty')

  const facts = readHeaderFacts(head, ext)
  if (facts.expansion === 'unsupported') {
    throw new InputError(filePath, 'uses bzip2 encoding, which LesionLab cannot read; save it with gzip or raw encoding')
  }
  if (facts.channels > 1) {
    throw new InputError(filePath, `has ${facts.channels} values per voxel; LesionLab needs one value per voxel`)
  }
  if (facts.volumes > 1) {
    throw new InputError(filePath, `is a ${facts.sizes.length}-D series of ${facts.volumes} volumes; LesionLab needs a single 3-D volume`)
  }

  let dataBytes: number | null = null
  let dataPath: string | null = null
  if (facts.dataFile === null) {
    dataBytes = size
    dataPath = filePath
  } else if (facts.dataFile !== undefined) {
    const folder = dirname(resolve(filePath))
    dataPath = resolve(folder, facts.dataFile)
    const inside = relative(folder, dataPath)
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      // itk-wasm only mounts the header's folder.
      throw new InputError(filePath, `its data file "${facts.dataFile}" is outside the header's folder; place it beside ${basename(filePath)}`)
    }
    try {
      dataBytes = (await stat(dataPath)).size
    } catch {
      throw new InputError(filePath, `its data file "${facts.dataFile}" is missing (looked for ${dataPath})`)
    }
  }
  if (dataBytes !== null && facts.claimedBytes !== null) {
    const slack = facts.expansion > 1 ? 4_096 : 0
    if (facts.claimedBytes > dataBytes * facts.expansion + slack) {
      throw new InputError(
        filePath,
        `is truncated or corrupt: its header describes a ${facts.sizes.join(' x ')} image (${facts.claimedBytes} bytes), ` +
          `which ${dataBytes} bytes of data cannot hold`,
      )
    }
  }
  return { facts, bytes: size + (facts.dataFile ? dataBytes ?? 0 : 0), dataPath, dataBytes }
}

/**
 * Hold what ITK decoded against the compressed stream's own checksum: neither ITK reader checks it, and a
 * damaged stream otherwise comes back as an image with garbage in it. Where the trailer cannot be located
 * for sure (trailing bytes, several gzip members) the check stays silent rather than refuse a good file.
 */
async function verifyChecksum(filePath: string, checked: Checked, image: WireImage): Promise<void> {
  const expected = checked.facts.checksum
  const { dataPath, dataBytes } = checked
  if (!expected || image.checksum === undefined || dataPath === null || dataBytes === null) return
  let matches: boolean | null
  try {
    const handle = await open(dataPath, 'r')
    try {
      const read = async (at: number, length: number): Promise<Buffer> => {
        const b = Buffer.alloc(length)
        await handle.read(b, 0, length, at)
        return b
      }
      if (expected.kind === 'adler32') {
        const places = [expected.trailerAt, dataBytes - 4].filter((p): p is number => p !== null && p >= 0 && p + 4 <= dataBytes)
        matches = places.length === 0 ? null : false
        for (const at of places) if ((await read(at, 4)).readUInt32BE(0) === image.checksum) matches = true
      } else {
        const trailer = dataBytes >= 8 ? await read(dataBytes - 8, 8) : null
        // ISIZE is the member's length mod 2^32: if it differs, the last member is not the whole image.
        const whole = trailer !== null && trailer.readUInt32LE(4) === image.data.byteLength % 2 ** 32
        matches = whole ? trailer.readUInt32LE(0) === image.checksum : null
      }
    } finally {
      await handle.close()
    }
  } catch (e) {
    throw new InputError(filePath, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  if (matches === false) {
    throw new InputError(filePath, `the compressed image data is corrupt: its ${expected.kind} checksum does not match`)
  }
}

/** A short reason for the user from what itk-wasm threw and printed. */
function readFailureReason(e: unknown, format: string): string {
  if (!(e instanceof ItkFailure)) return `could not be read (${(e as Error)?.message ?? String(e)})`
  if (e.kind === 'timeout') return `reading ${e.reason}; the file may be corrupt`
  if (e.kind === 'crash') return `could not be read: ${e.reason}`
  const text = `${e.log}\n${e.reason}`
  const short = /data not read completely\s*ideal = (\d+) : actual = (\d+)/.exec(text)
  if (short) return `the file is truncated: ${short[2]} of ${short[1]} bytes of image data`
  if (/Cannot open data file/i.test(text)) return 'its data file cannot be opened'
  const description = /Description:\s*(.+)/.exec(text)?.[1]
  if (description) return `not a readable ${format} file (${description.trim().slice(0, 200)})`
  const printed = e.log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(Exception while running pipeline|stdout:|stderr:|Build module in Debug mode)/.test(l))
  if (printed.length > 0) return `not a readable ${format} file (${printed.slice(0, 2).join('; ').slice(0, 200)})`
  return `not a readable ${format} file, or it is corrupt or truncated`
}

function descriptionOf(metadata: [string, string][]): string {
  const m = new Map(metadata)
  for (const key of ['content', 'NRRD_content', 'Comment', 'descrip', 'ITK_FileNotes']) {
    const v = m.get(key)?.trim()
    if (v) return v
  }
  return ''
}
