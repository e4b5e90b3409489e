import { open, readFile } from 'node:fs/promises'
import dcmjs, { type DicomDataDict } from 'dcmjs'
import { InputError } from '../InputError'
import type { NaturalizedDataset } from './dicomTypes'

// dcmjs logs every implicit-VR "xs"/"ox" element it resolves (US/OW) as an error on the console; that
// is routine for the implicit-VR files scanners write, not a problem worth a line per file.
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent')

/** Tags read straight from dcmjs's tag-keyed dataset (cheaper than naturalizing a whole header). */
export const TAG = {
  TransferSyntaxUID: '00020010',
  MediaStorageSOPClassUID: '00020002',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  StudyDate: '00080020',
  SeriesDate: '00080021',
  SeriesTime: '00080031',
  Modality: '00080060',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  FrameOfReferenceUID: '00200052',
  NumberOfFrames: '00280008',
  CorrectedImage: '00280051',
  PixelData: '7FE00010',
} as const

export const TRANSFER_SYNTAX = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflatedExplicitLittle: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
} as const

const UNCOMPRESSED = new Set<string>(Object.values(TRANSFER_SYNTAX))

/** Names of the compressed transfer syntaxes users meet, for error messages. */
const COMPRESSED_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.98': 'Encapsulated Uncompressed Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (lossy)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (lossy)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
}

export function isUncompressedTransferSyntax(uid: string): boolean {
  return UNCOMPRESSED.has(uid)
}

export function transferSyntaxName(uid: string): string {
  const name = COMPRESSED_NAMES[uid]
  return name ? `${name} (${uid})` : `transfer syntax ${uid}`
}

/** How much of a file the scanner reads first; a header longer than this costs a second, full read. */
export const HEADER_PROBE_BYTES = 64 * 1024
const PREAMBLE_BYTES = 132

export type HeaderRead =
  | { ok: true; meta: DicomDataDict; dict: DicomDataDict }
  | { ok: false; reason: string }

/**
 * The header of a DICOM Part 10 file (everything before the pixel data), or why the file is not one.
 * Reads the first `probeBytes` and parses up to the pixel data tag; when the header goes on past the
 * probe (or the file has no pixel data, e.g. RTSTRUCT, SR), the whole file is read instead.
 */
export async function readDicomHeader(filePath: string, probeBytes = HEADER_PROBE_BYTES): Promise<HeaderRead> {
  let head: Uint8Array
  let fileBytes: number
  try {
    const handle = await open(filePath, 'r')
    try {
      fileBytes = (await handle.stat()).size
      const want = Math.min(fileBytes, Math.max(probeBytes, PREAMBLE_BYTES))
      head = new Uint8Array(want)
      let got = 0
      while (got < want) {
        const { bytesRead } = await handle.read(head, got, want - got, got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      if (got < want) head = head.subarray(0, got)
    } finally {
      await handle.close()
    }
  } catch (e) {
    return { ok: false, reason: `cannot read the file (${errorText(e)})` }
  }
  if (head.length < PREAMBLE_BYTES || !hasDicmMarker(head)) {
    return { ok: false, reason: 'not a DICOM file (no "DICM" marker at byte 128)' }
  }
  const untilPixels = { untilTag: TAG.PixelData, ignoreErrors: false }
  if (head.length < fileBytes) {
    try {
      const parsed = dcmjs.data.DicomMessage.readFile(arrayBufferOf(head), untilPixels)
      // Only a parse that reached the pixel data tag saw the whole header: a cut inside the probe can
      // also end "cleanly" at an element boundary, with the rest of the header silently missing.
      if (parsed.dict[TAG.PixelData]) return { ok: true, meta: parsed.meta, dict: parsed.dict }
    } catch {
      // The header runs past the probe: read it all below.
    }
  }
  let whole: Uint8Array
  try {
    whole = head.length < fileBytes ? await readFile(filePath) : head
  } catch (e) {
    return { ok: false, reason: `cannot read the file (${errorText(e)})` }
  }
  try {
    const parsed = dcmjs.data.DicomMessage.readFile(arrayBufferOf(whole), untilPixels)
    return { ok: true, meta: parsed.meta, dict: parsed.dict }
  } catch (e) {
    return { ok: false, reason: `the DICOM header is unreadable or truncated (${errorText(e)})` }
  }
}

export interface DicomDataset {
  transferSyntaxUid: string
  /** The naturalized dataset, PixelData removed. */
  header: NaturalizedDataset
  /** The raw PixelData value: one buffer for native (uncompressed) data; absent when the file has none. */
  pixelData?: ArrayBuffer
}

/** A whole DICOM file: naturalized header plus native pixel data. Throws InputError naming the file. */
export async function readDicomDataset(filePath: string): Promise<DicomDataset> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(filePath)
  } catch (e) {
    throw new InputError(filePath, `cannot read the file (${errorText(e)})`)
  }
  if (bytes.length < PREAMBLE_BYTES || !hasDicmMarker(bytes)) {
    throw new InputError(filePath, 'not a DICOM file (no "DICM" marker at byte 128)')
  }
  let meta: DicomDataDict
  let dict: DicomDataDict
  try {
    ;({ meta, dict } = dcmjs.data.DicomMessage.readFile(arrayBufferOf(bytes), { ignoreErrors: false }))
  } catch (e) {
    throw new InputError(filePath, `the DICOM file is unreadable or truncated (${errorText(e)})`)
  }
  const transferSyntaxUid = String(meta[TAG.TransferSyntaxUID]?.Value?.[0] ?? '').trim()
  if (!isUncompressedTransferSyntax(transferSyntaxUid)) {
    throw new InputError(filePath, `pixel data in ${transferSyntaxName(transferSyntaxUid)} is compressed; compressed DICOM is not supported yet`)
  }
  const pixelElement = dict[TAG.PixelData]
  delete dict[TAG.PixelData]
  const first = pixelElement?.Value?.[0]
  const pixelData =
    first instanceof ArrayBuffer ? first : ArrayBuffer.isView(first) ? arrayBufferOf(first as Uint8Array) : undefined
  if (pixelData && transferSyntaxUid !== TRANSFER_SYNTAX.deflatedExplicitLittle) {
    const bigEndian = transferSyntaxUid === TRANSFER_SYNTAX.explicitBig
    const implicit = transferSyntaxUid === TRANSFER_SYNTAX.implicitLittle
    const inFile = pixelBytesInFile(bytes, pixelData.byteLength, bigEndian, implicit)
    if (inFile !== undefined && inFile < pixelData.byteLength) {
      throw new InputError(filePath, `the pixel data is truncated: the file holds ${inFile} of its ${pixelData.byteLength} bytes`)
    }
  }
  const header = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict)
  return { transferSyntaxUid, header, pixelData }
}

/**
 * How many bytes of a native PixelData value of `length` bytes the file really holds, or undefined
 * when its element header cannot be found. Needed because dcmjs 0.52 silently zero-fills a value cut
 * short by the end of the file (SplitDataView.slice), so a truncated image would read as black.
 * Looks for the element header carrying exactly this length, from the end (pixel data comes last).
 */
function pixelBytesInFile(file: Uint8Array, length: number, bigEndian: boolean, implicit: boolean): number | undefined {
  const header: number[] = bigEndian ? [0x7f, 0xe0, 0x00, 0x10] : [0xe0, 0x7f, 0x10, 0x00]
  const lengthBytes = [length & 0xff, (length >>> 8) & 0xff, (length >>> 16) & 0xff, (length >>> 24) & 0xff]
  if (bigEndian) lengthBytes.reverse()
  const candidates = implicit
    ? [[...header, ...lengthBytes]]
    : [0x57, 0x42].map((second) => [...header, 0x4f, second, 0, 0, ...lengthBytes]) // "OW", "OB"
  const data = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  for (const pattern of candidates) {
    const at = data.lastIndexOf(Buffer.from(pattern))
    if (at >= 0) return Math.min(length, file.byteLength - (at + pattern.length))
  }
  return undefined
}

/** First value of a tag in a tag-keyed dataset, as trimmed text ('' when absent). */
export function tagText(dict: DicomDataDict, tag: string): string {
  const v = dict[tag]?.Value?.[0]
  if (v === undefined || v === null) return ''
  if (typeof v === 'object') return personNameText(v)
  return String(v).trim()
}

/** All values of a tag as trimmed text. */
export function tagTexts(dict: DicomDataDict, tag: string): string[] {
  return (dict[tag]?.Value ?? []).filter((v) => v !== undefined && v !== null).map((v) => String(v).trim())
}

/** First value of a tag as a finite number, else undefined. */
export function tagNumber(dict: DicomDataDict, tag: string): number | undefined {
  const v = dict[tag]?.Value?.[0]
  if (v === undefined || v === null || v === '') return undefined
  const n = typeof v === 'number' ? v : Number(String(v).trim())
  return Number.isFinite(n) ? n : undefined
}

/** dcmjs reads PN as { Alphabetic, Ideographic, Phonetic }; the alphabetic form is what we show. */
function personNameText(v: unknown): string {
  const pn = v as { Alphabetic?: unknown }
  return typeof pn.Alphabetic === 'string' ? pn.Alphabetic.trim() : ''
}

function hasDicmMarker(bytes: Uint8Array): boolean {
  return bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
}

/** An ArrayBuffer holding exactly these bytes (dcmjs wants one; a Node Buffer may share a pool). */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer
  }
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

export function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException
  return err?.code ?? err?.message ?? String(e)
}
