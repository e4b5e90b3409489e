import { readFile } from 'node:fs/promises'

const PIXEL_DATA_TAG = [0xe0, 0x7f, 0x10, 0x00]

/**
 * How many bytes of a native PixelData value the file really holds, or undefined when the element
 * cannot be found. Needed because dcmjs 0.52 does not notice a file cut inside its pixel data: it
 * hands back a value of the declared length with the missing tail zero-filled (ReadBufferStream.slice),
 * which for a segmentation would silently drop segments.
 *
 * The element is found from the end of the file by its tag followed by the declared length (explicit
 * VR: tag, two VR letters, two zero bytes, 32-bit length; implicit VR: tag, 32-bit length), a 12- or
 * 8-byte pattern that pixel bits practically never reproduce.
 */
export async function pixelDataBytesPresent(filePath: string, declaredLength: number): Promise<number | undefined> {
  const bytes = await readFile(filePath)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = bytes.lastIndexOf(Buffer.from(PIXEL_DATA_TAG)); at >= 0; at = at > 0 ? bytes.lastIndexOf(Buffer.from(PIXEL_DATA_TAG), at - 1) : -1) {
    const isLetter = (b: number): boolean => b >= 0x41 && b <= 0x5a
    if (at + 12 <= bytes.length && isLetter(bytes[at + 4]) && isLetter(bytes[at + 5]) && bytes[at + 6] === 0 && bytes[at + 7] === 0) {
      if (view.getUint32(at + 8, true) === declaredLength) return bytes.length - (at + 12)
    }
    if (at + 8 <= bytes.length && view.getUint32(at + 4, true) === declaredLength) return bytes.length - (at + 8)
  }
  return undefined
}
