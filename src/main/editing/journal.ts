import { open, readFile, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import type { Vec3 } from '../../shared/geometry'
import { writeFileAtomic } from '../io/atomicWrite'
import { InputError } from '../io/InputError'
import { applyDiff, boxOfRuns, type VoxelDiff } from './voxelDiff'

/**
 * Append-only binary journal of the edits made to one working mask since its base (the version it was
 * opened from). Little-endian throughout.
 *
 *   header (32 bytes): 'LLJ1' | u32 format version | u32 nx, ny, nz | u32 crc32 of the base mask bytes
 *                      | u32 reserved | u32 crc32 of the preceding 28 bytes
 *   record:            u32 payload length | u32 crc32 of payload | payload
 *   payload:           u8 kind (1 apply, 2 undo, 3 redo) | u8 0 | u16 label byte length | u32 run count
 *                      | u32 voxel count | label (UTF-8) | runs (i32 start, i32 length)... | before | after
 *
 * Every record carries the whole diff (before and after), so replay needs nothing but the base, and undo
 * history survives a crash. One record per stroke, written in one write and fsynced before `append`
 * resolves: a crash loses at most the record being written, whose torn remains `open` cuts away.
 */

export type JournalOp = 'apply' | 'undo' | 'redo'

export interface JournalRecord {
  op: JournalOp
  label: string
  diff: VoxelDiff
}

export interface JournalBase {
  dims: Vec3
  /** crc32 of the base mask bytes (`maskChecksum`). */
  baseChecksum: number
}

const MAGIC = 0x314a4c4c // 'LLJ1' read as little-endian u32
const FORMAT_VERSION = 1
const HEADER_BYTES = 32
const RECORD_HEAD_BYTES = 8
const PAYLOAD_FIXED_BYTES = 12
const OP_CODES: Record<JournalOp, number> = { apply: 1, undo: 2, redo: 3 }
const OPS: (JournalOp | undefined)[] = [undefined, 'apply', 'undo', 'redo']

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Runs are copied as raw Int32Array bytes.
  throw new Error('the edit journal assumes a little-endian machine')
}

/** Identity of a mask's content: crc32 of its bytes. */
export function maskChecksum(mask: Uint8Array): number {
  return crc32(mask) >>> 0
}

export class EditJournal {
  private pending: Promise<void> = Promise.resolve()
  private failure: unknown = undefined
  private unreplayed: Buffer | undefined

  private constructor(
    readonly path: string,
    private base: JournalBase,
    private handle: FileHandle,
    private size: number,
    /** Valid records found at open. */
    readonly recordCount: number,
    /** Bytes of a torn last record cut away at open (0 after a clean shutdown). */
    readonly tornTailBytes: number,
    contents: Buffer,
  ) {
    this.unreplayed = contents
  }

  /**
   * Open the journal at `path` for a mask whose base is `base`, creating it when missing. A torn last
   * record (or garbage after the last valid one) is truncated away. Throws InputError when the journal
   * belongs to another base, or when a record other than the last is corrupt.
   */
  static async open(path: string, base: JournalBase): Promise<EditJournal> {
    let contents: Buffer
    try {
      contents = await readFile(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      await writeFileAtomic(path, encodeHeader(base))
      contents = await readFile(path)
    }
    const header = readJournalHeaderBytes(path, contents)
    if (!sameBase(header, base)) {
      throw new InputError(
        path,
        `edit journal belongs to another mask (grid ${header.dims.join('x')}, checksum ${hex(header.baseChecksum)}; ` +
          `expected grid ${base.dims.join('x')}, checksum ${hex(base.baseChecksum)})`,
      )
    }
    const { end, count } = scanRecords(path, contents, base.dims)
    const handle = await open(path, 'r+')
    const torn = contents.length - end
    if (torn > 0) {
      await handle.truncate(end)
      await handle.sync()
    }
    return new EditJournal(path, base, handle, end, count, torn, contents.subarray(0, end))
  }

  /** Header of an existing journal, or null when there is none (to find which base it belongs to). */
  static async readHeader(path: string): Promise<JournalBase | null> {
    let contents: Buffer
    try {
      contents = await readFile(path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw e
    }
    return readJournalHeaderBytes(path, contents)
  }

  /**
   * Apply the records found at open, in order, to `mask` (which must hold the base). `visit` sees each
   * record after it is applied, to rebuild undo history. Only the first call replays.
   */
  replay(mask: Uint8Array, visit?: (record: JournalRecord) => void): { applied: number; tornTailBytes: number } {
    const contents = this.unreplayed
    if (!contents) return { applied: 0, tornTailBytes: this.tornTailBytes }
    if (mask.length !== voxels(this.base.dims)) throw new RangeError(`mask has ${mask.length} voxels; the journal's grid has ${voxels(this.base.dims)}`)
    if (maskChecksum(mask) !== this.base.baseChecksum) throw new Error(`${this.path}: replay onto a mask that is not the journal's base`)
    this.unreplayed = undefined
    let applied = 0
    for (let at = HEADER_BYTES; at < contents.length; ) {
      const length = contents.readUInt32LE(at)
      const record = decodePayload(contents.subarray(at + RECORD_HEAD_BYTES, at + RECORD_HEAD_BYTES + length), this.base.dims)!
      applyDiff(mask, record.diff, record.op === 'undo' ? 'undo' : 'redo')
      visit?.(record)
      applied++
      at += RECORD_HEAD_BYTES + length
    }
    return { applied, tornTailBytes: this.tornTailBytes }
  }

  /** Append one record and fsync. Records are written in call order; after a failed write, every later append fails. */
  append(record: JournalRecord): Promise<void> {
    const bytes = encodeRecord(record)
    this.unreplayed = undefined // appending means the caller's mask already includes the old records
    return this.enqueue(async () => {
      await writeAll(this.handle, bytes, this.size)
      await this.handle.datasync()
      this.size += bytes.length
    })
  }

  /** Wait for every append so far to be on disk. */
  flush(): Promise<void> {
    return this.enqueue(async () => {})
  }

  /**
   * Restart the journal against a new base (the version just saved from `mask`): the replaced file is
   * swapped atomically, so a crash leaves either the old journal (which still replays from the old base
   * to the same state) or the new empty one.
   */
  checkpoint(mask: Uint8Array): Promise<void> {
    const base: JournalBase = { dims: this.base.dims, baseChecksum: maskChecksum(mask) }
    return this.enqueue(async () => {
      await this.handle.close()
      await writeFileAtomic(this.path, encodeHeader(base))
      this.handle = await open(this.path, 'r+')
      this.base = base
      this.size = HEADER_BYTES
    })
  }

  async close(): Promise<void> {
    await this.pending.catch(() => {})
    await this.handle.close()
  }

  get baseChecksum(): number {
    return this.base.baseChecksum
  }

  /** Bytes on disk once pending appends finish. */
  get byteLength(): number {
    return this.size
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.pending.then(async () => {
      if (this.failure !== undefined) throw this.failure
      try {
        await task()
      } catch (e) {
        this.failure = e
        throw e
      }
    })
    this.pending = run.catch(() => {})
    return run
  }
}

function encodeHeader(base: JournalBase): Uint8Array {
  const b = Buffer.alloc(HEADER_BYTES)
  b.writeUInt32LE(MAGIC, 0)
  b.writeUInt32LE(FORMAT_VERSION, 4)
  b.writeUInt32LE(base.dims[0], 8)
  b.writeUInt32LE(base.dims[1], 12)
  b.writeUInt32LE(base.dims[2], 16)
  b.writeUInt32LE(base.baseChecksum >>> 0, 20)
  b.writeUInt32LE(crc32(b.subarray(0, 28)) >>> 0, 28)
  return b
}

function readJournalHeaderBytes(path: string, b: Buffer): JournalBase {
  if (b.length < HEADER_BYTES || b.readUInt32LE(0) !== MAGIC) throw new InputError(path, 'not a LesionLab edit journal (bad magic)')
  if (b.readUInt32LE(28) !== crc32(b.subarray(0, 28)) >>> 0) throw new InputError(path, 'edit journal header is corrupt (checksum mismatch)')
  const version = b.readUInt32LE(4)
  if (version !== FORMAT_VERSION) throw new InputError(path, `edit journal format ${version} is not supported (expected ${FORMAT_VERSION})`)
  return { dims: [b.readUInt32LE(8), b.readUInt32LE(12), b.readUInt32LE(16)], baseChecksum: b.readUInt32LE(20) }
}

function encodeRecord(record: JournalRecord): Buffer {
  const label = Buffer.from(record.label, 'utf8')
  if (label.length > 0xffff) throw new RangeError('edit label too long')
  const { runs, before, after } = record.diff
  const length = PAYLOAD_FIXED_BYTES + label.length + runs.byteLength + before.length + after.length
  const b = Buffer.allocUnsafe(RECORD_HEAD_BYTES + length)
  const p = RECORD_HEAD_BYTES
  b.writeUInt8(OP_CODES[record.op], p)
  b.writeUInt8(0, p + 1)
  b.writeUInt16LE(label.length, p + 2)
  b.writeUInt32LE(runs.length / 2, p + 4)
  b.writeUInt32LE(before.length, p + 8)
  let at = p + PAYLOAD_FIXED_BYTES
  at += label.copy(b, at)
  b.set(new Uint8Array(runs.buffer, runs.byteOffset, runs.byteLength), at)
  at += runs.byteLength
  b.set(before, at)
  b.set(after, at + before.length)
  b.writeUInt32LE(length, 0)
  b.writeUInt32LE(crc32(b.subarray(RECORD_HEAD_BYTES)) >>> 0, 4)
  return b
}

/** The record in `payload`, or null when it is not a well-formed one for this grid. */
function decodePayload(payload: Buffer, dims: Vec3): JournalRecord | null {
  if (payload.length < PAYLOAD_FIXED_BYTES) return null
  const op = OPS[payload.readUInt8(0)]
  const labelBytes = payload.readUInt16LE(2)
  const runCount = payload.readUInt32LE(4)
  const voxelCount = payload.readUInt32LE(8)
  if (!op || PAYLOAD_FIXED_BYTES + labelBytes + 8 * runCount + 2 * voxelCount !== payload.length) return null
  let at = PAYLOAD_FIXED_BYTES
  const label = payload.toString('utf8', at, at + labelBytes)
  at += labelBytes
  const runs = new Int32Array(2 * runCount)
  new Uint8Array(runs.buffer).set(payload.subarray(at, at + 8 * runCount))
  at += 8 * runCount
  const n = voxels(dims)
  let total = 0
  let previousEnd = -1
  for (let r = 0; r < runs.length; r += 2) {
    const start = runs[r]
    const length = runs[r + 1]
    if (start <= previousEnd || length <= 0 || start + length > n) return null
    previousEnd = start + length - 1
    total += length
  }
  if (total !== voxelCount) return null
  const before = Uint8Array.from(payload.subarray(at, at + voxelCount))
  const after = Uint8Array.from(payload.subarray(at + voxelCount, at + 2 * voxelCount))
  return { op, label, diff: { runs, before, after, box: boxOfRuns(runs, dims) } }
}

/** Byte length of a valid record at `at`, or 0. */
function validRecordAt(b: Buffer, at: number, dims: Vec3): number {
  if (at + RECORD_HEAD_BYTES > b.length) return 0
  const length = b.readUInt32LE(at)
  if (length < PAYLOAD_FIXED_BYTES || at + RECORD_HEAD_BYTES + length > b.length) return 0
  const payload = b.subarray(at + RECORD_HEAD_BYTES, at + RECORD_HEAD_BYTES + length)
  if (crc32(payload) >>> 0 !== b.readUInt32LE(at + 4)) return 0
  return decodePayload(payload, dims) ? RECORD_HEAD_BYTES + length : 0
}

/**
 * Walk the records; return where the valid ones end. An invalid record is a torn tail (ignored) only
 * when no valid record follows it anywhere; otherwise the journal is corrupt in the middle, and
 * replaying around the hole would give a state that never existed.
 */
function scanRecords(path: string, b: Buffer, dims: Vec3): { end: number; count: number } {
  let at = HEADER_BYTES
  let count = 0
  while (at < b.length) {
    const length = validRecordAt(b, at, dims)
    if (length === 0) break
    at += length
    count++
  }
  if (at < b.length) {
    for (let q = at + 1; q + RECORD_HEAD_BYTES + PAYLOAD_FIXED_BYTES <= b.length; q++) {
      if (validRecordAt(b, q, dims) > 0) {
        throw new InputError(path, `edit journal is corrupt: record ${count + 1} (byte ${at}) is damaged but later records are intact`)
      }
    }
  }
  return { end: at, count }
}

function sameBase(a: JournalBase, b: JournalBase): boolean {
  return a.dims[0] === b.dims[0] && a.dims[1] === b.dims[1] && a.dims[2] === b.dims[2] && a.baseChecksum >>> 0 === b.baseChecksum >>> 0
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done)
    done += bytesWritten
  }
}

function voxels(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2]
}

function hex(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0')
}
