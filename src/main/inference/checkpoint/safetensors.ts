import { InputError } from '../../io/InputError'
import { readCheckpointBytes } from './readCheckpointBytes'
import { normaliseStateDictKeys } from './stateDict'
import { contiguousStrides, decodeTensor, elementCount } from './tensorData'
import { CHECKPOINT_DTYPES, DTYPE_BYTES, type CheckpointDtype, type CheckpointTensor } from './types'

/*
 * safetensors: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
 * (space-padded), then the data; offsets are relative to the data and the tensors tile it exactly, row-major,
 * little-endian. Validated as strictly as the reference implementation does.
 */

const SAFETENSORS_DTYPES: Readonly<Record<string, CheckpointDtype>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64', I64: 'int64' }
const OTHER_DTYPES = new Set(['BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64'])
/** The reference implementation's limit. */
const MAX_HEADER_BYTES = 100_000_000
const MAX_TENSOR_DIMS = 64

export async function readSafetensors(filePath: string): Promise<Map<string, CheckpointTensor>> {
  return decodeSafetensors(await readCheckpointBytes(filePath), filePath)
}

/** True when the bytes start like a safetensors file: a plausible header length, then '{'. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  return n >= 2n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b
}

interface HeaderEntry {
  name: string
  dtype: CheckpointDtype
  shape: number[]
  begin: number
  end: number
}

export function decodeSafetensors(bytes: Uint8Array, filePath: string): Map<string, CheckpointTensor> {
  const fail = (problem: string): InputError => new InputError(filePath, `not a valid safetensors file: ${problem}`)
  if (bytes.length < 8) throw fail('shorter than its 8-byte header length')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw fail(`the header claims ${headerLength} bytes (at most ${MAX_HEADER_BYTES})`)
  const n = Number(headerLength)
  if (8 + n > bytes.length) throw fail(`the header claims ${n} bytes but the file has ${bytes.length - 8} after the length (truncated?)`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n))
  } catch {
    throw fail('the header is not UTF-8')
  }
  if (!text.startsWith('{')) throw fail('the header is not a JSON object')
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message})`)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('the header is not a JSON object')

  const entries: HeaderEntry[] = []
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null) continue
      if (typeof value !== 'object' || Array.isArray(value) || Object.values(value as object).some((v) => typeof v !== 'string')) {
        throw fail('__metadata__ is not a map of strings')
      }
      continue
    }
    entries.push(headerEntry(name, value, fail))
  }

  // The tensors must tile the data exactly: sorted by offset, each starting where the previous ended.
  const dataLength = bytes.length - 8 - n
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let cursor = 0
  for (const e of sorted) {
    if (e.begin !== cursor) throw fail(`${e.name} starts at data byte ${e.begin}, expected ${cursor} (overlapping tensors or a gap)`)
    cursor = e.end
  }
  if (cursor !== dataLength) throw fail(`the tensors cover ${cursor} data bytes but the file has ${dataLength} (truncated or trailing bytes)`)

  const data = bytes.subarray(8 + n)
  const normalised = normaliseStateDictKeys(entries.map((e) => [e.name, e] as const), filePath)
  const out = new Map<string, CheckpointTensor>()
  for (const [key, e] of normalised) {
    const decoded = decodeTensor(data.subarray(e.begin, e.end), e.dtype, true, { shape: e.shape, stride: contiguousStrides(e.shape), offset: 0 })
    out.set(key, { shape: e.shape, dtype: e.dtype, ...decoded })
  }
  return out
}

function headerEntry(name: string, value: unknown, fail: (problem: string) => InputError): HeaderEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`the entry ${name} is not an object`)
  const { dtype: code, shape, data_offsets: offsets } = value as Record<string, unknown>
  if (typeof code !== 'string') throw fail(`${name} has no dtype`)
  const dtype = Object.hasOwn(SAFETENSORS_DTYPES, code) ? SAFETENSORS_DTYPES[code] : undefined
  if (!dtype) {
    throw fail(OTHER_DTYPES.has(code) ? `${name} is ${code}; LesionLab loads ${CHECKPOINT_DTYPES.join(', ')} (F32, F16, BF16, F64, I64)` : `${name} has an unknown dtype "${code.slice(0, 20)}"`)
  }
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
  if (!Array.isArray(shape) || shape.length > MAX_TENSOR_DIMS || !shape.every(isCount)) throw fail(`${name} has an invalid shape`)
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) throw fail(`${name} has invalid data_offsets`)
  const [begin, end] = offsets as number[]
  const bytes = elementCount(shape) * DTYPE_BYTES[dtype]
  if (!Number.isSafeInteger(bytes) || end - begin !== bytes) {
    throw fail(`${name} of shape (${shape.join(', ')}) ${code} needs ${bytes} bytes but its data_offsets span ${end - begin}`)
  }
  return { name, dtype, shape: shape as number[], begin, end }
}

const DTYPE_CODES: Readonly<Record<CheckpointDtype, string>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int64: 'I64' }

export interface SafetensorsEntry {
  name: string
  dtype: CheckpointDtype
  shape: readonly number[]
  /** Row-major little-endian elements. */
  bytes: Uint8Array
}

/** A safetensors file as the reference writer lays it out (larger dtypes first, then by name; header padded to 8). */
export function encodeSafetensors(tensors: readonly SafetensorsEntry[], metadata?: Record<string, string>): Uint8Array {
  const ordered = [...tensors].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  // No prototype, so a tensor named __proto__ is just a key.
  const header = Object.create(null) as Record<string, unknown>
  if (metadata) header.__metadata__ = metadata
  let offset = 0
  for (const t of ordered) {
    if (t.bytes.length !== elementCount(t.shape) * DTYPE_BYTES[t.dtype]) throw new Error(`${t.name}: ${t.bytes.length} bytes for shape (${t.shape.join(', ')})`)
    header[t.name] = { dtype: DTYPE_CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.bytes.length] }
    offset += t.bytes.length
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8)
  const head = new TextEncoder().encode(json)
  const out = new Uint8Array(8 + head.length + offset)
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true)
  out.set(head, 8)
  let at = 8 + head.length
  for (const t of ordered) {
    out.set(t.bytes, at)
    at += t.bytes.length
  }
  return out
}
