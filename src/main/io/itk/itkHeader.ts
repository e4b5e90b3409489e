/**
 * A light reading of MetaImage and NRRD header text, done before itk-wasm sees the file. It is not a
 * parser of either format (ITK is): it only finds what must be checked up front, because ITK allocates the
 * whole image and reads all of it before we can look, and on a corrupt compressed MetaImage it even
 * returns zeros (it prints "Uncompress failed" and carries on). Anything it cannot make out is left to ITK.
 */
export interface HeaderFacts {
  /** The data file named by a detached header; null when the data is in this file; undefined when unclear or many files. */
  dataFile: string | null | undefined
  /** How many voxel bytes one stored byte may become (1 raw, 8 text, deflate at most 1032), or an encoding ITK lacks. */
  expansion: number | 'unsupported'
  /** The voxel bytes the header describes; null when its size and type could not be made out. */
  claimedBytes: number | null
  /** The size the header describes, for messages. */
  sizes: number[]
  /** MetaImage: volumes along the 4th and later axes (1 for 3-D). */
  volumes: number
  /** MetaImage: ElementNumberOfChannels. */
  channels: number
  /**
   * How to check the compressed data against its own checksum (neither ITK reader does): the zlib
   * stream of a MetaImage ends in the Adler-32 of the voxel bytes, a gzip member in their CRC-32 and size.
   * trailerAt: where a MetaImage's Adler-32 sits when CompressedDataSize says (else the data's end).
   * null when uncompressed or not checkable (big-endian data, NRRD byte or line skips, a header offset).
   */
  checksum: { kind: 'adler32' | 'crc32'; trailerAt: number | null } | null
}

/** zlib/gzip cannot expand data more than 1032-fold. */
export const MAX_DEFLATE_RATIO = 1_100

const MET_BYTES: Record<string, number> = {
  MET_CHAR: 1, MET_UCHAR: 1, MET_SHORT: 2, MET_USHORT: 2, MET_INT: 4, MET_UINT: 4, MET_LONG: 4, MET_ULONG: 4,
  MET_LONG_LONG: 8, MET_ULONG_LONG: 8, MET_FLOAT: 4, MET_DOUBLE: 8,
}

const NRRD_BYTES: Record<string, number> = {
  'signed char': 1, int8: 1, int8_t: 1, uchar: 1, 'unsigned char': 1, uint8: 1, uint8_t: 1,
  short: 2, 'short int': 2, 'signed short': 2, 'signed short int': 2, int16: 2, int16_t: 2,
  ushort: 2, 'unsigned short': 2, 'unsigned short int': 2, uint16: 2, uint16_t: 2,
  int: 4, 'signed int': 4, int32: 4, int32_t: 4, uint: 4, 'unsigned int': 4, uint32: 4, uint32_t: 4,
  longlong: 8, 'long long': 8, 'long long int': 8, 'signed long long': 8, 'signed long long int': 8, int64: 8, int64_t: 8,
  ulonglong: 8, 'unsigned long long': 8, 'unsigned long long int': 8, uint64: 8, uint64_t: 8,
  float: 4, double: 8,
}

/** Read the facts above from the first bytes of a header (latin1 text). */
export function readHeaderFacts(head: string, ext: '.mha' | '.mhd' | '.nrrd' | '.nhdr'): HeaderFacts {
  return ext === '.mha' || ext === '.mhd' ? metaFacts(head) : nrrdFacts(head, ext)
}

function metaFacts(head: string): HeaderFacts {
  const field = (name: string): string | undefined => new RegExp(`^[ \\t]*${name}[ \\t]*=[ \\t]*(.*?)[ \\t]*\\r?$`, 'm').exec(head)?.[1]
  const ndims = integer(field('NDims'))
  const sizes = (field('DimSize') ?? '').split(/\s+/).filter(Boolean).map(Number)
  const channels = integer(field('ElementNumberOfChannels')) ?? 1
  const typeBytes = MET_BYTES[(field('ElementType') ?? '').replace(/_ARRAY$/, '')] ?? 1
  const known = ndims !== undefined && ndims >= 1 && sizes.length >= ndims && sizes.slice(0, ndims).every((n) => Number.isSafeInteger(n) && n >= 0)
  const used = known ? sizes.slice(0, ndims) : []
  const compressed = field('CompressedData')
  const binary = field('BinaryData')
  // Unless plainly false, assume compressed: the looser bound.
  let expansion = compressed === undefined || /^(f|0)/i.test(compressed) ? 1 : MAX_DEFLATE_RATIO
  if (binary !== undefined && /^(f|0)/i.test(binary)) expansion = Math.max(expansion, 8)
  const dataFile = dataFileOf(field('ElementDataFile'), 'LOCAL')
  const bigEndian = /^(t|1)/i.test(field('BinaryDataByteOrderMSB') ?? field('ElementByteOrderMSB') ?? '')
  let checksum: HeaderFacts['checksum'] = null
  if (expansion === MAX_DEFLATE_RATIO && !bigEndian && field('HeaderSize') === undefined && dataFile !== undefined) {
    const size = integer(field('CompressedDataSize'))
    // Attached data starts right after the ElementDataFile line (latin1: string index = byte offset).
    const line = /^[ \t]*ElementDataFile[ \t]*=[^\n]*\n/m.exec(head)
    const start = dataFile === null ? (line ? line.index + line[0].length : null) : 0
    checksum = { kind: 'adler32', trailerAt: size !== undefined && size >= 4 && start !== null ? start + size - 4 : null }
  }
  return {
    dataFile,
    expansion,
    claimedBytes: known ? product(used) * typeBytes * Math.max(1, channels) : null,
    sizes: used,
    volumes: known && ndims >= 4 ? product(used.slice(3)) : 1,
    channels,
    checksum,
  }
}

function nrrdFacts(head: string, ext: '.nrrd' | '.nhdr'): HeaderFacts {
  // The header ends at the first blank line; attached data follows.
  const text = head.split(/\r?\n\r?\n/)[0]
  const field = (name: string): string | undefined => new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*\\r?$`, 'm').exec(text)?.[1]
  const sizes = (field('sizes') ?? '').split(/\s+/).filter(Boolean).map(Number)
  const typeBytes = NRRD_BYTES[(field('type') ?? '').toLowerCase()] ?? 1
  const known = sizes.length > 0 && sizes.every((n) => Number.isSafeInteger(n) && n >= 0)
  const encoding = field('encoding')?.toLowerCase()
  const expansion =
    encoding === 'bzip2' || encoding === 'bz2'
      ? 'unsupported'
      : encoding === undefined || encoding === 'raw' || encoding === 'hex'
        ? 1
        : encoding === 'ascii' || encoding === 'text' || encoding === 'txt'
          ? 8
          : MAX_DEFLATE_RATIO
  const named = field('data ?file')
  const dataFile = named === undefined ? (ext === '.nrrd' ? null : undefined) : dataFileOf(named, null)
  const gzip = encoding === 'gzip' || encoding === 'gz'
  const checkable = gzip && dataFile !== undefined && (typeBytes === 1 || field('endian')?.toLowerCase() !== 'big')
  const skips = field('line ?skip') !== undefined || field('byte ?skip') !== undefined
  return {
    dataFile,
    expansion,
    claimedBytes: known ? product(sizes) * typeBytes : null,
    sizes: known ? sizes : [],
    volumes: 1,
    channels: 1,
    checksum: checkable && !skips ? { kind: 'crc32', trailerAt: null } : null,
  }
}

/** One data file name, or null for `local` (data in this file), or undefined for lists, patterns and blanks. */
function dataFileOf(value: string | undefined, local: string | null): string | null | undefined {
  if (value === undefined || value === '') return undefined
  if (local !== null && value === local) return null
  if (value.startsWith('LIST') || /%|\s/.test(value)) return undefined
  return value
}

function integer(text: string | undefined): number | undefined {
  const n = Number(text)
  return text !== undefined && text !== '' && Number.isSafeInteger(n) ? n : undefined
}

function product(values: number[]): number {
  return values.reduce((p, n) => p * n, 1)
}
