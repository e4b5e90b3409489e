/**
 * Native (uncompressed) DICOM pixel samples to numbers. dcmjs hands over PixelData as raw bytes and
 * leaves BitsStored masking, sign extension and byte order to the caller, so this is done here, as
 * tight loops over typed arrays (one pass per frame, no per-voxel allocation).
 */

export interface PixelFormat {
  bitsAllocated: 8 | 16 | 32
  bitsStored: number
  signed: boolean
  littleEndian: boolean
}

/** One frame's samples inside an instance's PixelData buffer. */
export interface FramePixels {
  buffer: ArrayBuffer
  byteOffset: number
  count: number
  format: PixelFormat
}

/** The frame as unsigned words in host order (a view when possible, else one copy). */
function unsignedWords(frame: FramePixels): Uint8Array | Uint16Array | Uint32Array {
  const { buffer, byteOffset, count, format } = frame
  const bytes = format.bitsAllocated >> 3
  if (bytes === 1) return new Uint8Array(buffer, byteOffset, count)
  const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
  if (format.littleEndian === hostLittle && byteOffset % bytes === 0) {
    return bytes === 2 ? new Uint16Array(buffer, byteOffset, count) : new Uint32Array(buffer, byteOffset, count)
  }
  const view = new DataView(buffer, byteOffset, count * bytes)
  const le = format.littleEndian
  if (bytes === 2) {
    const out = new Uint16Array(count)
    for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, le)
    return out
  }
  const out = new Uint32Array(count)
  for (let i = 0; i < count; i++) out[i] = view.getUint32(4 * i, le)
  return out
}

/**
 * Stored pixel values are the low BitsStored bits (higher bits may hold overlays); signed ones are
 * two's complement at that width. `shift` sign-extends through int32 arithmetic.
 */
function storedValueDecoder(format: PixelFormat): { shift: number; mask: number } {
  const bits = Math.min(Math.max(format.bitsStored, 1), format.bitsAllocated)
  return { shift: 32 - bits, mask: bits >= 32 ? 0xffffffff : 2 ** bits - 1 }
}

/** Smallest and largest stored value of a frame (before rescale). */
export function storedRange(frame: FramePixels): { min: number; max: number } {
  const words = unsignedWords(frame)
  const { shift, mask } = storedValueDecoder(frame.format)
  let min = Infinity
  let max = -Infinity
  const n = words.length
  if (frame.format.signed) {
    for (let i = 0; i < n; i++) {
      const v = (words[i] << shift) >> shift
      if (v < min) min = v
      if (v > max) max = v
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = (words[i] & mask) >>> 0
      if (v < min) min = v
      if (v > max) max = v
    }
  }
  return { min, max }
}

/** Writes stored value * slope + intercept of every sample into out[outOffset ..]. */
export function rescaleFrameInto(
  frame: FramePixels,
  slope: number,
  intercept: number,
  out: { [index: number]: number },
  outOffset: number,
): void {
  const words = unsignedWords(frame)
  const { shift, mask } = storedValueDecoder(frame.format)
  const n = words.length
  if (frame.format.signed) {
    for (let i = 0; i < n; i++) out[outOffset + i] = ((words[i] << shift) >> shift) * slope + intercept
  } else {
    for (let i = 0; i < n; i++) out[outOffset + i] = ((words[i] & mask) >>> 0) * slope + intercept
  }
}
