import { crc32, inflateRawSync } from 'node:zlib'
import { InputError } from '../../io/InputError'

/*
 * A strict reader for the zip archives torch.save writes (miniz: stored records, 64-byte aligned data, data
 * descriptors, a zip64 end record). Every offset and size is checked against the file before use, and each
 * record's CRC-32 is verified, so a truncated or damaged file is reported instead of read as garbage.
 */

export interface ZipEntry {
  name: string
  method: number
  compressedSize: number
  size: number
  crc32: number
  localHeaderOffset: number
}

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_END = 0x06054b50
const SIG_END64 = 0x06064b50
const SIG_LOCATOR64 = 0x07064b50
const MAX_ENTRIES = 1_000_000

const utf8 = new TextDecoder('utf-8', { fatal: true })
const latin1 = new TextDecoder('latin1')

export class ZipArchive {
  private readonly view: DataView
  readonly entries = new Map<string, ZipEntry>()

  private constructor(
    private readonly bytes: Uint8Array,
    private readonly filePath: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Parses the central directory; throws InputError when the file is not a readable zip archive. */
  static open(bytes: Uint8Array, filePath: string): ZipArchive {
    const zip = new ZipArchive(bytes, filePath)
    zip.readDirectory()
    return zip
  }

  has(name: string): boolean {
    return this.entries.has(name)
  }

  /** The uncompressed bytes of a record (a view into the file for stored records), CRC-checked. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name)
    if (!e) throw this.fail(`the record ${name} is missing`)
    const b = this.bytes
    const o = e.localHeaderOffset
    if (o + 30 > b.length || this.view.getUint32(o, true) !== SIG_LOCAL) throw this.fail(`the record ${name} has no local header where the directory says (damaged or truncated)`)
    const start = o + 30 + this.view.getUint16(o + 26, true) + this.view.getUint16(o + 28, true)
    if (start + e.compressedSize > b.length) throw this.fail(`the record ${name} runs past the end of the file (truncated)`)
    const raw = b.subarray(start, start + e.compressedSize)
    let data: Uint8Array
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw this.fail(`the stored record ${name} has two different sizes`)
      data = raw
    } else if (e.method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) })
      } catch (err) {
        throw this.fail(`the record ${name} does not decompress (${(err as Error).message})`)
      }
      if (data.length !== e.size) throw this.fail(`the record ${name} decompresses to ${data.length} bytes, not ${e.size}`)
    } else {
      throw this.fail(`the record ${name} uses zip compression method ${e.method}; only stored and deflate are read`)
    }
    if ((crc32(data) >>> 0) !== e.crc32) throw this.fail(`the record ${name} is damaged (its CRC-32 does not match)`)
    return data
  }

  private readDirectory(): void {
    const b = this.bytes
    const v = this.view
    if (b.length < 22) throw this.fail('too short to be a zip archive (truncated?)')
    // The end record sits in the last 22 + 65535 bytes (it may carry a comment).
    let end = -1
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
      if (v.getUint32(i, true) === SIG_END && i + 22 + v.getUint16(i + 20, true) === b.length) {
        end = i
        break
      }
    }
    if (end < 0) throw this.fail('the zip directory is missing (the file is truncated or not a zip archive)')
    let count = v.getUint16(end + 10, true)
    let dirSize = v.getUint32(end + 12, true)
    let dirOffset = v.getUint32(end + 16, true)
    let dirLimit = end
    if (end >= 20 && v.getUint32(end - 20, true) === SIG_LOCATOR64) {
      const at = this.u64(end - 20 + 8)
      if (at + 56 > end - 20 || v.getUint32(at, true) !== SIG_END64) throw this.fail('the zip64 end record is missing or damaged')
      count = this.u64(at + 32)
      dirSize = this.u64(at + 40)
      dirOffset = this.u64(at + 48)
      dirLimit = at
    }
    if (count > MAX_ENTRIES) throw this.fail(`the zip directory lists ${count} records`)
    if (dirOffset + dirSize > dirLimit) throw this.fail('the zip directory lies outside the file (truncated?)')
    let p = dirOffset
    for (let i = 0; i < count; i++) {
      if (p + 46 > dirOffset + dirSize || v.getUint32(p, true) !== SIG_CENTRAL) throw this.fail(`zip directory entry ${i} is damaged`)
      const flags = v.getUint16(p + 8, true)
      const nameLength = v.getUint16(p + 28, true)
      const extraLength = v.getUint16(p + 30, true)
      const commentLength = v.getUint16(p + 32, true)
      const next = p + 46 + nameLength + extraLength + commentLength
      if (next > dirOffset + dirSize) throw this.fail(`zip directory entry ${i} runs past the directory`)
      if (flags & 1) throw this.fail('the zip archive is encrypted')
      const nameBytes = b.subarray(p + 46, p + 46 + nameLength)
      let name: string
      try {
        name = flags & 0x800 ? utf8.decode(nameBytes) : latin1.decode(nameBytes)
      } catch {
        throw this.fail(`zip directory entry ${i} has a name that is not UTF-8`)
      }
      let compressedSize = v.getUint32(p + 20, true)
      let size = v.getUint32(p + 24, true)
      let localHeaderOffset = v.getUint32(p + 42, true)
      if (compressedSize === 0xffffffff || size === 0xffffffff || localHeaderOffset === 0xffffffff) {
        // zip64 extended information: only the fields that overflowed, in this order.
        const x = this.zip64Extra(p + 46 + nameLength, extraLength)
        if (x < 0) throw this.fail(`the zip64 sizes of ${name} are missing`)
        let q = x
        const take = (): number => {
          if (q + 8 > p + 46 + nameLength + extraLength) throw this.fail(`the zip64 sizes of ${name} are truncated`)
          const value = this.u64(q)
          q += 8
          return value
        }
        if (size === 0xffffffff) size = take()
        if (compressedSize === 0xffffffff) compressedSize = take()
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take()
      }
      if (localHeaderOffset + compressedSize > dirOffset) throw this.fail(`the record ${name} lies outside the archive data (truncated?)`)
      if (this.entries.has(name)) throw this.fail(`the record ${name} appears twice`)
      this.entries.set(name, { name, method: v.getUint16(p + 10, true), compressedSize, size, crc32: v.getUint32(p + 16, true), localHeaderOffset })
      p = next
    }
  }

  /** Offset of the zip64 extra field's data within an extra block, or -1. */
  private zip64Extra(start: number, length: number): number {
    for (let q = start; q + 4 <= start + length; ) {
      const id = this.view.getUint16(q, true)
      const size = this.view.getUint16(q + 2, true)
      if (id === 0x0001) return q + 4
      q += 4 + size
    }
    return -1
  }

  private u64(at: number): number {
    if (at < 0 || at + 8 > this.bytes.length) throw this.fail('a zip64 field lies outside the file (truncated?)')
    const value = this.view.getBigUint64(at, true)
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail('a zip64 size is absurdly large')
    return Number(value)
  }

  private fail(problem: string): InputError {
    return new InputError(this.filePath, `not a readable PyTorch checkpoint: ${problem}`)
  }
}
