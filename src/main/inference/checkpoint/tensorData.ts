import type { CheckpointDtype } from './types'
import { DTYPE_BYTES } from './types'

/*
 * Element conversion and strided gathering: pure functions over bytes, shared by the PyTorch and safetensors
 * readers (and the writers the tests use).
 */

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** A strided view of a storage, in elements. */
export interface StridedView {
  shape: readonly number[]
  stride: readonly number[]
  offset: number
}

export function elementCount(shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

/** Row-major strides of a shape, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s
    s *= shape[i]
  }
  return stride
}

/** True when the view reads its elements in storage order without gaps (size-1 axes' strides do not matter). */
export function isContiguous(view: StridedView): boolean {
  let expected = 1
  for (let i = view.shape.length - 1; i >= 0; i--) {
    if (view.shape[i] === 1) continue
    if (view.stride[i] !== expected) return false
    expected *= view.shape[i]
  }
  return true
}

/**
 * The storage elements a view reads, in row-major order of the view: index i of the result is the storage
 * element index of view element i.
 */
export function gatherIndices(view: StridedView): Float64Array {
  const n = elementCount(view.shape)
  const out = new Float64Array(n)
  if (n === 0) return out
  const dims = view.shape.length
  const counter = new Array<number>(dims).fill(0)
  let index = view.offset
  for (let i = 0; i < n; i++) {
    out[i] = index
    for (let d = dims - 1; d >= 0; d--) {
      if (++counter[d] < view.shape[d]) {
        index += view.stride[d]
        break
      }
      index -= (view.shape[d] - 1) * view.stride[d]
      counter[d] = 0
    }
  }
  return out
}

let halfTable: Float32Array | undefined

/** IEEE binary16 bits to float32, exactly (subnormals, infinities and NaN included). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}

function halfLookup(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536)
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i)
  }
  return halfTable
}

/** float to IEEE binary16 bits, rounding to nearest even (for writing test checkpoints). */
export function floatToHalf(value: number): number {
  const f = new Float32Array([value])
  const x = new Uint32Array(f.buffer)[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let half = mant >> shift
    const rest = mant & ((1 << shift) - 1)
    const midpoint = 1 << (shift - 1)
    if (rest > midpoint || (rest === midpoint && half & 1)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >> 13)
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++
  e = half >> 10
  return sign | (e >= 0x1f ? 0x7c00 : half)
}

/** float to bfloat16 bits, rounding to nearest even. */
export function floatToBfloat16(value: number): number {
  const x = new Uint32Array(new Float32Array([value]).buffer)[0]
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff
}

/**
 * A typed array over `count` elements of `bytes` starting at element `first`, in host byte order: a view when
 * the bytes are aligned and already in host order, otherwise a copy (byte-swapped when the file's order differs).
 */
function elementsOf(bytes: Uint8Array, dtype: CheckpointDtype, littleEndian: boolean, first: number, count: number): Float32Array | Float64Array | Uint16Array | BigInt64Array {
  const size = DTYPE_BYTES[dtype]
  let src = bytes.subarray(first * size, (first + count) * size)
  if (littleEndian !== HOST_LITTLE_ENDIAN) {
    const swapped = new Uint8Array(src.length)
    for (let i = 0; i < src.length; i += size) for (let b = 0; b < size; b++) swapped[i + b] = src[i + size - 1 - b]
    src = swapped
  } else if (src.byteOffset % size !== 0) {
    src = src.slice()
  }
  switch (dtype) {
    case 'float32':
      return new Float32Array(src.buffer, src.byteOffset, count)
    case 'float64':
      return new Float64Array(src.buffer, src.byteOffset, count)
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(src.buffer, src.byteOffset, count)
    case 'int64':
      return new BigInt64Array(src.buffer, src.byteOffset, count)
  }
}

export interface DecodedTensor {
  data: Float32Array
  int64Data?: BigInt64Array
}

/**
 * Reads a strided view of a storage into a new row-major Float32Array (and, for int64, the exact values).
 * The caller has checked that the view stays inside `bytes`.
 */
export function decodeTensor(bytes: Uint8Array, dtype: CheckpointDtype, littleEndian: boolean, view: StridedView): DecodedTensor {
  const n = elementCount(view.shape)
  if (n === 0) return dtype === 'int64' ? { data: new Float32Array(0), int64Data: new BigInt64Array(0) } : { data: new Float32Array(0) }
  const contiguous = isContiguous(view)
  // A contiguous view reads one run of the storage; otherwise read the span it touches and gather.
  const first = view.offset
  let count = n
  if (!contiguous) {
    let last = view.offset
    for (let i = 0; i < view.shape.length; i++) last += (view.shape[i] - 1) * view.stride[i]
    count = last - first + 1
  }
  const src = elementsOf(bytes, dtype, littleEndian, first, count)
  const indices = contiguous ? undefined : gatherIndices({ ...view, offset: 0 })
  const at = (i: number): number => (indices ? indices[i] : i)

  if (dtype === 'int64') {
    const s = src as BigInt64Array
    const exact = new BigInt64Array(n)
    const data = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      exact[i] = s[at(i)]
      data[i] = Number(exact[i])
    }
    return { data, int64Data: exact }
  }
  const data = new Float32Array(n)
  if (dtype === 'float32') {
    const s = src as Float32Array
    if (!indices) data.set(s)
    else for (let i = 0; i < n; i++) data[i] = s[indices[i]]
  } else if (dtype === 'float64') {
    const s = src as Float64Array
    for (let i = 0; i < n; i++) data[i] = s[at(i)]
  } else if (dtype === 'float16') {
    const s = src as Uint16Array
    const table = halfLookup()
    for (let i = 0; i < n; i++) data[i] = table[s[at(i)]]
  } else {
    // bfloat16 is the top half of a float32.
    const s = src as Uint16Array
    const bits = new Uint32Array(data.buffer)
    for (let i = 0; i < n; i++) bits[i] = s[at(i)] << 16
  }
  return { data }
}

/** Little-endian bytes of values in a dtype (for writing test checkpoints). */
export function encodeElements(dtype: CheckpointDtype, values: ArrayLike<number> | readonly bigint[]): Uint8Array {
  const n = values.length
  const out = new Uint8Array(n * DTYPE_BYTES[dtype])
  const view = new DataView(out.buffer)
  for (let i = 0; i < n; i++) {
    const v = values[i]
    switch (dtype) {
      case 'float32':
        view.setFloat32(i * 4, Number(v), true)
        break
      case 'float64':
        view.setFloat64(i * 8, Number(v), true)
        break
      case 'float16':
        view.setUint16(i * 2, floatToHalf(Number(v)), true)
        break
      case 'bfloat16':
        view.setUint16(i * 2, floatToBfloat16(Number(v)), true)
        break
      case 'int64':
        view.setBigInt64(i * 8, typeof v === 'bigint' ? v : BigInt(v), true)
        break
    }
  }
  return out
}
