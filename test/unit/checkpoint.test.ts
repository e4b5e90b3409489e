import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/main/io/InputError'
import { checkStateDict, compareStateDict } from '../../src/main/inference/checkpoint/checkState'
import { decodeCheckpoint, loadCheckpointFile, sniffCheckpointFormat } from '../../src/main/inference/checkpoint/loadCheckpoint'
import { PickleDict, PickleFloat, SavedStorage, SavedTensor } from '../../src/main/inference/checkpoint/pickler'
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../../src/main/inference/checkpoint/safetensors'
import { normaliseStateDictKeys } from '../../src/main/inference/checkpoint/stateDict'
import { encodeElements, floatToHalf, halfToFloat } from '../../src/main/inference/checkpoint/tensorData'
import { encodeTorchCheckpoint, torchStateDict } from '../../src/main/inference/checkpoint/torchSave'
import { decodeTorchCheckpoint, readTorchCheckpoint } from '../../src/main/inference/checkpoint/torchZip'
import type { CheckpointTensor } from '../../src/main/inference/checkpoint/types'
import { PyDict, PyGlobal, PySet, PyTensor, PyTuple, unpickle, type PyValue } from '../../src/main/inference/checkpoint/unpickler'
import { UnsafePickleError } from '../../src/main/inference/checkpoint/UnsafePickleError'
import { ZipArchive } from '../../src/main/inference/checkpoint/zipReader'
import { encodeTorchStyleZip } from '../../src/main/inference/checkpoint/zipWriter'
import { makeTempDir, REPO_ROOT } from './helpers/data'

const FIXTURES = join(REPO_ROOT, 'test/fixtures/checkpoints')
const fixture = (name: string): string => join(FIXTURES, name)
const KEY_LIST = resolve(REPO_ROOT, '../shared/spec/monai-unet-state-dict-keys.txt')
const PWNED = '/tmp/lesionlab-pwned'

const tmp = makeTempDir('lesionlab-checkpoint-')
afterAll(() => tmp.cleanup())

// ---------------------------------------------------------------- helpers

/** What scripts/make-checkpoint-fixtures.ts stores in the tiny state_dict, read back row-major. */
const TINY_EXPECTED: Record<string, { dtype: CheckpointTensor['dtype']; shape: number[]; values: number[] }> = {
  'model.0.conv.weight': { dtype: 'float32', shape: [2, 3], values: [0.5, -1, 1.5, 2, -2.5, 3] },
  'model.0.conv.bias': { dtype: 'float32', shape: [2], values: [0.25, -0.75] }, // storage offset 3, shared storage
  'model.0.adn.N.weight': { dtype: 'float32', shape: [3], values: [9, 8, 7] }, // the same storage, offset 0
  'model.0.adn.N.bias': { dtype: 'float32', shape: [3, 2], values: [1, 4, 2, 5, 3, 6] }, // stride (1, 3): a transpose
  'model.0.adn.N.running_mean': { dtype: 'float32', shape: [2, 2, 2], values: [2, 4, 6, 8, 3, 5, 7, 9] }, // offset 2, stride (1, 4, 2)
  'model.0.adn.N.running_var': { dtype: 'float16', shape: [4], values: [0.5, -2.25, 65504, 2 ** -24] },
  'model.0.adn.N.num_batches_tracked': { dtype: 'int64', shape: [], values: [7] },
  'model.0.adn.A.weight': { dtype: 'bfloat16', shape: [3], values: [0.25, -1.5, 3.140625] },
  'model.1.weight': { dtype: 'float64', shape: [2, 1, 1, 1], values: [Math.fround(0.1), Math.fround(-0.2)] },
  'model.1.bias': { dtype: 'float32', shape: [0], values: [] },
}

function expectTiny(m: Map<string, CheckpointTensor>): void {
  expect([...m.keys()].sort()).toEqual(Object.keys(TINY_EXPECTED).sort())
  for (const [key, want] of Object.entries(TINY_EXPECTED)) {
    const t = m.get(key) as CheckpointTensor
    expect({ key, dtype: t.dtype, shape: t.shape }).toEqual({ key, dtype: want.dtype, shape: want.shape })
    expect(t.data).toBeInstanceOf(Float32Array)
    expect([...t.data]).toEqual(want.values)
  }
  expect([...(m.get('model.0.adn.N.num_batches_tracked')?.int64Data ?? [])]).toEqual([7n])
}

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

function errorOf(f: () => unknown): Error {
  try {
    f()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected an error')
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

function concat(...parts: (Uint8Array | number[] | number)[]): Uint8Array {
  const arrays = parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : p instanceof Uint8Array ? p : Uint8Array.from(p)))
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0))
  let at = 0
  for (const a of arrays) {
    out.set(a, at)
    at += a.length
  }
  return out
}

/** A small pickle assembler: opcodes as numbers, helpers for the ones with arguments. */
const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89, REDUCE: 0x52,
  BUILD: 0x62, APPEND: 0x61, APPENDS: 0x65, LIST: 0x6c, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, TUPLE: 0x74, TUPLE1: 0x85,
  TUPLE2: 0x86, TUPLE3: 0x87, EMPTY_DICT: 0x7d, DICT: 0x64, SETITEM: 0x73, SETITEMS: 0x75, EMPTY_SET: 0x8f, ADDITEMS: 0x90,
  FROZENSET: 0x91, NEWOBJ: 0x81, OBJ: 0x6f, BINPERSID: 0x51, STACK_GLOBAL: 0x93, MEMOIZE: 0x94,
}
const proto = (n: number): number[] => [0x80, n]
const global = (module: string, name: string): Uint8Array => concat(0x63, text(`${module}\n${name}\n`))
const inst = (module: string, name: string): Uint8Array => concat(0x69, text(`${module}\n${name}\n`))
const uni = (s: string): Uint8Array => {
  const b = text(s)
  const head = new Uint8Array(5)
  head[0] = 0x58
  new DataView(head.buffer).setUint32(1, b.length, true)
  return concat(head, b)
}
const short = (s: string): Uint8Array => concat(0x8c, text(s).length, text(s))
const int1 = (n: number): number[] => [0x4b, n]
const binint = (n: number): Uint8Array => {
  const b = new Uint8Array(5)
  b[0] = 0x4a
  new DataView(b.buffer).setInt32(1, n, true)
  return b
}
const long1 = (v: bigint, bytes: number): Uint8Array => {
  const b = new Uint8Array(2 + bytes)
  b[0] = 0x8a
  b[1] = bytes
  let x = BigInt.asUintN(8 * bytes, v)
  for (let i = 0; i < bytes; i++) {
    b[2 + i] = Number(x & 0xffn)
    x >>= 8n
  }
  return b
}
const binfloat = (v: number): Uint8Array => {
  const b = new Uint8Array(9)
  b[0] = 0x47
  new DataView(b.buffer).setFloat64(1, v, false)
  return b
}
const binput = (i: number): number[] => [0x71, i]
const binget = (i: number): number[] => [0x68, i]
const longBinput = (i: number): Uint8Array => concat(0x72, new Uint8Array(new Uint32Array([i]).buffer))
const longBinget = (i: number): Uint8Array => concat(0x6a, new Uint8Array(new Uint32Array([i]).buffer))
const frame = (body: Uint8Array): Uint8Array => {
  const head = new Uint8Array(9)
  head[0] = 0x95
  new DataView(head.buffer).setBigUint64(1, BigInt(body.length), true)
  return concat(head, body)
}
const orderedDictCall = (): Uint8Array => concat(global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE)
const tuple = (...items: Uint8Array[]): Uint8Array =>
  items.length === 0 ? Uint8Array.of(OP.EMPTY_TUPLE) : items.length <= 3 ? concat(...items, 0x85 + items.length - 1) : concat(OP.MARK, ...items, OP.TUPLE)
const ints = (values: number[]): Uint8Array[] => values.map((v) => binint(v))

/** _rebuild_tensor_v2 of storage `key`, hand-assembled without memo opcodes. */
function tensorV2(storageClass: string, key: string, numel: number, offset: number, shape: number[], stride: number[]): Uint8Array {
  const pid = concat(OP.MARK, uni('storage'), global('torch', storageClass), uni(key), uni('cpu'), binint(numel), OP.TUPLE, OP.BINPERSID)
  return concat(global('torch._utils', '_rebuild_tensor_v2'), OP.MARK, pid, binint(offset), tuple(...ints(shape)), tuple(...ints(stride)), OP.NEWFALSE, orderedDictCall(), OP.TUPLE, OP.REDUCE)
}

/** A state_dict pickle {key: tensor, ...} (plain dict). */
function dictPickle(entries: [string, Uint8Array][]): Uint8Array {
  return concat(proto(2), OP.EMPTY_DICT, OP.MARK, ...entries.flatMap(([k, v]) => [uni(k), v]), OP.SETITEMS, OP.STOP)
}

/** A torch-layout zip around a hand-made pickle and storages. */
function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, options: { prefix?: string; byteorder?: string; extra?: Record<string, Uint8Array> } = {}): Uint8Array {
  const p = `${options.prefix ?? 'archive'}/`
  return encodeTorchStyleZip([
    { name: `${p}data.pkl`, data: pickle },
    ...(options.byteorder === undefined ? [] : [{ name: `${p}byteorder`, data: text(options.byteorder) }]),
    ...Object.entries(storages).map(([k, data]) => ({ name: `${p}data/${k}`, data })),
    ...Object.entries(options.extra ?? {}).map(([name, data]) => ({ name: `${p}${name}`, data })),
    { name: `${p}version`, data: text('3\n') },
  ])
}

const unp = (...parts: (Uint8Array | number[] | number)[]): PyValue => unpickle(concat(...parts), { filePath: 'test.pkl' })

/** PyValues as plain JSON-able data, for comparisons. */
function plain(v: PyValue): unknown {
  if (v instanceof PyTuple) return { tuple: v.items.map(plain) }
  if (v instanceof PyDict) return { [v.ordered ? 'odict' : 'dict']: [...v.entries].map(([k, x]) => [plain(k), plain(x)]) }
  if (v instanceof PySet) return { [v.frozen ? 'frozenset' : 'set']: v.items.map(plain) }
  if (v instanceof PyGlobal) return { global: v.fullName }
  if (v instanceof PyTensor) return { tensor: { key: v.storage.key, dtype: v.dtype, offset: v.storageOffset, shape: v.shape, stride: v.stride } }
  if (v instanceof Uint8Array) return { bytes: [...v] }
  if (Array.isArray(v)) return v.map(plain)
  return v
}

// ---------------------------------------------------------------- fixtures

describe('PyTorch zip checkpoints (fixtures)', () => {
  it('reads every tensor of tiny.pt with exact values, shapes, strides, storage offsets and dtypes', async () => {
    expectTiny(await readTorchCheckpoint(fixture('tiny.pt')))
  })

  it('unwraps {"state_dict": ...} training checkpoints (epoch, optimizer, floats, None, big and negative ints around it)', async () => {
    expectTiny(await loadCheckpointFile(fixture('tiny-wrapped-state_dict.pt')))
  })

  it('unwraps {"model": ...} and prefixes bare keys with "model."', async () => {
    expectTiny(await loadCheckpointFile(fixture('tiny-wrapped-model.pt')))
  })

  it('strips the DataParallel "module." prefix', async () => {
    expectTiny(await loadCheckpointFile(fixture('tiny-dataparallel.pt')))
  })

  it('reads tiny.safetensors to exactly what tiny.pt holds', async () => {
    const st = await readSafetensors(fixture('tiny.safetensors'))
    const pt = await loadCheckpointFile(fixture('tiny.pt'))
    expectTiny(st)
    for (const [k, t] of pt) expect(st.get(k)).toEqual(t)
    expect(await loadCheckpointFile(fixture('tiny.safetensors'))).toEqual(st)
  })

  it('refuses the legacy (pre-1.6) format with a re-save hint', async () => {
    const e = await rejection(loadCheckpointFile(fixture('legacy-format.pt')))
    expect(e).toBeInstanceOf(InputError)
    expect(e.message).toContain(fixture('legacy-format.pt'))
    expect(e.message).toMatch(/old PyTorch format.*_use_new_zipfile_serialization=True/)
  })

  it('sniffs formats by content, not extension', () => {
    expect(sniffCheckpointFormat(readFileSync(fixture('tiny.pt')))).toBe('torch-zip')
    expect(sniffCheckpointFormat(readFileSync(fixture('tiny.safetensors')))).toBe('safetensors')
    expect(sniffCheckpointFormat(readFileSync(fixture('legacy-format.pt')))).toBe('torch-legacy')
    expect(sniffCheckpointFormat(concat(proto(2), OP.NONE, OP.STOP))).toBe('pickle')
    expect(sniffCheckpointFormat(new Uint8Array(0))).toBe('empty')
    expect(sniffCheckpointFormat(text('ONNX or anything else'))).toBe('unknown')
  })

  it('writes the fixtures it reads: the writer round-trips through the reader under any archive name', () => {
    const s = new SavedStorage('float32', encodeElements('float32', [1, 2, 3, 4, 5, 6]))
    const bytes = encodeTorchCheckpoint(torchStateDict([['model.x', new SavedTensor(s, [3, 2], { stride: [1, 3] })]]), { archiveName: 'my weights (fold 0)' })
    const m = decodeTorchCheckpoint(bytes, 'mem.pt')
    expect([...(m.get('model.x') as CheckpointTensor).data]).toEqual([1, 4, 2, 5, 3, 6])
  })
})

// ---------------------------------------------------------------- malicious pickles

describe('malicious checkpoints are refused and never run', () => {
  beforeAll(() => rmSync(PWNED, { force: true }))
  afterAll(() => expect(existsSync(PWNED)).toBe(false))

  it.each([
    ['malicious-os-system.pt', 'os.system'],
    ['malicious-builtins-eval.pt', 'builtins.eval'],
    ['malicious-posix-system-proto4.pt', 'posix.system'],
  ])('%s -> UnsafePickleError naming %s', async (name, global) => {
    const e = await rejection(loadCheckpointFile(fixture(name)))
    expect(e).toBeInstanceOf(UnsafePickleError)
    expect(e).toBeInstanceOf(InputError)
    expect((e as UnsafePickleError).globalName).toBe(global)
    expect((e as InputError).filePath).toBe(fixture(name))
    expect(e.message).toContain(global)
    expect(e.message).not.toContain('lesionlab-pwned')
    expect(existsSync(PWNED)).toBe(false)
  })

  const unsafe = (name: string, ...parts: (Uint8Array | number[] | number)[]): void => {
    const e = errorOf(() => unp(...parts))
    expect(e).toBeInstanceOf(UnsafePickleError)
    expect((e as UnsafePickleError).globalName).toBe(name)
  }

  it('refuses any non-allow-listed global, however it is reached', () => {
    unsafe('subprocess.Popen', proto(2), global('subprocess', 'Popen'), uni('ls'), OP.TUPLE1, OP.REDUCE, OP.STOP)
    unsafe('os.system', proto(2), OP.MARK, uni('ls'), inst('os', 'system'), OP.STOP) // INST (protocol 0/1)
    unsafe('builtins.getattr', proto(4), short('builtins'), short('getattr'), OP.STACK_GLOBAL, OP.STOP)
    unsafe('builtins.exec', proto(2), global('__builtin__', 'exec'), OP.STOP) // Python 2 module name
    unsafe('nt.system', proto(2), global('nt', 'system'), OP.STOP)
    // The whole model pickled instead of its state_dict.
    unsafe('monai.networks.nets.unet.UNet', proto(2), global('monai.networks.nets.unet', 'UNet'), OP.EMPTY_TUPLE, OP.NEWOBJ, OP.STOP)
    unsafe('torch.nn.modules.container.Sequential', proto(2), global('torch.nn.modules.container', 'Sequential'), OP.STOP)
    unsafe('numpy.core.multiarray._reconstruct', proto(2), global('numpy.core.multiarray', '_reconstruct'), OP.STOP)
    unsafe('torch._utils._rebuild_qtensor', proto(2), global('torch._utils', '_rebuild_qtensor'), OP.STOP)
  })

  it('refuses calling, building or setting state of allow-listed names that are not meant to be called', () => {
    unsafe('torch.FloatStorage', proto(2), global('torch', 'FloatStorage'), OP.EMPTY_TUPLE, OP.REDUCE, OP.STOP)
    unsafe('torch.Tensor', proto(2), global('torch', 'Tensor'), OP.EMPTY_TUPLE, OP.NEWOBJ, OP.STOP)
    unsafe('torch.nn.parameter.Parameter', proto(2), OP.MARK, global('torch.nn.parameter', 'Parameter'), OP.OBJ, OP.STOP)
    unsafe('builtins.list', proto(2), OP.EMPTY_LIST, OP.EMPTY_DICT, OP.BUILD, OP.STOP) // BUILD = __setstate__/setattr
    unsafe('builtins.dict', proto(2), OP.EMPTY_DICT, OP.EMPTY_DICT, OP.BUILD, OP.STOP)
    unsafe('collections.OrderedDict', proto(2), global('collections', 'OrderedDict'), uni('x'), OP.TUPLE1, OP.NEWOBJ, OP.STOP)
    // _rebuild_from_type_v2 may only rebuild plain Tensor/Parameter with a rebuild function.
    unsafe('torch.FloatStorage', proto(2), global('torch._tensor', '_rebuild_from_type_v2'), OP.MARK, global('torch', 'FloatStorage'), global('torch', 'Tensor'), OP.EMPTY_TUPLE, OP.EMPTY_DICT, OP.TUPLE, OP.REDUCE, OP.STOP)
    unsafe('torch.Size', proto(2), global('torch._tensor', '_rebuild_from_type_v2'), OP.MARK, global('torch._utils', '_rebuild_tensor_v2'), global('torch', 'Size'), OP.EMPTY_TUPLE, OP.EMPTY_DICT, OP.TUPLE, OP.REDUCE, OP.STOP)
  })

  it('refuses the copyreg extension registry (EXT1)', () => {
    const e = errorOf(() => unp(proto(2), 0x82, 1, OP.STOP))
    expect(e).toBeInstanceOf(UnsafePickleError)
  })

  it('refuses a malicious entry even when it follows legitimate tensors', () => {
    const p = concat(proto(2), OP.EMPTY_DICT, OP.MARK, uni('w'), tensorV2('FloatStorage', '0', 1, 0, [1], [1]), uni('x'), global('os', 'system'), uni(`touch ${PWNED}`), OP.TUPLE1, OP.REDUCE, OP.SETITEMS, OP.STOP)
    const e = errorOf(() => decodeTorchCheckpoint(torchZip(p, { 0: encodeElements('float32', [1]) }), 'evil.pt'))
    expect(e).toBeInstanceOf(UnsafePickleError)
    expect(e.message).toMatch(/^evil\.pt: .*os\.system/)
  })
})

// ---------------------------------------------------------------- the unpickler

describe('restricted unpickler', () => {
  it('reads protocol 4 framing, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL', () => {
    const body = concat(OP.EMPTY_DICT, OP.MEMOIZE, OP.MARK, short('a'), OP.MEMOIZE, short('collections'), OP.MEMOIZE, short('OrderedDict'), OP.MEMOIZE, OP.STACK_GLOBAL, OP.MEMOIZE, OP.EMPTY_TUPLE, OP.REDUCE, OP.MEMOIZE, short('b'), binget(0), OP.SETITEMS, OP.STOP)
    const v = unp(proto(4), frame(body)) as PyDict
    expect([...v.entries.keys()]).toEqual(['a', 'b'])
    expect(plain(v.entries.get('a') as PyValue)).toEqual({ odict: [] })
    expect(v.entries.get('b')).toBe(v) // BINGET 0 = the dict itself (memo shares objects)
  })

  it('reads ints of every width, floats, bools, None and bytes exactly', () => {
    const v = unp(proto(3), OP.MARK, int1(255), [0x4d, 0x34, 0x12], binint(-2147483648), long1(2n ** 63n - 1n, 8), long1(-(2n ** 63n), 8), long1(2n ** 53n - 1n, 7), long1(-1n, 1), [0x8a, 0], binfloat(-0.1), OP.NEWTRUE, OP.NEWFALSE, OP.NONE, [0x43, 2, 0xde, 0xad], OP.LIST, OP.STOP)
    expect(v).toEqual([255, 0x1234, -2147483648, 2n ** 63n - 1n, -(2n ** 63n), 2 ** 53 - 1, -1, 0, -0.1, true, false, null, Uint8Array.of(0xde, 0xad)])
  })

  it('reads lists, tuples, dicts, sets and memo opcodes (BINPUT/LONG_BINPUT/BINGET/LONG_BINGET, DUP, POP, POP_MARK)', () => {
    const v = unp(
      proto(4),
      OP.EMPTY_LIST, binput(0),
      OP.MARK, uni('x'), binput(1), longBinput(70000), int1(1), int1(2), int1(3), OP.TUPLE3, OP.TUPLE1, OP.EMPTY_TUPLE, OP.APPENDS,
      binget(1), OP.APPEND, longBinget(70000), OP.APPEND,
      OP.MARK, uni('k'), int1(1), OP.DICT, OP.APPEND,
      OP.EMPTY_SET, OP.MARK, int1(4), OP.ADDITEMS, OP.APPEND,
      OP.MARK, int1(5), OP.FROZENSET, OP.APPEND,
      OP.NONE, OP.POP, OP.MARK, int1(9), OP.POP_MARK, OP.DUP, OP.POP, OP.STOP,
    )
    expect(plain(v)).toEqual(['x', { tuple: [{ tuple: [1, 2, 3] }] }, { tuple: [] }, 'x', 'x', { dict: [['k', 1]] }, { set: [4] }, { frozenset: [5] }])
  })

  it('rebuilds tensors: _rebuild_tensor_v2, Parameter, _rebuild_from_type_v2, v3 on an untyped storage, torch.Size, OrderedDict(pairs)', () => {
    const t = tensorV2('HalfStorage', '3', 10, 2, [2, 3], [1, 2])
    expect(plain(unp(proto(2), t, OP.STOP))).toEqual({ tensor: { key: '3', dtype: 'float16', offset: 2, shape: [2, 3], stride: [1, 2] } })
    const param = concat(global('torch._utils', '_rebuild_parameter'), t, OP.NEWTRUE, orderedDictCall(), OP.TUPLE3, OP.REDUCE)
    expect(unp(proto(2), param, OP.STOP)).toBeInstanceOf(PyTensor)
    const fromType = concat(global('torch._tensor', '_rebuild_from_type_v2'), OP.MARK, global('torch._utils', '_rebuild_parameter'), global('torch.nn.parameter', 'Parameter'), t, OP.NEWFALSE, orderedDictCall(), OP.TUPLE3, OP.EMPTY_DICT, OP.TUPLE, OP.REDUCE)
    expect(unp(proto(2), fromType, OP.STOP)).toBeInstanceOf(PyTensor)
    const untypedPid = concat(OP.MARK, uni('storage'), global('torch.storage', 'UntypedStorage'), uni('0'), uni('cpu'), binint(24), OP.TUPLE, OP.BINPERSID)
    const v3 = concat(global('torch._utils', '_rebuild_tensor_v3'), OP.MARK, untypedPid, binint(1), global('torch', 'Size'), OP.MARK, binint(5), OP.LIST, OP.TUPLE1, OP.REDUCE, tuple(binint(1)), OP.NEWFALSE, orderedDictCall(), global('torch', 'float32'), OP.TUPLE, OP.REDUCE)
    expect(plain(unp(proto(2), v3, OP.STOP))).toEqual({ tensor: { key: '0', dtype: 'float32', offset: 1, shape: [5], stride: [1] } })
    const od = concat(global('collections', 'OrderedDict'), OP.MARK, uni('a'), int1(1), OP.TUPLE2, uni('b'), int1(2), OP.TUPLE2, OP.LIST, OP.TUPLE1, OP.REDUCE)
    expect(plain(unp(proto(2), od, OP.STOP))).toEqual({ odict: [['a', 1], ['b', 2]] })
    // BUILD on an OrderedDict (a state_dict's _metadata) is kept as attributes.
    const withMeta = unp(proto(2), orderedDictCall(), OP.EMPTY_DICT, uni('_metadata'), OP.EMPTY_DICT, OP.SETITEM, OP.BUILD, OP.STOP) as PyDict
    expect(plain(withMeta.attributes)).toEqual({ dict: [['_metadata', { dict: [] }]] })
  })

  it('reports corrupt or truncated pickles as InputErrors naming the file and the byte', () => {
    const cases: [string, Uint8Array | number[]][] = [
      ['before its STOP', concat(proto(2), OP.EMPTY_DICT)],
      ['middle of BINUNICODE', concat(proto(2), uni('abcdef')).subarray(0, 7)],
      ['stack is empty', concat(proto(2), OP.STOP)],
      ['no MARK', concat(proto(2), OP.EMPTY_LIST, OP.APPENDS, OP.STOP)],
      ['memo entry 7', concat(proto(2), binget(7), OP.STOP)],
      ['unknown opcode 0xff', [0x80, 2, 0xff]],
      ['protocol 9', [0x80, 9]],
      ['text opcode INT', concat(proto(2), text('I1\n.'))],
      ['SETITEM on a list', concat(proto(2), OP.EMPTY_LIST, int1(1), int1(2), OP.SETITEM, OP.STOP)],
      ['unhashable', concat(proto(2), OP.EMPTY_DICT, OP.EMPTY_LIST, int1(1), OP.SETITEM, OP.STOP)],
      ['not valid UTF-8', concat(proto(2), [0x8c, 1, 0xff], OP.STOP)],
      ['not a torch storage', concat(proto(2), uni('evil'), OP.BINPERSID, OP.STOP)],
      ['reaches past its storage', concat(proto(2), tensorV2('FloatStorage', '0', 6, 1, [2, 3], [3, 1]), OP.STOP)],
      ['FRAME of', concat(proto(4), 0x95, new Uint8Array(new BigUint64Array([1000n]).buffer), OP.STOP)],
    ]
    for (const [why, bytes] of cases) {
      const e = errorOf(() => unpickle(Uint8Array.from(bytes), { filePath: '/x/w.pt', recordName: 'w/data.pkl' }))
      expect(e, why).toBeInstanceOf(InputError)
      expect(e, why).not.toBeInstanceOf(UnsafePickleError)
      expect(e.message, why).toMatch(/^\/x\/w\.pt: w\/data\.pkl /)
      expect(e.message, why).toContain(why)
      expect(e.message, why).toMatch(/byte \d+/)
    }
  })

  it('stops absurd inputs at its limits', () => {
    const deep = concat(proto(2), new Uint8Array(5000).fill(OP.MARK))
    expect(errorOf(() => unpickle(deep, { filePath: 'deep.pkl' })).message).toMatch(/nested MARKs/)
    const wide = concat(proto(2), OP.EMPTY_LIST, OP.MARK, ...Array.from({ length: 20 }, () => int1(0)), OP.APPENDS, OP.STOP)
    expect(errorOf(() => unpickle(wide, { filePath: 'w.pkl', limits: { maxContainerItems: 10 } })).message).toMatch(/more than 10 items/)
    expect(errorOf(() => unpickle(wide, { filePath: 'w.pkl', limits: { maxStackItems: 10 } })).message).toMatch(/more than 10 values/)
    expect(errorOf(() => unp(proto(2), [0x8a, 200], new Uint8Array(200), OP.STOP)).message).toMatch(/integer of 200 bytes/)
    const huge = tensorV2('FloatStorage', '0', 2 ** 40, 0, [2 ** 20, 2 ** 20], [2 ** 20, 1])
    expect(errorOf(() => unp(proto(2), huge, OP.STOP)).message).toMatch(/a tensor of shape/)
    expect(errorOf(() => unpickle(new Uint8Array(100), { filePath: 'big.pkl', limits: { maxPickleBytes: 10 } })).message).toMatch(/100 bytes/)
  })
})

// ---------------------------------------------------------------- archive-level checks

describe('damaged and unusual archives', () => {
  const tinyBytes = (): Uint8Array => new Uint8Array(readFileSync(fixture('tiny.pt')))

  it('reports a truncated file', async () => {
    const bytes = tinyBytes()
    for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 30, 3]) {
      const path = join(tmp.dir, `truncated-${keep}.pt`)
      writeFileSync(path, bytes.subarray(0, keep))
      const e = await rejection(loadCheckpointFile(path))
      expect(e, String(keep)).toBeInstanceOf(InputError)
      expect(e.message, String(keep)).toContain(path)
    }
  })

  it('detects a damaged storage by its CRC-32', () => {
    const bytes = tinyBytes()
    const at = Buffer.from(bytes).indexOf(Buffer.from(encodeElements('float32', [0.5, -1, 1.5])))
    bytes[at + 1] ^= 0x40
    expect(errorOf(() => decodeCheckpoint(bytes, 'bad.pt')).message).toMatch(/^bad\.pt: .*tiny\/data\/0 is damaged \(its CRC-32 does not match\)/)
  })

  it('reports a corrupt data.pkl inside an intact archive', () => {
    const p = dictPickle([['model.w', tensorV2('FloatStorage', '0', 1, 0, [1], [1])]])
    const e = errorOf(() => decodeTorchCheckpoint(torchZip(p.subarray(0, p.length - 8), { 0: encodeElements('float32', [1]) }), 'c.pt'))
    expect(e).toBeInstanceOf(InputError)
    expect(e.message).toMatch(/^c\.pt: archive\/data\.pkl is corrupt/)
  })

  it('checks storages against the pickle: missing records, wrong sizes, conflicting descriptions', () => {
    const one = dictPickle([['model.w', tensorV2('FloatStorage', '0', 2, 0, [2], [1])]])
    expect(errorOf(() => decodeTorchCheckpoint(torchZip(one), 'm.pt')).message).toMatch(/archive\/data\/0, which the archive lacks/)
    expect(errorOf(() => decodeTorchCheckpoint(torchZip(one, { 0: new Uint8Array(4) }), 'm.pt')).message).toMatch(/holds 4 bytes, but the pickle describes 2 float32 elements \(8 bytes\)/)
    const two = dictPickle([['model.a', tensorV2('FloatStorage', '0', 2, 0, [2], [1])], ['model.b', tensorV2('HalfStorage', '0', 4, 0, [4], [1])]])
    expect(errorOf(() => decodeTorchCheckpoint(torchZip(two, { 0: new Uint8Array(8) }), 'm.pt')).message).toMatch(/described twice, differently/)
  })

  it('honours byteorder "big" and accepts any archive folder name', () => {
    const be = new Uint8Array(8)
    new DataView(be.buffer).setFloat32(0, 1.5, false)
    new DataView(be.buffer).setFloat32(4, -3, false)
    const bytes = torchZip(dictPickle([['model.w', tensorV2('FloatStorage', '0', 2, 0, [2], [1])]]), { 0: be }, { byteorder: 'big', prefix: 'best_metric_model' })
    expect([...(decodeTorchCheckpoint(bytes, 'be.pt').get('model.w') as CheckpointTensor).data]).toEqual([1.5, -3])
    const bad = torchZip(dictPickle([]), {}, { byteorder: 'middle' })
    expect(errorOf(() => decodeTorchCheckpoint(bad, 'x.pt')).message).toMatch(/unknown byte order "middle"/)
  })

  it('says what is wrong with TorchScript archives, bare pickles, empty and foreign files', () => {
    const ts = torchZip(dictPickle([]), {}, { extra: { 'constants.pkl': concat(proto(2), OP.EMPTY_TUPLE, OP.STOP), 'code/__torch__.py': text('') } })
    expect(errorOf(() => decodeCheckpoint(ts, 'ts.pt')).message).toMatch(/TorchScript model \(torch\.jit\.save\)/)
    expect(errorOf(() => decodeCheckpoint(concat(proto(2), OP.NONE, OP.STOP), 'p.pkl')).message).toMatch(/bare Python pickle/)
    expect(errorOf(() => decodeCheckpoint(new Uint8Array(0), 'e.pt')).message).toBe('e.pt: the file is empty')
    expect(errorOf(() => decodeCheckpoint(text('\x08\x03ONNX'), 'm.onnx')).message).toMatch(/^m\.onnx: not a PyTorch .* starts with 08 03/)
    const noPickle = encodeTorchStyleZip([{ name: 'weights/data/0', data: new Uint8Array(4) }])
    expect(errorOf(() => decodeCheckpoint(noPickle, 'z.pt')).message).toMatch(/no <archive>\/data\.pkl/)
  })

  it('names what is not a state_dict', () => {
    const cases: [Uint8Array, RegExp][] = [
      [concat(proto(2), tensorV2('FloatStorage', '0', 1, 0, [1], [1]), OP.STOP), /expected a state_dict .* at the top level, found a tensor/],
      [concat(proto(2), OP.EMPTY_DICT, uni('epoch'), int1(3), OP.SETITEM, OP.STOP), /no state_dict found: .* \(its keys: epoch\)/],
      [dictPickle([['model.w', tensorV2('FloatStorage', '0', 1, 0, [1], [1])], ['model.note', uni('hello')]]), /1 entry that are not tensors: model\.note \(a str\)/],
      [concat(proto(2), OP.EMPTY_DICT, uni('state_dict'), OP.EMPTY_DICT, int1(1), tensorV2('FloatStorage', '0', 1, 0, [1], [1]), OP.SETITEM, OP.SETITEM, OP.STOP), /key that is an int/],
    ]
    for (const [p, re] of cases) expect(errorOf(() => decodeTorchCheckpoint(torchZip(p, { 0: new Uint8Array(4) }), 'n.pt')).message).toMatch(re)
  })

  it('refuses dtypes the network cannot use, naming the tensor', () => {
    const p = dictPickle([['model.idx', tensorV2('IntStorage', '0', 2, 0, [2], [1])]])
    expect(errorOf(() => decodeTorchCheckpoint(torchZip(p, { 0: new Uint8Array(8) }), 'i.pt')).message).toMatch(/the tensor model\.idx is int32; LesionLab loads float32, float16, bfloat16, float64, int64/)
  })

  it('reports unreadable paths as InputErrors', async () => {
    expect((await rejection(loadCheckpointFile(join(tmp.dir, 'nope.pt')))).message).toMatch(/nope\.pt: no such file$/)
    expect((await rejection(loadCheckpointFile(tmp.dir))).message).toMatch(/is a folder/)
  })
})

// ---------------------------------------------------------------- key normalisation

describe('state_dict key normalisation', () => {
  const keys = (ks: string[]): string[] => [...normaliseStateDictKeys(ks.map((k) => [k, 0] as const), 'k.pt').keys()]

  it('maps wrapper and runtime prefixes onto MONAI UNet names', () => {
    expect(keys(['module.model.0.conv.weight', '0.conv.bias', 'model.1.x'])).toEqual(['model.0.conv.weight', 'model.0.conv.bias', 'model.1.x'])
    expect(keys(['_orig_mod.module.model.0.w'])).toEqual(['model.0.w'])
    expect(keys(['model.model.0.w', 'model.model.1.w'])).toEqual(['model.0.w', 'model.1.w']) // e.g. a LightningModule's self.model
    expect(keys(['model.model.0.w', 'model.1.w'])).toEqual(['model.model.0.w', 'model.1.w']) // not all doubled: left alone
  })

  it('refuses two entries that normalise to the same key', () => {
    expect(errorOf(() => keys(['module.model.0.w', 'model.0.w'])).message).toMatch(/^k\.pt: two state_dict entries both mean model\.0\.w/)
  })

  it('tries the wrapper keys in order and nests', async () => {
    const s = new SavedStorage('float32', encodeElements('float32', [2]))
    const sd = torchStateDict([['0.w', new SavedTensor(s, [1])]])
    for (const wrapper of ['state_dict', 'model', 'network', 'model_state_dict', 'net']) {
      const m = decodeTorchCheckpoint(encodeTorchCheckpoint(new PickleDict([['epoch', 1], [wrapper, sd]])), `${wrapper}.pt`)
      expect([...m.keys()]).toEqual(['model.0.w'])
    }
    const nested = encodeTorchCheckpoint(new PickleDict([['model', new PickleDict([['state_dict', sd], ['arch', 'unet']])], ['optimizer', new PickleDict([])]]))
    expect([...decodeTorchCheckpoint(nested, 'n.pt').keys()]).toEqual(['model.0.w'])
  })
})

// ---------------------------------------------------------------- safetensors validation

describe('safetensors validation', () => {
  const f32 = (name: string, values: number[]): { name: string; dtype: 'float32'; shape: number[]; bytes: Uint8Array } => ({ name, dtype: 'float32', shape: [values.length], bytes: encodeElements('float32', values) })
  const withHeader = (header: object, data = new Uint8Array(0)): Uint8Array => {
    const h = text(JSON.stringify(header))
    const len = new Uint8Array(8)
    new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true)
    return concat(len, h, data)
  }
  const problem = (bytes: Uint8Array): string => errorOf(() => decodeSafetensors(bytes, 's.safetensors')).message

  it('round-trips and normalises keys like the torch reader', () => {
    const m = decodeSafetensors(encodeSafetensors([f32('module.0.w', [1, 2]), f32('model.1.b', [3])]), 's.safetensors')
    expect([...m.keys()].sort()).toEqual(['model.0.w', 'model.1.b'])
    expect([...(m.get('model.0.w') as CheckpointTensor).data]).toEqual([1, 2])
  })

  it('validates the header bounds, JSON, offsets, sizes and dtypes strictly', () => {
    const ok = encodeSafetensors([f32('a', [1, 2]), f32('b', [3])])
    expect(problem(ok.subarray(0, 5))).toMatch(/shorter than its 8-byte header length/)
    expect(problem(ok.subarray(0, ok.length - 1))).toMatch(/cover 12 data bytes but the file has 11/)
    expect(problem(concat(ok, 0))).toMatch(/cover 12 data bytes but the file has 13/)
    const huge = ok.slice()
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true)
    expect(problem(huge)).toMatch(/header claims 1099511627776 bytes/)
    const long = ok.slice()
    new DataView(long.buffer).setBigUint64(0, BigInt(ok.length), true)
    expect(problem(long)).toMatch(/truncated/)
    const badJson = concat(ok.subarray(0, 8), text('{"a": '), new Uint8Array(ok.length - 14).fill(0x20))
    expect(problem(badJson)).toMatch(/not valid JSON/)
    expect(problem(withHeader([1]))).toMatch(/not a JSON object/)
    expect(problem(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(12)))).toMatch(/b starts at data byte 4, expected 8 \(overlapping/)
    expect(problem(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)))).toMatch(/a starts at data byte 4, expected 0/)
    expect(problem(withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/needs 12 bytes but its data_offsets span 8/)
    expect(problem(withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, new Uint8Array(8)))).toMatch(/invalid data_offsets/)
    expect(problem(withHeader({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/invalid shape/)
    expect(problem(withHeader({ a: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/a is I32; LesionLab loads/)
    expect(problem(withHeader({ a: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)))).toMatch(/unknown dtype "Q7"/)
    expect(problem(withHeader({ __metadata__: { n: 1 } }))).toMatch(/__metadata__ is not a map of strings/)
  })
})

// ---------------------------------------------------------------- element conversion

describe('element conversion', () => {
  it('converts float16 exactly and rounds to nearest even when writing', () => {
    expect([0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00].map(halfToFloat)).toEqual([0, -0, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, 65504, Infinity, -Infinity])
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true)
    for (let bits = 0; bits < 0x7c00; bits += 37) expect(floatToHalf(halfToFloat(bits))).toBe(bits)
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00) // halfway: to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(floatToHalf(70000)).toBe(0x7c00)
  })
})

// ---------------------------------------------------------------- checkStateDict

describe('checkStateDict', () => {
  const expected = new Map<string, number[]>([
    ['model.0.conv.weight', [32, 2, 3, 3, 3]],
    ['model.0.conv.bias', [32]],
    ['model.0.adn.N.num_batches_tracked', []],
  ])
  const t = (shape: number[]): { shape: number[] } => ({ shape })

  it('passes an exact match and ignores listed buffers when missing', () => {
    checkStateDict(new Map([['model.0.conv.weight', t([32, 2, 3, 3, 3])], ['model.0.conv.bias', t([32])], ['model.0.adn.N.num_batches_tracked', t([])]]), expected)
    checkStateDict(new Map([['model.0.conv.weight', t([32, 2, 3, 3, 3])], ['model.0.conv.bias', t([32])]]), expected, { ignoreBuffers: ['num_batches_tracked'] })
  })

  it('names missing, unexpected and mis-shaped keys with expected and actual shapes', () => {
    const got = new Map([['model.0.conv.weight', t([32, 1, 3, 3, 3])], ['model.0.conv.bias', t([32, 1])], ['model.9.extra', t([1])], ['model.0.adn.N.num_batches_tracked', t([])]])
    const e = errorOf(() => checkStateDict(got, new Map([...expected, ['model.0.adn.N.weight', [32]]]), { filePath: 'fold0.pt' }))
    expect(e).toBeInstanceOf(InputError)
    expect(e.message).toBe(
      'fold0.pt: the weights do not fit the network: 1 missing key: model.0.adn.N.weight; 1 unexpected key: model.9.extra; ' +
        '2 mis-shaped keys: model.0.conv.weight expected (32, 2, 3, 3, 3), found (32, 1, 3, 3, 3), model.0.conv.bias expected (32,), found (32, 1)',
    )
  })

  it('lists the first ten of each kind and counts the rest', () => {
    const many = new Map(Array.from({ length: 25 }, (_, i) => [`model.x${i}`, [1]] as const))
    const e = errorOf(() => checkStateDict(new Map(), many))
    expect(e.message).toMatch(/^checkpoint: .*25 missing keys: model\.x0, .*model\.x9, \.\.\. and 15 more$/)
    expect(compareStateDict(new Map(), many).missing).toHaveLength(25)
  })
})

// ---------------------------------------------------------------- the paper's network, full size

/** The spec's key list: `key (d0, d1, ...) [(buffer)]`. */
function parseKeyList(path: string): { shapes: Map<string, number[]>; buffers: Set<string> } {
  const shapes = new Map<string, number[]>()
  const buffers = new Set<string>()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^(model\.\S+) \(([\d, ]*)\)( \(buffer\))?\s*$/.exec(line)
    if (!m) continue
    shapes.set(m[1], m[2].split(',').map((s) => s.trim()).filter(Boolean).map(Number))
    if (m[3]) buffers.add(m[1])
  }
  return { shapes, buffers }
}

describe("the paper's 148-entry MONAI UNet state_dict", () => {
  it('a full-size float32 checkpoint written in torch format loads and passes checkStateDict', async () => {
    const { shapes, buffers } = parseKeyList(KEY_LIST)
    expect(shapes.size).toBe(148)
    let trainable = 0
    for (const [k, s] of shapes) if (!buffers.has(k)) trainable += s.reduce((a, b) => a * b, 1)
    expect(trainable).toBe(19_223_525) // the spec's parameter count

    const first = 'model.0.conv.unit0.conv.weight'
    const entries: [string, SavedTensor][] = [...shapes].map(([key, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1)
      const dtype = key.endsWith('num_batches_tracked') ? 'int64' : 'float32'
      const bytes = dtype === 'int64' ? encodeElements('int64', [123456789n]) : key === first ? encodeElements('float32', Array.from({ length: n }, (_, i) => i / 8)) : new Uint8Array(n * 4)
      return [key, new SavedTensor(new SavedStorage(dtype, bytes), shape)]
    })
    const path = join(tmp.dir, 'fold_0.pth')
    writeFileSync(path, encodeTorchCheckpoint(new PickleDict([['epoch', 200], ['best_metric', new PickleFloat(0.61)], ['state_dict', torchStateDict(entries, (p) => (p.endsWith('.N') ? 2 : 1))]]), { archiveName: 'fold_0' }))
    entries.length = 0

    const loaded = await loadCheckpointFile(path)
    expect(loaded.size).toBe(148)
    checkStateDict(loaded, shapes, { filePath: path })
    const w = loaded.get(first) as CheckpointTensor
    expect(w.shape).toEqual([32, 2, 3, 3, 3])
    expect([w.data[0], w.data[1], w.data[1727]]).toEqual([0, 0.125, 1727 / 8])
    const counter = loaded.get('model.0.conv.unit0.adn.N.num_batches_tracked') as CheckpointTensor
    expect(counter).toMatchObject({ shape: [], dtype: 'int64' })
    expect([...(counter.int64Data ?? [])]).toEqual([123456789n])
    const transposed = loaded.get('model.1.submodule.1.submodule.1.submodule.2.0.conv.weight') as CheckpointTensor
    expect(transposed.shape).toEqual([768, 128, 3, 3, 3]) // ConvTranspose3d: (in, out, k, k, k)
    expect(transposed.data.length).toBe(768 * 128 * 27)

    // The same file with a key missing, a key extra and a shape wrong is reported precisely.
    loaded.delete('model.0.residual.bias')
    loaded.set('model.0.residual.extra', { shape: [1], data: new Float32Array(1), dtype: 'float32' })
    loaded.set('model.2.0.conv.bias', { shape: [3], data: new Float32Array(3), dtype: 'float32' })
    expect(errorOf(() => checkStateDict(loaded, shapes, { filePath: path })).message).toBe(
      `${path}: the weights do not fit the network: 1 missing key: model.0.residual.bias; 1 unexpected key: model.0.residual.extra; ` +
        '1 mis-shaped key: model.2.0.conv.bias expected (2,), found (3,)',
    )
  })
})

// ---------------------------------------------------------------- cross-check against CPython's pickle

const python = spawnSync('python3', ['-c', 'import sys; assert sys.version_info >= (3, 8)'], { encoding: 'utf8' }).status === 0

/**
 * CPython's own pickler, given stand-in `torch` modules whose tensors reduce exactly as torch's do
 * (Tensor.__reduce_ex__ -> _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict()),
 * persistent_id -> ('storage', torch.<Type>Storage, key, location, numel)), must write the fixtures' data.pkl
 * byte for byte; and CPython's unpickler, restricted the same way, must read the same values we do.
 */
const CPYTHON_CHECK = String.raw`
import sys, types, pickle, io, zipfile, struct, json
from collections import OrderedDict
torch = types.ModuleType('torch'); tutils = types.ModuleType('torch._utils')
sys.modules['torch'] = torch; sys.modules['torch._utils'] = tutils
def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks):
    out = []
    def walk(d, at):
        if d == len(size): out.append(storage[at]); return
        for i in range(size[d]): walk(d + 1, at + i * stride[d])
    if all(size): walk(0, offset)
    return {'shape': list(size), 'values': out}
_rebuild_tensor_v2.__module__ = 'torch._utils'; tutils._rebuild_tensor_v2 = _rebuild_tensor_v2
FMT = {'float32': 'f', 'float64': 'd', 'float16': 'e', 'int64': 'q', 'bfloat16': 'H'}
STORAGE = {}
for dt, name in [('float32','FloatStorage'),('float64','DoubleStorage'),('float16','HalfStorage'),('bfloat16','BFloat16Storage'),('int64','LongStorage')]:
    cls = type(name, (), {'dtype': dt}); cls.__module__ = 'torch'; setattr(torch, name, cls); STORAGE[dt] = cls
class Storage:
    def __init__(self, dtype, numel): self.dtype, self.numel = dtype, numel
class Tensor:
    def __init__(self, storage, shape, stride=None, offset=0):
        if stride is None:
            s, stride = 1, []
            for d in reversed(shape): stride.insert(0, s); s *= d
        self.storage, self.shape, self._stride, self.offset = storage, tuple(shape), tuple(stride), offset
    def stride(self): return tuple(self._stride)
    def __reduce_ex__(self, proto): return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), self.stride(), False, OrderedDict()))
def dumps(obj):
    id_map = {}
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage): return ('storage', STORAGE[obj.dtype], id_map.setdefault(id(obj), str(len(id_map))), 'cpu', obj.numel)
            return None
    buf = io.BytesIO(); P(buf, protocol=2).dump(obj); return buf.getvalue()
def state_dict(entries):
    sd = OrderedDict(entries); meta = OrderedDict()
    for k, _ in entries:
        parts = k.split('.')[:-1]
        for i in range(len(parts) + 1):
            p = '.'.join(parts[:i])
            if p not in meta: meta[p] = dict(version=2 if p.endswith('.N') else 1)
    sd._metadata = meta
    return sd
A=Storage('float32',6); B=Storage('float32',5); C=Storage('float32',6); D=Storage('float32',12); H=Storage('float16',4)
L=Storage('int64',1); BF=Storage('bfloat16',3); F64=Storage('float64',2); E=Storage('float32',0)
TINY=[('0.conv.weight',Tensor(A,[2,3])),('0.conv.bias',Tensor(B,[2],offset=3)),('0.adn.N.weight',Tensor(B,[3])),('0.adn.N.bias',Tensor(C,[3,2],[1,3])),
 ('0.adn.N.running_mean',Tensor(D,[2,2,2],[1,4,2],2)),('0.adn.N.running_var',Tensor(H,[4])),('0.adn.N.num_batches_tracked',Tensor(L,[])),
 ('0.adn.A.weight',Tensor(BF,[3])),('1.weight',Tensor(F64,[2,1,1,1])),('1.bias',Tensor(E,[0]))]
pref = lambda p: [(p + k, t) for k, t in TINY]
opt = {'state': {}, 'param_groups': [{'lr': 0.0002, 'betas': (0.9, 0.999), 'eps': 1e-8, 'weight_decay': 1e-5, 'amsgrad': False, 'foreach': None,
  'maximize': False, 'capturable': False, 'differentiable': False, 'fused': None, 'params': list(range(len(TINY)))}]}
CASES = {'tiny.pt': state_dict(pref('model.')), 'tiny-wrapped-model.pt': {'model': state_dict(TINY)}, 'tiny-dataparallel.pt': state_dict(pref('module.model.')),
  'tiny-wrapped-state_dict.pt': {'epoch': 400, 'global_step': 2**40, 'best_metric': 0.875, 'best_metric_delta': -0.5, 'state_dict': state_dict(pref('model.')),
  'optimizer': opt, 'loss_history': [1.5, 0.75, 0.5], 'seed': -123456789012}}
ALLOWED = {('collections', 'OrderedDict'): OrderedDict, ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2, **{('torch', c.__name__): c for c in STORAGE.values()}}
report = {}
for name, obj in CASES.items():
    z = zipfile.ZipFile(sys.argv[1] + '/' + name)
    arc = name[:-3] + '/'
    assert z.testzip() is None
    assert [i.filename for i in z.infolist()][:4] == [arc + 'data.pkl', arc + '.format_version', arc + '.storage_alignment', arc + 'byteorder'], name
    raw = open(sys.argv[1] + '/' + name, 'rb').read()
    for i in z.infolist():  # stored, data 64-byte aligned via the local header's extra field
        n, e = struct.unpack('<HH', raw[i.header_offset + 26:i.header_offset + 30])
        assert i.compress_type == 0 and (i.header_offset + 30 + n + e) % 64 == 0, (name, i.filename)
    pkl = z.read(arc + 'data.pkl')
    class U(pickle.Unpickler):
        def find_class(self, module, cname):
            if (module, cname) not in ALLOWED: raise pickle.UnpicklingError(module + '.' + cname)
            return ALLOWED[(module, cname)]
        def persistent_load(self, pid):
            typename, cls, key, location, numel = pid
            raw = z.read(arc + 'data/' + key)
            vals = list(struct.unpack('<%d%s' % (numel, FMT[cls.dtype]), raw))
            if cls.dtype == 'bfloat16': vals = [struct.unpack('<f', struct.pack('<I', v << 16))[0] for v in vals]
            return vals
    loaded = U(io.BytesIO(pkl)).load()
    sd = loaded if isinstance(loaded, OrderedDict) else loaded.get('state_dict', loaded.get('model'))
    report[name] = {'identical': pkl == dumps(obj), 'tensors': sd}
print(json.dumps(report))
`

describe.runIf(python)('cross-check with CPython (python3 found)', () => {
  it("CPython's pickler writes our data.pkl byte for byte, and its unpickler reads our values", async () => {
    const script = join(tmp.dir, 'cpython_check.py')
    writeFileSync(script, CPYTHON_CHECK)
    const r = spawnSync('python3', [script, FIXTURES], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    const report = JSON.parse(r.stdout) as Record<string, { identical: boolean; tensors: Record<string, { shape: number[]; values: number[] }> }>
    expect(Object.keys(report)).toHaveLength(4)
    for (const [name, { identical, tensors }] of Object.entries(report)) {
      expect(identical, name).toBe(true)
      const ours = await loadCheckpointFile(fixture(name))
      expect(Object.keys(tensors).length, name).toBe(ours.size)
      for (const [key, t] of Object.entries(tensors)) {
        const normalised = [...normaliseStateDictKeys([[key, 0]], name).keys()][0]
        const mine = ours.get(normalised) as CheckpointTensor
        expect(mine.shape, key).toEqual(t.shape)
        expect([...mine.data], key).toEqual(t.values.map((v) => Math.fround(v)))
      }
    }
  })

  it('reads what CPython pickles at protocols 2 to 5', () => {
    const src = String.raw`
import pickle, sys
from collections import OrderedDict
for p in (2, 3, 4, 5):
    obj = {'a': [1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**63 - 1, -2**63, 0.5, -0.0, True, False, None],
           'b': (), 'c': (1,), 'd': (1, 2), 'e': (1, 2, 3), 'f': (1, 2, 3, 4), 'g': 'ünï' * 100,
           'i': OrderedDict([('x', 1), ('y', [2])]), 'k': list(range(1200)), 'l': {str(i): i for i in range(1001)}}
    obj['m'] = obj['k']
    if p >= 3: obj['h'] = b'\x00\xff'        # protocol 2 writes bytes through _codecs.encode
    if p >= 4: obj['j'] = {frozenset([3])}    # protocols 2-3 write sets through builtins.set
    print(pickle.dumps(obj, protocol=p).hex())
print(pickle.dumps(b'\x00', protocol=2).hex())
`
    const r = spawnSync('python3', ['-c', src], { encoding: 'utf8' })
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(5)
    // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1'): a call, so refused (state_dicts hold no bytes).
    const bytesAt2 = errorOf(() => unpickle(Uint8Array.from(Buffer.from(lines.pop() as string, 'hex')), { filePath: 'b.pkl' }))
    expect((bytesAt2 as UnsafePickleError).globalName).toBe('_codecs.encode')
    for (const [i, hex] of lines.entries()) {
      const v = unpickle(Uint8Array.from(Buffer.from(hex, 'hex')), { filePath: `proto${i + 2}.pkl` }) as PyDict
      const get = (k: string): PyValue => v.entries.get(k) as PyValue
      expect(get('a'), `protocol ${i + 2}`).toEqual([1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2n ** 63n - 1n, -(2n ** 63n), 0.5, -0, true, false, null])
      expect(plain(get('b'))).toEqual({ tuple: [] })
      expect(plain(get('f'))).toEqual({ tuple: [1, 2, 3, 4] })
      expect(get('g')).toBe('ünï'.repeat(100))
      expect(plain(get('i'))).toEqual({ odict: [['x', 1], ['y', [2]]] })
      expect(plain(get('k'))).toEqual(Array.from({ length: 1200 }, (_, j) => j))
      expect(get('m')).toBe(get('k'))
      expect((get('l') as PyDict).entries.size).toBe(1001)
      if (i >= 1) expect(plain(get('h'))).toEqual({ bytes: [0, 255] })
      if (i >= 2) expect(plain(get('j'))).toEqual({ set: [{ frozenset: [3] }] })
    }
  })
})

// ---------------------------------------------------------------- robustness

describe('corrupted inputs only ever produce InputErrors', () => {
  /** mulberry32: a small seeded generator, so failures reproduce. */
  const random = (seed: number): (() => number) => () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const mutate = (bytes: Uint8Array, rnd: () => number): Uint8Array => {
    const out = bytes.slice()
    const flips = 1 + Math.floor(rnd() * 4)
    for (let i = 0; i < flips; i++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256)
    return rnd() < 0.2 ? out.subarray(0, Math.floor(rnd() * out.length)) : out
  }
  const outcome = (f: () => unknown): string => {
    try {
      f()
      return 'ok'
    } catch (e) {
      if (e instanceof InputError) return 'InputError'
      throw e
    }
  }

  it('random damage to a torch archive, its pickle and a safetensors file', () => {
    const rnd = random(1234)
    const archive = new Uint8Array(readFileSync(fixture('tiny-wrapped-state_dict.pt')))
    const zip = encodeTorchStyleZip // re-zip a damaged pickle with valid CRCs so the unpickler sees the damage
    const pickle = unpickleSource(archive)
    const st = new Uint8Array(readFileSync(fixture('tiny.safetensors')))
    const seen = new Set<string>()
    for (let i = 0; i < 400; i++) {
      seen.add(outcome(() => decodeCheckpoint(mutate(archive, rnd), 'fuzz.pt')))
      const damaged = zip([{ name: 'a/data.pkl', data: mutate(pickle.data, rnd) }, ...pickle.storages])
      seen.add(outcome(() => decodeCheckpoint(damaged, 'fuzz.pt')))
      seen.add(outcome(() => decodeCheckpoint(mutate(st, rnd), 'fuzz.safetensors')))
    }
    expect(seen.has('InputError')).toBe(true)
  })

  it('names that shadow Object.prototype members are just names', () => {
    expect((errorOf(() => unp(proto(2), global('constructor', 'system'), OP.STOP)) as UnsafePickleError).globalName).toBe('constructor.system')
    const st = encodeSafetensors([{ name: '__proto__', dtype: 'float32', shape: [1], bytes: encodeElements('float32', [4]) }])
    expect([...decodeSafetensors(st, 'p.safetensors').keys()]).toEqual(['model.__proto__'])
    const h = text(JSON.stringify({ a: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }))
    const bytes = concat(new Uint8Array(new BigUint64Array([BigInt(h.length)]).buffer), h, new Uint8Array(4))
    expect(errorOf(() => decodeSafetensors(bytes, 'c.safetensors')).message).toMatch(/unknown dtype "constructor"/)
  })
})

/** data.pkl and the storage records of a torch archive, renamed under 'a/'. */
function unpickleSource(archive: Uint8Array): { data: Uint8Array; storages: { name: string; data: Uint8Array }[] } {
  const zip = ZipArchive.open(archive, 'source.pt')
  const under = (name: string): string => `a/${name.slice(name.indexOf('/') + 1)}`
  const names = [...zip.entries.keys()]
  const pickle = names.find((n) => n.endsWith('/data.pkl')) as string
  return { data: zip.read(pickle), storages: names.filter((n) => n.includes('/data/')).map((n) => ({ name: under(n), data: zip.read(n) })) }
}
