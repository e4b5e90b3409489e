import type { CheckpointDtype } from './types'
import { DTYPE_BYTES } from './types'

/*
 * Writes the pickle torch.save puts in data.pkl, opcode for opcode as CPython's C pickler does at protocol 2
 * (torch's DEFAULT_PROTOCOL): PROTO 2; GLOBAL (memoized); BINUNICODE strings (memoized); BININT1/BININT2/
 * BININT/LONG1 ints; BINFLOAT; NEWTRUE/NEWFALSE; EMPTY_TUPLE/TUPLE1-3/MARK..TUPLE (memoized unless empty);
 * EMPTY_LIST + APPEND/MARK..APPENDS and EMPTY_DICT + SETITEM/MARK..SETITEMS in batches of 1000; BINPUT/
 * LONG_BINPUT memo writes and BINGET/LONG_BINGET reuse. An OrderedDict goes through its __reduce__:
 * GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE, then its items, then BUILD with its instance dict
 * (a state_dict's `_metadata`) when it has one. A tensor goes through torch's Tensor.__reduce_ex__:
 * torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, OrderedDict()),
 * the storage written as a persistent id ('storage', torch.<Type>Storage, key, location, numel) + BINPERSID.
 *
 * It exists so tests and fixture scripts can produce real-format checkpoints without PyTorch; it writes only
 * data (no globals beyond the ones above).
 */

/** A Python float (a JS number that is an integer would otherwise be written as a Python int). */
export class PickleFloat {
  constructor(readonly value: number) {}
}

export class PickleTuple {
  constructor(readonly items: readonly Picklable[]) {}
}

export class PickleDict {
  constructor(
    readonly entries: readonly (readonly [Picklable, Picklable])[],
    /** collections.OrderedDict rather than dict. */
    readonly ordered = false,
    /** The OrderedDict's instance __dict__ (torch puts `_metadata` there). */
    readonly attributes: PickleDict | null = null,
  ) {}
}

/** A storage: raw little-endian elements. Tensors sharing one SavedStorage share one `data/<key>` record. */
export class SavedStorage {
  constructor(
    readonly dtype: CheckpointDtype,
    readonly bytes: Uint8Array,
    readonly location = 'cpu',
  ) {
    if (bytes.length % DTYPE_BYTES[dtype]) throw new Error(`a ${dtype} storage of ${bytes.length} bytes`)
  }
  get numel(): number {
    return this.bytes.length / DTYPE_BYTES[this.dtype]
  }
}

export class SavedTensor {
  readonly stride: readonly number[]
  readonly storageOffset: number
  readonly requiresGrad: boolean
  constructor(
    readonly storage: SavedStorage,
    readonly shape: readonly number[],
    options: { stride?: readonly number[]; storageOffset?: number; requiresGrad?: boolean } = {},
  ) {
    this.stride = options.stride ?? rowMajorStrides(shape)
    this.storageOffset = options.storageOffset ?? 0
    this.requiresGrad = options.requiresGrad ?? false
  }
}

export type Picklable = null | boolean | number | bigint | string | PickleFloat | Picklable[] | PickleTuple | PickleDict | SavedTensor

const STORAGE_CLASS: Readonly<Record<CheckpointDtype, string>> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
}

export interface EncodedPickle {
  pickle: Uint8Array
  /** The storages in the order torch assigns keys ('0', '1', ...): first use. */
  storages: { key: string; storage: SavedStorage }[]
}

/** data.pkl for `root` as torch.save writes it, and the storages it refers to. */
export function encodeTorchPickle(root: Picklable): EncodedPickle {
  const p = new Pickler()
  p.bytes(0x80, 2)
  p.save(root)
  p.bytes(0x2e)
  return { pickle: p.finish(), storages: p.storages }
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length)
  let s = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s
    s *= shape[i]
  }
  return out
}

const BATCHSIZE = 1000

class Pickler {
  private buf = new Uint8Array(1 << 16)
  private length = 0
  private readonly objectMemo = new Map<object, number>()
  /**
   * CPython memoizes by object identity. Strings are memoized by value here, which matches torch as long as equal
   * strings are the same object there (literals such as storage, cpu, version); the storage keys
   * persistent_id makes with str(len(id_map)) are separate objects, so they get their own memo.
   */
  private readonly stringMemo = new Map<string, number>()
  private readonly storageKeyMemo = new Map<string, number>()
  private memoSize = 0
  private readonly storageKeys = new Map<SavedStorage, string>()
  readonly storages: { key: string; storage: SavedStorage }[] = []
  private readonly encoder = new TextEncoder()

  save(v: Picklable): void {
    if (v === null) return this.bytes(0x4e)
    if (typeof v === 'boolean') return this.bytes(v ? 0x88 : 0x89)
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(BigInt(v)) : this.float(v)
    if (typeof v === 'bigint') return this.int(v)
    if (v instanceof PickleFloat) return this.float(v.value)
    // Not memoized above this line, as in CPython (None, bools, ints and floats never are).
    if (typeof v === 'string') {
      if (this.getMemo(this.stringMemo.get(v))) return
      this.string(v)
      this.stringMemo.set(v, this.put())
      return
    }
    if (this.getMemo(this.objectMemo.get(v))) return
    if (Array.isArray(v)) return this.list(v)
    if (v instanceof PickleTuple) return this.tuple(v)
    if (v instanceof PickleDict) return v.ordered ? this.orderedDict(v) : this.dict(v)
    return this.tensor(v)
  }

  private list(v: Picklable[]): void {
    this.bytes(0x5d)
    this.objectMemo.set(v, this.put())
    if (v.length === 1) {
      this.save(v[0])
      this.bytes(0x61)
      return
    }
    let total = 0
    while (total < v.length) {
      this.bytes(0x28)
      for (let n = 0; n < BATCHSIZE && total < v.length; n++) this.save(v[total++])
      this.bytes(0x65)
    }
  }

  private tuple(v: PickleTuple): void {
    const n = v.items.length
    if (n === 0) return this.bytes(0x29)
    if (n <= 3) {
      for (const item of v.items) this.save(item)
      this.bytes(0x85 + n - 1)
    } else {
      this.bytes(0x28)
      for (const item of v.items) this.save(item)
      this.bytes(0x74)
    }
    this.objectMemo.set(v, this.put())
  }

  /** save_dict + batch_dict_exact. */
  private dict(v: PickleDict): void {
    this.bytes(0x7d)
    this.objectMemo.set(v, this.put())
    const items = v.entries
    if (items.length === 0) return
    if (items.length === 1) {
      this.save(items[0][0])
      this.save(items[0][1])
      this.bytes(0x73)
      return
    }
    let i = 0
    let batch: number
    do {
      batch = 0
      this.bytes(0x28)
      while (i < items.length) {
        this.save(items[i][0])
        this.save(items[i][1])
        i++
        if (++batch === BATCHSIZE) break
      }
      this.bytes(0x75)
    } while (batch === BATCHSIZE)
  }

  /** save_reduce of OrderedDict.__reduce__() = (OrderedDict, (), state, None, iter(items)), then batch_dict. */
  private orderedDict(v: PickleDict): void {
    this.global('collections', 'OrderedDict')
    this.bytes(0x29)
    this.bytes(0x52)
    this.objectMemo.set(v, this.put())
    const items = v.entries
    let i = 0
    while (i < items.length) {
      if (i + 1 === items.length) {
        this.save(items[i][0])
        this.save(items[i][1])
        this.bytes(0x73)
        break
      }
      this.bytes(0x28)
      for (let n = 0; n < BATCHSIZE && i < items.length; n++, i++) {
        this.save(items[i][0])
        this.save(items[i][1])
      }
      this.bytes(0x75)
    }
    if (v.attributes) {
      this.save(v.attributes)
      this.bytes(0x62)
    }
  }

  /** save_reduce of Tensor.__reduce_ex__(2). */
  private tensor(t: SavedTensor): void {
    this.global('torch._utils', '_rebuild_tensor_v2')
    this.bytes(0x28)
    this.persistentStorage(t.storage)
    this.save(t.storageOffset)
    this.save(new PickleTuple(t.shape))
    this.save(new PickleTuple(t.stride))
    this.save(t.requiresGrad)
    this.save(new PickleDict([], true)) // backward_hooks: a fresh OrderedDict()
    this.bytes(0x74)
    this.put() // the args tuple
    this.bytes(0x52)
    this.objectMemo.set(t, this.put())
  }

  /** persistent_id(storage) = ('storage', storage_type, key, location, numel), saved, then BINPERSID. */
  private persistentStorage(s: SavedStorage): void {
    let key = this.storageKeys.get(s)
    if (key === undefined) {
      key = String(this.storageKeys.size)
      this.storageKeys.set(s, key)
      this.storages.push({ key, storage: s })
    }
    this.bytes(0x28)
    this.save('storage')
    this.global('torch', STORAGE_CLASS[s.dtype])
    if (!this.getMemo(this.storageKeyMemo.get(key))) {
      this.string(key)
      this.storageKeyMemo.set(key, this.put())
    }
    this.save(s.location)
    this.save(s.numel)
    this.bytes(0x74)
    this.put() // the pid tuple
    this.bytes(0x51)
  }

  private string(v: string): void {
    const b = this.encoder.encode(v)
    this.bytes(0x58)
    this.u32(b.length)
    this.raw(b)
  }

  private global(module: string, name: string): void {
    const id = `\n${module}\n${name}`
    if (this.getMemo(this.stringMemo.get(id))) return
    this.bytes(0x63)
    this.raw(this.encoder.encode(`${module}\n${name}\n`))
    this.stringMemo.set(id, this.put())
  }

  /** save_long at protocol 2. */
  private int(v: bigint): void {
    if (v >= -0x80000000n && v <= 0x7fffffffn) {
      const x = Number(v)
      if (x >= 0 && x <= 0xff) return this.bytes(0x4b, x)
      if (x >= 0 && x <= 0xffff) return this.bytes(0x4d, x & 0xff, x >> 8)
      this.bytes(0x4a)
      const b = new Uint8Array(4)
      new DataView(b.buffer).setInt32(0, x, true)
      return this.raw(b)
    }
    // pickle.encode_long: minimal two's-complement little-endian.
    const bits = (v < 0n ? -v - 1n : v).toString(2).length
    let n = (bits >> 3) + 1
    const out: number[] = []
    let x = BigInt.asUintN(8 * n, v)
    for (let i = 0; i < n; i++) {
      out.push(Number(x & 0xffn))
      x >>= 8n
    }
    if (v < 0n && n > 1 && out[n - 1] === 0xff && out[n - 2] & 0x80) {
      out.pop()
      n--
    }
    this.bytes(0x8a, n, ...out)
  }

  private float(v: number): void {
    this.bytes(0x47)
    const b = new Uint8Array(8)
    new DataView(b.buffer).setFloat64(0, v, false)
    this.raw(b)
  }

  /** Writes BINGET/LONG_BINGET for a memo hit. */
  private getMemo(index: number | undefined): boolean {
    if (index === undefined) return false
    if (index < 256) this.bytes(0x68, index)
    else {
      this.bytes(0x6a)
      this.u32(index)
    }
    return true
  }

  /** BINPUT/LONG_BINPUT for the next memo slot; returns the slot. */
  private put(): number {
    const index = this.memoSize++
    if (index < 256) this.bytes(0x71, index)
    else {
      this.bytes(0x72)
      this.u32(index)
    }
    return index
  }

  bytes(...values: number[]): void {
    this.reserve(values.length)
    for (const b of values) this.buf[this.length++] = b
  }

  private u32(v: number): void {
    this.reserve(4)
    new DataView(this.buf.buffer).setUint32(this.length, v, true)
    this.length += 4
  }

  private raw(b: Uint8Array): void {
    this.reserve(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n))
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}
