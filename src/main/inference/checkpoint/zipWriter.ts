import { crc32 } from 'node:zlib'

/*
 * Writes a zip archive the way PyTorch's PyTorchStreamWriter drives miniz (caffe2/serialize/inline_container.cc):
 * every record stored uncompressed, its data aligned to 64 bytes by an "FB" extra field of 'Z' padding in the
 * local header, the local header's CRC and sizes zero with a data descriptor after the data (general purpose
 * flags 0x0808: descriptor + UTF-8 names), DOS time and date zero, and a zip64 end-of-central-directory record
 * and locator before the classic end record (miniz writes them whenever MZ_ZIP_FLAG_WRITE_ZIP64 is set).
 * Archives over 4 GiB (which would need zip64 per-record fields) are not supported.
 */

export interface ZipRecord {
  name: string
  data: Uint8Array
}

const ALIGNMENT = 64

export function encodeTorchStyleZip(records: readonly ZipRecord[]): Uint8Array {
  const encoder = new TextEncoder()
  const parts: Uint8Array[] = []
  const central: Uint8Array[] = []
  let offset = 0
  const push = (b: Uint8Array): void => {
    parts.push(b)
    offset += b.length
  }
  for (const record of records) {
    const name = encoder.encode(record.name)
    const size = record.data.length
    const crc = crc32(record.data) >>> 0
    // getPadding(): the data would start after the 30-byte header, the name and the FB field's own 4 bytes.
    const start = offset + 30 + name.length + 4
    const padding = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT
    const local = new Uint8Array(30 + name.length + 4 + padding)
    const lv = new DataView(local.buffer)
    lv.setUint32(0, 0x04034b50, true)
    lv.setUint16(4, 0, true) // version needed (miniz: 0 for stored)
    lv.setUint16(6, 0x0808, true)
    lv.setUint16(8, 0, true) // stored
    lv.setUint16(26, name.length, true)
    lv.setUint16(28, 4 + padding, true)
    local.set(name, 30)
    local[30 + name.length] = 0x46 // 'F'
    local[31 + name.length] = 0x42 // 'B'
    lv.setUint16(32 + name.length, padding, true)
    local.fill(0x5a, 34 + name.length) // 'Z'
    const localOffset = offset
    push(local)
    push(record.data)
    const descriptor = new Uint8Array(16)
    const dv = new DataView(descriptor.buffer)
    dv.setUint32(0, 0x08074b50, true)
    dv.setUint32(4, crc, true)
    dv.setUint32(8, size, true)
    dv.setUint32(12, size, true)
    push(descriptor)
    if (offset > 0xfffffffe) throw new Error('archives over 4 GiB are not supported by this writer')

    const entry = new Uint8Array(46 + name.length)
    const cv = new DataView(entry.buffer)
    cv.setUint32(0, 0x02014b50, true)
    cv.setUint16(4, 0, true) // version made by
    cv.setUint16(6, 0, true) // version needed
    cv.setUint16(8, 0x0808, true)
    cv.setUint16(10, 0, true)
    cv.setUint32(16, crc, true)
    cv.setUint32(20, size, true)
    cv.setUint32(24, size, true)
    cv.setUint16(28, name.length, true)
    cv.setUint32(42, localOffset, true)
    entry.set(name, 46)
    central.push(entry)
  }
  const dirOffset = offset
  for (const entry of central) push(entry)
  const dirSize = offset - dirOffset

  const end64At = offset
  const end64 = new Uint8Array(56)
  const e64 = new DataView(end64.buffer)
  e64.setUint32(0, 0x06064b50, true)
  e64.setBigUint64(4, 44n, true) // size of the rest of this record
  e64.setUint16(12, 0, true) // version made by
  e64.setUint16(14, 0, true) // version needed
  e64.setBigUint64(24, BigInt(records.length), true)
  e64.setBigUint64(32, BigInt(records.length), true)
  e64.setBigUint64(40, BigInt(dirSize), true)
  e64.setBigUint64(48, BigInt(dirOffset), true)
  push(end64)
  const locator = new Uint8Array(20)
  const lo = new DataView(locator.buffer)
  lo.setUint32(0, 0x07064b50, true)
  lo.setBigUint64(8, BigInt(end64At), true)
  lo.setUint32(16, 1, true) // total disks
  push(locator)
  const end = new Uint8Array(22)
  const ev = new DataView(end.buffer)
  ev.setUint32(0, 0x06054b50, true)
  ev.setUint16(8, Math.min(0xffff, records.length), true)
  ev.setUint16(10, Math.min(0xffff, records.length), true)
  ev.setUint32(12, dirSize, true)
  ev.setUint32(16, dirOffset, true)
  push(end)

  const out = new Uint8Array(offset)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
