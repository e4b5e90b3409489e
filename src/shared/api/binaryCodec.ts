/**
 * Frames a message holding typed arrays as one binary WebSocket frame, so voxel data never travels
 * as JSON numbers:
 *   [uint32 LE header length][header JSON, UTF-8][zero padding to 8 bytes][attachment bytes ...]
 * In the header every ArrayBuffer or typed array is replaced by {"$binary": n, "type": ..., ...}
 * pointing at attachment n. Each attachment starts 8-byte aligned so it can be viewed in place.
 */
type TypedArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array

type TypedArrayCtor = { new (b: ArrayBufferLike, o: number, n: number): TypedArray; BYTES_PER_ELEMENT: number }

const TYPED: Record<string, TypedArrayCtor> = {
  Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array,
}

interface BinaryRef {
  $binary: number
  type: string
  length: number
}

const align8 = (n: number): number => (n + 7) & ~7

/**
 * The frame as a list of byte chunks (header, then each attachment with its padding), so a large
 * volume can be written to a stream without first being copied into one buffer.
 */
export function encodeMessageParts(message: unknown): Uint8Array[] {
  const attachments: Uint8Array[] = []
  const header = JSON.stringify(message, function (this: Record<string, unknown>, key: string, replaced: unknown) {
    // `this[key]` is the value before any toJSON (a Node Buffer would otherwise arrive as numbers).
    const value = key === '' ? replaced : this[key]
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) {
      attachments.push(new Uint8Array(value))
      return { $binary: attachments.length - 1, type: 'ArrayBuffer', length: value.byteLength } satisfies BinaryRef
    }
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const view = value as TypedArray
      attachments.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))
      // A Node Buffer travels as the Uint8Array it is.
      const nodeBuffer = (globalThis as { Buffer?: { isBuffer(v: unknown): boolean } }).Buffer
      const type = nodeBuffer?.isBuffer(view) ? 'Uint8Array' : view.constructor.name
      return { $binary: attachments.length - 1, type, length: view.length } satisfies BinaryRef
    }
    return replaced
  })
  const headerBytes = new TextEncoder().encode(header)
  const head = new Uint8Array(align8(4 + headerBytes.length))
  new DataView(head.buffer).setUint32(0, headerBytes.length, true)
  head.set(headerBytes, 4)
  const parts: Uint8Array[] = [head]
  for (const a of attachments) {
    parts.push(a)
    const pad = align8(a.byteLength) - a.byteLength
    if (pad) parts.push(new Uint8Array(pad))
  }
  return parts
}

export function encodeMessage(message: unknown): Uint8Array<ArrayBuffer> {
  const parts = encodeMessageParts(message)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

export function decodeMessage(frame: ArrayBuffer | Uint8Array): unknown {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame)
  if (bytes.byteLength < 4) throw new Error('binary frame too short')
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true)
  if (4 + headerLength > bytes.byteLength) throw new Error('binary frame header overruns the frame')
  const header = new TextDecoder().decode(bytes.subarray(4, 4 + headerLength))
  // First pass: collect attachment sizes in order to find their offsets.
  const refs: BinaryRef[] = []
  const parsed = JSON.parse(header, (_key, value: unknown) => {
    if (isBinaryRef(value)) refs[value.$binary] = value
    return value
  })
  let at = align8(4 + headerLength)
  const views: unknown[] = []
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i]
    if (!ref) throw new Error(`binary frame is missing attachment ${i}`)
    const Ctor: TypedArrayCtor | undefined = ref.type === 'ArrayBuffer' ? Uint8Array : TYPED[ref.type]
    if (!Ctor) throw new Error(`binary frame has unknown array type ${ref.type}`)
    const byteLength = ref.type === 'ArrayBuffer' ? ref.length : ref.length * Ctor.BYTES_PER_ELEMENT
    if (at + byteLength > bytes.byteLength) throw new Error('binary frame is truncated')
    const offset = bytes.byteOffset + at
    if (offset % Ctor.BYTES_PER_ELEMENT === 0) {
      // Zero-copy: a view into the received frame (a whole-body PET is hundreds of MB).
      views[i] = ref.type === 'ArrayBuffer' ? bytes.buffer.slice(offset, offset + byteLength) : new Ctor(bytes.buffer, offset, ref.length)
    } else {
      // A frame that arrived at an odd offset (a pooled Node Buffer): copy to an aligned buffer.
      const copy = new Uint8Array(byteLength)
      copy.set(bytes.subarray(at, at + byteLength))
      views[i] = ref.type === 'ArrayBuffer' ? copy.buffer : new Ctor(copy.buffer, 0, ref.length)
    }
    at = align8(at + byteLength)
  }
  return replaceRefs(parsed, views)
}

function isBinaryRef(v: unknown): v is BinaryRef {
  return typeof v === 'object' && v !== null && typeof (v as BinaryRef).$binary === 'number' && typeof (v as BinaryRef).type === 'string'
}

function replaceRefs(value: unknown, views: unknown[]): unknown {
  if (isBinaryRef(value)) return views[value.$binary]
  if (Array.isArray(value)) return value.map((v) => replaceRefs(v, views))
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = replaceRefs(v, views)
    return out
  }
  return value
}
