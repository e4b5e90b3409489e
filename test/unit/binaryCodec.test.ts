import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from '../../src/shared/api/binaryCodec'

const bytes = (v: ArrayBufferView | ArrayBuffer): Buffer =>
  v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength)

/** Same constructor, same length, same bytes. */
function sameTyped(a: unknown, b: ArrayBufferView | ArrayBuffer): boolean {
  if (b instanceof ArrayBuffer) return a instanceof ArrayBuffer && bytes(a).equals(bytes(b))
  return (
    ArrayBuffer.isView(a) &&
    a.constructor === b.constructor &&
    (a as unknown as { length: number }).length === (b as unknown as { length: number }).length &&
    bytes(a).equals(bytes(b))
  )
}

function headerOf(frame: Uint8Array): unknown {
  const n = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true)
  return JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + n)))
}

describe('binaryCodec round trip', () => {
  it('nested objects with typed arrays and ArrayBuffers: values and types preserved', () => {
    const f32 = new Float32Array([1.5, -0, NaN, Infinity, -3.4e38, 1e-45])
    const i16 = new Int16Array([-32768, -1024, 0, 1, 32767])
    const u8 = new Uint8Array([0, 1, 254, 255, 7]) // odd length: the next attachment must be realigned
    const ab = new Uint8Array([9, 8, 7]).buffer
    const f64 = new Float64Array([Math.PI, -Number.MAX_VALUE])
    const message = {
      id: 42,
      method: 'volume.get',
      nested: { deeper: { f32, list: [i16, { u8 }, 'text', null, true] }, ab },
      f64,
      empty: new Float32Array(0),
      plain: { a: 1, b: [1, 2, 3], c: 'ünïcödé ✓', d: null },
    }
    const frame = encodeMessage(message)
    const back = decodeMessage(frame) as typeof message
    expect(back.id).toBe(42)
    expect(back.method).toBe('volume.get')
    expect(back.plain).toEqual(message.plain)
    expect(back.nested.deeper.list[2]).toBe('text')
    expect(back.nested.deeper.list[3]).toBeNull()
    expect(back.nested.deeper.list[4]).toBe(true)
    expect(sameTyped(back.nested.deeper.f32, f32)).toBe(true)
    expect(Object.is(back.nested.deeper.f32[1], -0)).toBe(true)
    expect(Number.isNaN(back.nested.deeper.f32[2])).toBe(true)
    expect(sameTyped(back.nested.deeper.list[0], i16)).toBe(true)
    expect(sameTyped((back.nested.deeper.list[1] as { u8: Uint8Array }).u8, u8)).toBe(true)
    expect(sameTyped(back.nested.ab, ab)).toBe(true)
    expect(sameTyped(back.f64, f64)).toBe(true)
    expect(sameTyped(back.empty, message.empty)).toBe(true)
  })

  it('the voxels travel as attachments, not as JSON numbers', () => {
    const big = new Float32Array(100_000).map((_, i) => i * 0.5)
    const frame = encodeMessage({ voxels: big })
    // Header + padding + 400,000 bytes; JSON numbers would be several times larger.
    expect(frame.byteLength).toBeLessThan(big.byteLength + 200)
    expect(headerOf(frame)).toEqual({ voxels: { $binary: 0, type: 'Float32Array', length: 100_000 } })
    const back = decodeMessage(frame) as { voxels: Float32Array }
    expect(sameTyped(back.voxels, big)).toBe(true)
  })

  it('attachments start 8-byte aligned in the frame', () => {
    const frame = encodeMessage({ a: new Uint8Array([1, 2, 3]), b: new Float64Array([1.25]) })
    const headerLength = new DataView(frame.buffer).getUint32(0, true)
    const first = (4 + headerLength + 7) & ~7
    expect(Array.from(frame.subarray(first, first + 3))).toEqual([1, 2, 3])
    const second = (first + 3 + 7) & ~7
    expect(new DataView(frame.buffer).getFloat64(second, true)).toBe(1.25)
  })

  it('views with a byteOffset into a larger buffer: only the view travels', () => {
    const backing = new ArrayBuffer(4096)
    new Uint8Array(backing).fill(0xee)
    const f32 = new Float32Array(backing, 12, 5)
    f32.set([1, 2, 3, 4, 5])
    const i16 = new Int16Array(backing, 2002, 3)
    i16.set([-7, 0, 7])
    const u8 = new Uint8Array(backing, 3001, 4)
    u8.set([10, 20, 30, 40])
    const frame = encodeMessage({ f32, i16, u8 })
    expect(frame.byteLength).toBeLessThan(512)
    const back = decodeMessage(frame) as { f32: Float32Array; i16: Int16Array; u8: Uint8Array }
    expect(Array.from(back.f32)).toEqual([1, 2, 3, 4, 5])
    expect(Array.from(back.i16)).toEqual([-7, 0, 7])
    expect(Array.from(back.u8)).toEqual([10, 20, 30, 40])
    expect(back.f32).toBeInstanceOf(Float32Array)
    expect(back.i16).toBeInstanceOf(Int16Array)
    // The frame is a copy: changing the sender's memory afterwards changes nothing decoded.
    f32[0] = 99
    expect(back.f32[0]).toBe(1)
  })

  it('a SharedArrayBuffer-backed view (how volumes are held) and a SharedArrayBuffer', () => {
    const shared = new SharedArrayBuffer(64)
    const f32 = new Float32Array(shared, 8, 6)
    f32.set([0.5, -1.5, 2.25, 1024, -1024, 3.5])
    const raw = new SharedArrayBuffer(3)
    new Uint8Array(raw).set([5, 6, 7])
    const back = decodeMessage(encodeMessage({ voxels: f32, raw })) as { voxels: Float32Array; raw: ArrayBuffer }
    expect(back.voxels).toBeInstanceOf(Float32Array)
    expect(Array.from(back.voxels)).toEqual([0.5, -1.5, 2.25, 1024, -1024, 3.5])
    expect(Array.from(new Uint8Array(back.raw))).toEqual([5, 6, 7])
  })

  it('decodes from a Node Buffer that is a view into a larger pool (as ws delivers frames), at any offset', () => {
    const frame = encodeMessage({ id: 3, v: new Int16Array([1, -2, 3]), f: new Float64Array([0.1, -2.5]) })
    for (const offset of [0, 1, 2, 4, 8, 37]) {
      const pool = Buffer.alloc(frame.byteLength + 100, 0xab)
      pool.set(frame, offset)
      const view = pool.subarray(offset, offset + frame.byteLength)
      const back = decodeMessage(view) as { id: number; v: Int16Array; f: Float64Array }
      expect(back.id).toBe(3)
      expect(back.v).toBeInstanceOf(Int16Array)
      expect(Array.from(back.v)).toEqual([1, -2, 3])
      expect(back.f).toBeInstanceOf(Float64Array)
      expect(Array.from(back.f)).toEqual([0.1, -2.5])
    }
    // And from a plain ArrayBuffer.
    const ab = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength)
    expect((decodeMessage(ab) as { id: number }).id).toBe(3)
  })

  it('messages without binary data', () => {
    for (const m of [null, 0, 'x', [1, 'a', null], { a: { b: { c: [] } } }]) {
      expect(decodeMessage(encodeMessage(m))).toEqual(m)
    }
  })

  it('the same array twice travels twice and decodes to two equal arrays', () => {
    const a = new Uint8Array([1, 2, 3])
    const back = decodeMessage(encodeMessage({ x: a, y: a })) as { x: Uint8Array; y: Uint8Array }
    expect(Array.from(back.x)).toEqual([1, 2, 3])
    expect(Array.from(back.y)).toEqual([1, 2, 3])
  })
})

describe('binaryCodec on bad frames', () => {
  const good = encodeMessage({ id: 1, voxels: new Float32Array([1, 2, 3, 4]), mask: new Uint8Array(9) })

  it('shorter than the length prefix', () => {
    expect(() => decodeMessage(new Uint8Array(0))).toThrow(/too short/)
    expect(() => decodeMessage(new Uint8Array([1, 0]))).toThrow(/too short/)
  })

  it('a header length beyond the frame', () => {
    expect(() => decodeMessage(good.subarray(0, 10))).toThrow(/overruns/)
    const liar = new Uint8Array(16)
    new DataView(liar.buffer).setUint32(0, 0xffffffff, true)
    expect(() => decodeMessage(liar)).toThrow(/overruns/)
  })

  it('attachments cut off: every truncation point throws, never returns short arrays', () => {
    const headerLength = new DataView(good.buffer).getUint32(0, true)
    const lastByte = good.byteLength - 1 - ((good.byteLength - 1) % 8) // somewhere inside the last attachment
    let unthrown = 0
    for (let cut = 4 + headerLength; cut < lastByte; cut++) {
      try {
        decodeMessage(good.subarray(0, cut))
        unthrown++
      } catch (e) {
        if (!/truncated/.test((e as Error).message)) unthrown++
      }
    }
    expect(unthrown).toBe(0)
  })

  it('a header that is not JSON', () => {
    const text = new TextEncoder().encode('{"id": 1, "method": ')
    const frame = new Uint8Array(4 + text.length)
    new DataView(frame.buffer).setUint32(0, text.length, true)
    frame.set(text, 4)
    expect(() => decodeMessage(frame)).toThrow(SyntaxError)
  })

  it('random garbage throws an Error (never hangs or returns)', () => {
    let s = 12345
    const rnd = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32)
    let returned = 0
    for (let n = 0; n < 200; n++) {
      const junk = new Uint8Array(8 + Math.floor(rnd() * 200)).map(() => Math.floor(rnd() * 256))
      try {
        decodeMessage(junk)
        returned++
      } catch (e) {
        expect(e).toBeInstanceOf(Error)
      }
    }
    expect(returned).toBe(0)
  })

  it('references to missing attachments or unknown array types', () => {
    const frameWith = (header: unknown, payload = new Uint8Array(0)): Uint8Array => {
      const h = new TextEncoder().encode(JSON.stringify(header))
      const at = (4 + h.length + 7) & ~7
      const frame = new Uint8Array(at + payload.length)
      new DataView(frame.buffer).setUint32(0, h.length, true)
      frame.set(h, 4)
      frame.set(payload, at)
      return frame
    }
    expect(() => decodeMessage(frameWith({ v: { $binary: 1, type: 'Uint8Array', length: 1 } }, new Uint8Array(16)))).toThrow(/missing attachment 0/)
    expect(() => decodeMessage(frameWith({ v: { $binary: 0, type: 'Evil', length: 1 } }, new Uint8Array(8)))).toThrow(/unknown array type/)
    expect(() => decodeMessage(frameWith({ v: { $binary: 0, type: 'Float64Array', length: 4 } }, new Uint8Array(8)))).toThrow(/truncated/)
    // A well-formed hand-made frame decodes (so the failures above are about what they say).
    const ok = decodeMessage(frameWith({ v: { $binary: 0, type: 'Int16Array', length: 2 } }, new Uint8Array([1, 0, 255, 255]))) as { v: Int16Array }
    expect(Array.from(ok.v)).toEqual([1, -1])
  })
})
