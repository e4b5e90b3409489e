import { InputError } from '../../io/InputError'
import { DTYPE_BYTES, type TorchDtype } from './types'
import { UnsafePickleError } from './UnsafePickleError'

/*
 * A restricted unpickler for PyTorch state_dicts. Python's own unpickler imports and calls whatever a pickle
 * names; this one never imports or calls anything. A GLOBAL is only a (module, name) pair checked against an
 * allow-list; REDUCE/NEWOBJ/BUILD are interpreted for the few allowed names (OrderedDict, tensor rebuilding)
 * and refused for everything else. The values it returns are plain data plus PyTensor descriptors whose bytes
 * the caller reads from the archive.
 */

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  readonly entries = new Map<PyValue, PyValue>()
  /** Instance attributes set by BUILD (a state_dict's `_metadata`); kept, never interpreted. */
  attributes: PyValue = null
  constructor(readonly ordered: boolean) {}
}

export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

/** A Python global by name: nothing behind it but the name. Only allow-listed names are ever created. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`
  }
}

/** A storage of the archive (`data/<key>`), as torch's persistent id describes it. */
export class TorchStorage {
  constructor(
    readonly key: string,
    /** Element type; uint8 for an untyped (byte) storage. */
    readonly dtype: TorchDtype,
    /** Elements (bytes for an untyped storage). */
    readonly numel: number,
    readonly location: string,
  ) {}
  get byteLength(): number {
    return this.numel * DTYPE_BYTES[this.dtype]
  }
}

/** A tensor: a strided view (in elements of `dtype`) into a storage. */
export class PyTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly dtype: TorchDtype,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | TorchStorage | PyTensor

export interface UnpickleLimits {
  maxPickleBytes: number
  /** Items on one stack frame (between MARKs). */
  maxStackItems: number
  /** Nested MARKs. */
  maxMarkDepth: number
  maxMemoEntries: number
  /** Items in one list, dict, set or tuple. */
  maxContainerItems: number
  /** Bytes of one Python int (LONG1/LONG4). */
  maxIntegerBytes: number
  maxTensorDims: number
  maxTensorElements: number
}

export const DEFAULT_UNPICKLE_LIMITS: Readonly<UnpickleLimits> = {
  maxPickleBytes: 64 * 1024 * 1024,
  maxStackItems: 1 << 20,
  maxMarkDepth: 1000,
  maxMemoEntries: 1 << 20,
  maxContainerItems: 1 << 20,
  maxIntegerBytes: 64,
  maxTensorDims: 64,
  maxTensorElements: 2 ** 31 - 1,
}

export interface UnpickleContext {
  /** The checkpoint file, for error messages. */
  filePath: string
  /** The record inside the file, for error messages (e.g. `archive/data.pkl`). */
  recordName?: string
  limits?: Partial<UnpickleLimits>
}

/** Storage classes torch.save names in persistent ids (torch 1.x and 2.x), and their element types. */
const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  'torch.FloatStorage': 'float32',
  'torch.DoubleStorage': 'float64',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
  'torch.UntypedStorage': 'uint8',
  'torch.storage.UntypedStorage': 'uint8',
}
const UNTYPED_STORAGES = new Set(['torch.UntypedStorage', 'torch.storage.UntypedStorage'])

/** `torch.<dtype>` globals (a dtype pickles as its name), for _rebuild_tensor_v3. */
const DTYPE_GLOBALS: Readonly<Record<string, TorchDtype>> = {
  'torch.float32': 'float32',
  'torch.float64': 'float64',
  'torch.float16': 'float16',
  'torch.bfloat16': 'bfloat16',
  'torch.int64': 'int64',
  'torch.int32': 'int32',
  'torch.int16': 'int16',
  'torch.int8': 'int8',
  'torch.uint8': 'uint8',
  'torch.bool': 'bool',
}

const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2'
const REBUILD_TENSOR_V3 = 'torch._utils._rebuild_tensor_v3'
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter'
const REBUILD_PARAMETER_WITH_STATE = 'torch._utils._rebuild_parameter_with_state'
const REBUILD_FROM_TYPE_V2 = 'torch._tensor._rebuild_from_type_v2'
const ORDERED_DICT = 'collections.OrderedDict'
const TORCH_SIZE = 'torch.Size'
const TENSOR_TYPES = new Set(['torch.Tensor', 'torch.nn.parameter.Parameter'])
const REBUILD_FUNCTIONS = new Set([REBUILD_TENSOR_V2, REBUILD_TENSOR_V3, REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE])

/** Every global a checkpoint may name. Any other name is refused with UnsafePickleError. */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  ORDERED_DICT,
  TORCH_SIZE,
  REBUILD_FROM_TYPE_V2,
  ...REBUILD_FUNCTIONS,
  ...TENSOR_TYPES,
  ...Object.keys(STORAGE_TYPES),
  ...Object.keys(DTYPE_GLOBALS),
])

/** Python 2 module names that protocol-2 pickles written by Python 3 use (pickle's fix_imports). */
const PY2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg', exceptions: 'builtins' }

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
}

/** Reads one pickle (protocols 2-5, plus the binary opcodes of protocol 1) into PyValues. */
export function unpickle(data: Uint8Array, context: UnpickleContext): PyValue {
  return new Unpickler(data, context).load()
}

/** A short description of a value's Python type, for messages. */
export function describePyValue(v: PyValue): string {
  if (v === null) return 'None'
  if (typeof v === 'boolean') return 'a bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'an int' : 'a float'
  if (typeof v === 'bigint') return 'an int'
  if (typeof v === 'string') return 'a str'
  if (v instanceof Uint8Array) return 'bytes'
  if (Array.isArray(v)) return 'a list'
  if (v instanceof PyTuple) return 'a tuple'
  if (v instanceof PyDict) return v.ordered ? 'an OrderedDict' : 'a dict'
  if (v instanceof PySet) return 'a set'
  if (v instanceof PyGlobal) return v.fullName
  if (v instanceof TorchStorage) return 'a storage'
  return 'a tensor'
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

class Unpickler {
  private pos = 0
  private readonly view: DataView
  private stack: PyValue[] = []
  private readonly metastack: PyValue[][] = []
  private readonly memo = new Map<number, PyValue>()
  private readonly limits: UnpickleLimits
  private opcodeAt = 0

  constructor(
    private readonly data: Uint8Array,
    private readonly context: UnpickleContext,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    this.limits = { ...DEFAULT_UNPICKLE_LIMITS, ...context.limits }
  }

  load(): PyValue {
    if (this.data.length > this.limits.maxPickleBytes) {
      throw new InputError(this.context.filePath, `${this.record()} is ${this.data.length} bytes, more than the ${this.limits.maxPickleBytes} a state_dict needs`)
    }
    for (;;) {
      if (this.pos >= this.data.length) throw this.corrupt('it ends before its STOP opcode (truncated?)')
      this.opcodeAt = this.pos
      const op = this.data[this.pos++]
      if (op === 0x2e) return this.pop() // STOP
      this.step(op)
    }
  }

  private step(op: number): void {
    switch (op) {
      // --- framing and protocol
      case 0x80: {
        const proto = this.u8()
        if (proto > 5) throw this.corrupt(`pickle protocol ${proto} is newer than any Python writes (at most 5)`)
        return
      }
      case 0x95: {
        const n = this.u64()
        if (n > this.data.length - this.pos) throw this.corrupt(`a FRAME of ${n} bytes runs past the end`)
        return
      }
      // --- stack
      case 0x28: // MARK
        if (this.metastack.length >= this.limits.maxMarkDepth) throw this.tooMuch(`more than ${this.limits.maxMarkDepth} nested MARKs`)
        this.metastack.push(this.stack)
        this.stack = []
        return
      case 0x30: // POP
        if (this.stack.length) this.stack.pop()
        else this.popMark()
        return
      case 0x31: // POP_MARK
        this.popMark()
        return
      case 0x32: // DUP
        return this.push(this.top())
      // --- constants and numbers
      case 0x4e: return this.push(null)
      case 0x88: return this.push(true)
      case 0x89: return this.push(false)
      case 0x4a: return this.push(this.i32())
      case 0x4b: return this.push(this.u8())
      case 0x4d: return this.push(this.u16())
      case 0x8a: return this.push(this.long(this.u8()))
      case 0x8b: return this.push(this.long(this.u32()))
      case 0x47: return this.push(this.f64be())
      // --- strings and bytes
      case 0x58: return this.push(this.text(this.u32()))
      case 0x8c: return this.push(this.text(this.u8()))
      case 0x8d: return this.push(this.text(this.u64()))
      case 0x54: {
        const n = this.i32()
        if (n < 0) throw this.corrupt('negative BINSTRING length')
        return this.push(this.text(n))
      }
      case 0x55: return this.push(this.text(this.u8()))
      case 0x42: return this.push(this.bytes(this.u32()).slice())
      case 0x43: return this.push(this.bytes(this.u8()).slice())
      case 0x8e: return this.push(this.bytes(this.u64()).slice())
      case 0x96: return this.push(this.bytes(this.u64()).slice())
      // --- containers
      case 0x5d: return this.push([])
      case 0x61: { // APPEND
        const item = this.pop()
        this.appendTo(this.listOnTop(), [item])
        return
      }
      case 0x65: { // APPENDS
        const items = this.popMark()
        this.appendTo(this.listOnTop(), items)
        return
      }
      case 0x6c: return this.push(this.checkedItems(this.popMark()))
      case 0x29: return this.push(new PyTuple([]))
      case 0x74: return this.push(new PyTuple(this.checkedItems(this.popMark())))
      case 0x85: return this.push(new PyTuple([this.pop()]))
      case 0x86: {
        const b = this.pop()
        return this.push(new PyTuple([this.pop(), b]))
      }
      case 0x87: {
        const c = this.pop()
        const b = this.pop()
        return this.push(new PyTuple([this.pop(), b, c]))
      }
      case 0x7d: return this.push(new PyDict(false))
      case 0x64: { // DICT
        const d = new PyDict(false)
        this.setItems(d, this.popMark())
        return this.push(d)
      }
      case 0x73: { // SETITEM
        const v = this.pop()
        const k = this.pop()
        this.setItems(this.dictOnTop(), [k, v])
        return
      }
      case 0x75: { // SETITEMS
        const items = this.popMark()
        this.setItems(this.dictOnTop(), items)
        return
      }
      case 0x8f: return this.push(new PySet([], false))
      case 0x90: { // ADDITEMS
        const items = this.popMark()
        const s = this.top()
        if (!(s instanceof PySet) || s.frozen) throw this.corrupt(`ADDITEMS on ${describePyValue(s)}`)
        this.appendTo(s.items, items)
        return
      }
      case 0x91: return this.push(new PySet(this.checkedItems(this.popMark()), true))
      // --- memo
      case 0x71: return this.put(this.u8())
      case 0x72: return this.put(this.u32())
      case 0x94: return this.put(this.memo.size)
      case 0x68: return this.get(this.u8())
      case 0x6a: return this.get(this.u32())
      // --- the risky ones: names and calls
      case 0x63: { // GLOBAL
        const module = this.line()
        const name = this.line()
        return this.push(this.global(module, name))
      }
      case 0x93: { // STACK_GLOBAL
        const name = this.pop()
        const module = this.pop()
        if (typeof module !== 'string' || typeof name !== 'string') throw this.corrupt('STACK_GLOBAL needs two strings')
        return this.push(this.global(module, name))
      }
      case 0x69: { // INST: module and class inline, arguments after the last MARK
        const g = this.global(this.line(), this.line())
        return this.push(this.instantiate(g, this.popMark(), 'INST'))
      }
      case 0x6f: { // OBJ: class and arguments after the last MARK
        const items = this.popMark()
        if (!items.length) throw this.corrupt('OBJ without a class')
        return this.push(this.instantiate(items[0], items.slice(1), 'OBJ'))
      }
      case 0x81: { // NEWOBJ
        const args = this.pop()
        const cls = this.pop()
        return this.push(this.instantiate(cls, this.tupleItems(args, 'NEWOBJ arguments'), 'NEWOBJ'))
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = this.pop()
        const args = this.pop()
        const cls = this.pop()
        if (!(kwargs instanceof PyDict) || kwargs.entries.size) {
          throw cls instanceof PyGlobal ? new UnsafePickleError(this.context.filePath, cls.fullName, 'builds') : this.corrupt('NEWOBJ_EX with keyword arguments')
        }
        return this.push(this.instantiate(cls, this.tupleItems(args, 'NEWOBJ_EX arguments'), 'NEWOBJ_EX'))
      }
      case 0x52: { // REDUCE
        const args = this.pop()
        const func = this.pop()
        return this.push(this.call(func, args))
      }
      case 0x62: { // BUILD
        const state = this.pop()
        this.build(this.top(), state)
        return
      }
      case 0x51: return this.push(this.persistentLoad(this.pop()))
      case 0x50:
        throw this.corrupt('a text persistent id (PERSID), which torch.save never writes')
      case 0x82:
      case 0x83:
      case 0x84:
        throw new UnsafePickleError(this.context.filePath, 'the copyreg extension registry', 'looks up a class in')
      case 0x97:
      case 0x98:
        throw this.corrupt('out-of-band buffers (NEXT_BUFFER), which torch.save never writes')
      case 0x49:
      case 0x4c:
      case 0x46:
      case 0x53:
      case 0x56:
      case 0x70:
      case 0x67:
        throw this.corrupt(`the text opcode ${OPCODE_NAMES[op]} of pickle protocol 0, which torch.save (protocol 2) never writes`)
      default:
        throw this.corrupt(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`)
    }
  }

  // --- the allow-list

  private global(rawModule: string, name: string): PyGlobal {
    const module = Object.hasOwn(PY2_MODULES, rawModule) ? PY2_MODULES[rawModule] : rawModule
    const full = `${module}.${name}`
    if (!ALLOWED_GLOBALS.has(full)) throw new UnsafePickleError(this.context.filePath, full)
    return new PyGlobal(module, name)
  }

  private instantiate(cls: PyValue, args: readonly PyValue[], opcode: string): PyValue {
    if (!(cls instanceof PyGlobal)) throw this.corrupt(`${opcode} on ${describePyValue(cls)}, not a class`)
    if (cls.fullName === ORDERED_DICT && args.length === 0) return new PyDict(true)
    throw new UnsafePickleError(this.context.filePath, cls.fullName, 'builds an object of')
  }

  private call(func: PyValue, argsValue: PyValue): PyValue {
    if (!(func instanceof PyGlobal)) throw this.corrupt(`REDUCE calls ${describePyValue(func)}, not a function`)
    const name = func.fullName
    const args = this.tupleItems(argsValue, `the arguments of ${name}`)
    switch (name) {
      case ORDERED_DICT:
        return this.orderedDict(args)
      case TORCH_SIZE: {
        if (args.length !== 1) throw this.corrupt('torch.Size takes one sequence')
        const dims = this.sequenceItems(args[0], 'torch.Size')
        return new PyTuple(dims.map((d) => this.int(d, 'a torch.Size entry')))
      }
      case REBUILD_TENSOR_V2:
      case REBUILD_TENSOR_V3:
        return this.rebuildTensor(name, args)
      case REBUILD_PARAMETER:
      case REBUILD_PARAMETER_WITH_STATE: {
        // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for our purposes.
        if (args.length !== (name === REBUILD_PARAMETER ? 3 : 4)) throw this.corrupt(`${name} with ${args.length} arguments`)
        if (!(args[0] instanceof PyTensor)) throw this.corrupt(`${name} of ${describePyValue(args[0])}, not a tensor`)
        return args[0]
      }
      case REBUILD_FROM_TYPE_V2: {
        // (func, new_type, args, state): a tensor subclass wrapper; only plain Tensor/Parameter are accepted.
        if (args.length !== 4) throw this.corrupt(`${name} with ${args.length} arguments`)
        const [inner, type, innerArgs] = args
        if (!(type instanceof PyGlobal) || !TENSOR_TYPES.has(type.fullName)) {
          throw type instanceof PyGlobal ? new UnsafePickleError(this.context.filePath, type.fullName, 'rebuilds a tensor as') : this.corrupt(`${name} with a type that is ${describePyValue(type)}`)
        }
        if (!(inner instanceof PyGlobal) || !REBUILD_FUNCTIONS.has(inner.fullName)) {
          throw inner instanceof PyGlobal ? new UnsafePickleError(this.context.filePath, inner.fullName, 'calls') : this.corrupt(`${name} with a function that is ${describePyValue(inner)}`)
        }
        return this.call(inner, innerArgs)
      }
      default:
        // Allow-listed as a name (a storage class, a dtype, torch.Tensor) but never a thing to call.
        throw new UnsafePickleError(this.context.filePath, name, 'calls')
    }
  }

  private orderedDict(args: readonly PyValue[]): PyDict {
    const d = new PyDict(true)
    if (args.length === 0) return d
    if (args.length !== 1) throw this.corrupt(`collections.OrderedDict with ${args.length} arguments`)
    const pairs = this.sequenceItems(args[0], 'collections.OrderedDict')
    const flat: PyValue[] = []
    for (const p of pairs) {
      const kv = this.sequenceItems(p, 'an OrderedDict item')
      if (kv.length !== 2) throw this.corrupt('an OrderedDict item is not a (key, value) pair')
      flat.push(kv[0], kv[1])
    }
    this.setItems(d, flat)
    return d
  }

  private rebuildTensor(name: string, args: readonly PyValue[]): PyTensor {
    const v3 = name === REBUILD_TENSOR_V3
    // v2: (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    // v3: (storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
    const minArgs = v3 ? 7 : 6
    if (args.length < minArgs || args.length > minArgs + 1) throw this.corrupt(`${name} with ${args.length} arguments`)
    const [storage, offsetValue, sizeValue, strideValue, requiresGrad, hooks] = args
    if (!(storage instanceof TorchStorage)) throw this.corrupt(`${name} of ${describePyValue(storage)}, not a storage`)
    if (typeof requiresGrad !== 'boolean') throw this.corrupt(`${name}: requires_grad is ${describePyValue(requiresGrad)}`)
    if (!(hooks instanceof PyDict)) throw this.corrupt(`${name}: backward hooks are ${describePyValue(hooks)}`)
    let dtype = storage.dtype
    if (v3) {
      const d = args[6]
      if (!(d instanceof PyGlobal) || !Object.hasOwn(DTYPE_GLOBALS, d.fullName)) throw this.corrupt(`${name}: the dtype is ${describePyValue(d)}`)
      dtype = DTYPE_GLOBALS[d.fullName]
      if (storage.dtype !== 'uint8' && storage.dtype !== dtype) throw this.corrupt(`${name}: a ${dtype} tensor on a ${storage.dtype} storage`)
    }
    const offset = this.int(offsetValue, 'a storage offset')
    const shape = this.sequenceItems(sizeValue, 'a tensor size').map((d) => this.int(d, 'a tensor size'))
    const stride = this.sequenceItems(strideValue, 'a tensor stride').map((d) => this.int(d, 'a tensor stride'))
    if (shape.length !== stride.length) throw this.corrupt(`a tensor with ${shape.length} dimensions but ${stride.length} strides`)
    if (shape.length > this.limits.maxTensorDims) throw this.tooMuch(`a tensor with ${shape.length} dimensions`)
    let elements = 1
    let lastIndex = offset
    for (let i = 0; i < shape.length; i++) {
      elements *= shape[i]
      if (elements > this.limits.maxTensorElements) throw this.tooMuch(`a tensor of shape (${shape.join(', ')})`)
      lastIndex += (shape[i] - 1) * stride[i]
    }
    if (elements > 0) {
      const capacity = Math.floor(storage.byteLength / DTYPE_BYTES[dtype])
      if (!Number.isSafeInteger(lastIndex) || lastIndex >= capacity) {
        throw this.corrupt(`a tensor of shape (${shape.join(', ')}), stride (${stride.join(', ')}) at offset ${offset} reaches past its storage data/${storage.key} (${capacity} ${dtype} elements)`)
      }
    }
    return new PyTensor(storage, dtype, offset, shape, stride)
  }

  /** torch's persistent id: ('storage', storage class, key, location, numel). */
  private persistentLoad(pid: PyValue): TorchStorage {
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      throw this.corrupt(`a persistent id that is not a torch storage reference (${describePyValue(pid)})`)
    }
    const [, type, key, location, numelValue] = pid.items
    if (!(type instanceof PyGlobal) || !Object.hasOwn(STORAGE_TYPES, type.fullName)) throw this.corrupt(`a storage whose type is ${describePyValue(type)}`)
    if (typeof key !== 'string' || !key) throw this.corrupt(`a storage key that is ${describePyValue(key)}`)
    if (typeof location !== 'string') throw this.corrupt(`a storage location that is ${describePyValue(location)}`)
    const numel = this.int(numelValue, 'a storage size')
    const dtype = STORAGE_TYPES[type.fullName]
    if (numel * DTYPE_BYTES[dtype] > Number.MAX_SAFE_INTEGER) throw this.tooMuch(`a storage of ${numel} elements`)
    return new TorchStorage(key, UNTYPED_STORAGES.has(type.fullName) ? 'uint8' : dtype, numel, location)
  }

  private build(inst: PyValue, state: PyValue): void {
    // OrderedDict's __reduce__ carries its instance __dict__ (a state_dict's `_metadata`) as BUILD state.
    if (inst instanceof PyDict && inst.ordered) {
      const ok = state === null || state instanceof PyDict || (state instanceof PyTuple && state.items.length === 2 && state.items.every((s) => s === null || s instanceof PyDict))
      if (!ok) throw this.corrupt(`BUILD of an OrderedDict with ${describePyValue(state)}`)
      inst.attributes = state
      return
    }
    // Anything else would mean calling __setstate__ or setting attributes on some object.
    throw new UnsafePickleError(this.context.filePath, pythonTypeName(inst), 'sets the state (BUILD) of')
  }

  // --- containers

  private setItems(d: PyDict, flat: readonly PyValue[]): void {
    if (flat.length % 2) throw this.corrupt('SETITEMS with an odd number of items')
    for (let i = 0; i < flat.length; i += 2) {
      const k = flat[i]
      if (Array.isArray(k) || k instanceof PyDict || (k instanceof PySet && !k.frozen)) throw this.corrupt(`a dict key that is ${describePyValue(k)} (unhashable)`)
      d.entries.set(k, flat[i + 1])
    }
    if (d.entries.size > this.limits.maxContainerItems) throw this.tooMuch(`a dict of more than ${this.limits.maxContainerItems} items`)
  }

  private appendTo(list: PyValue[], items: readonly PyValue[]): void {
    if (list.length + items.length > this.limits.maxContainerItems) throw this.tooMuch(`a container of more than ${this.limits.maxContainerItems} items`)
    for (const item of items) list.push(item)
  }

  private checkedItems(items: PyValue[]): PyValue[] {
    if (items.length > this.limits.maxContainerItems) throw this.tooMuch(`a container of more than ${this.limits.maxContainerItems} items`)
    return items
  }

  private listOnTop(): PyValue[] {
    const t = this.top()
    if (!Array.isArray(t)) throw this.corrupt(`APPEND to ${describePyValue(t)}, not a list`)
    return t
  }

  private dictOnTop(): PyDict {
    const t = this.top()
    if (!(t instanceof PyDict)) throw this.corrupt(`SETITEM on ${describePyValue(t)}, not a dict`)
    return t
  }

  private tupleItems(v: PyValue, what: string): readonly PyValue[] {
    if (!(v instanceof PyTuple)) throw this.corrupt(`${what} are ${describePyValue(v)}, not a tuple`)
    return v.items
  }

  private sequenceItems(v: PyValue, what: string): readonly PyValue[] {
    if (v instanceof PyTuple) return v.items
    if (Array.isArray(v)) return v
    throw this.corrupt(`${what} is ${describePyValue(v)}, not a tuple or list`)
  }

  private int(v: PyValue, what: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw this.corrupt(`${what} is ${typeof v === 'number' || typeof v === 'bigint' ? String(v) : describePyValue(v)}, not a non-negative integer`)
    return v
  }

  // --- stack and memo

  private push(v: PyValue): void {
    if (this.stack.length >= this.limits.maxStackItems) throw this.tooMuch(`more than ${this.limits.maxStackItems} values on the stack`)
    this.stack.push(v)
  }

  private pop(): PyValue {
    if (!this.stack.length) throw this.corrupt('the stack is empty (a value is missing)')
    return this.stack.pop() as PyValue
  }

  private top(): PyValue {
    if (!this.stack.length) throw this.corrupt('the stack is empty (a value is missing)')
    return this.stack[this.stack.length - 1]
  }

  private popMark(): PyValue[] {
    const items = this.stack
    const outer = this.metastack.pop()
    if (!outer) throw this.corrupt('no MARK to return to')
    this.stack = outer
    return items
  }

  private put(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemoEntries) throw this.tooMuch(`more than ${this.limits.maxMemoEntries} memo entries`)
    this.memo.set(index, this.top())
  }

  private get(index: number): void {
    if (!this.memo.has(index)) throw this.corrupt(`memo entry ${index} is read before it is written`)
    this.push(this.memo.get(index) as PyValue)
  }

  // --- reading bytes


  private ensure(n: number): void {
    if (n > this.data.length - this.pos) throw this.corrupt(`it ends in the middle of ${OPCODE_NAMES[this.data[this.opcodeAt]] ?? 'an opcode'} (truncated?)`)
  }

  private u8(): number {
    this.ensure(1)
    return this.data[this.pos++]
  }

  private u16(): number {
    this.ensure(2)
    const v = this.view.getUint16(this.pos, true)
    this.pos += 2
    return v
  }

  private u32(): number {
    this.ensure(4)
    const v = this.view.getUint32(this.pos, true)
    this.pos += 4
    return v
  }

  private i32(): number {
    this.ensure(4)
    const v = this.view.getInt32(this.pos, true)
    this.pos += 4
    return v
  }

  private f64be(): number {
    this.ensure(8)
    const v = this.view.getFloat64(this.pos, false)
    this.pos += 8
    return v
  }

  private u64(): number {
    this.ensure(8)
    const v = this.view.getBigUint64(this.pos, true)
    this.pos += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(`a length of ${v} bytes`)
    return Number(v)
  }

  private bytes(n: number): Uint8Array {
    this.ensure(n)
    const b = this.data.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }

  private text(n: number): string {
    const b = this.bytes(n)
    try {
      return utf8.decode(b)
    } catch {
      throw this.corrupt('a string that is not valid UTF-8')
    }
  }

  /** A little-endian two's-complement Python int, as a number when exact, else a bigint. */
  private long(n: number): number | bigint {
    if (n > this.limits.maxIntegerBytes) throw this.tooMuch(`an integer of ${n} bytes`)
    const b = this.bytes(n)
    if (n === 0) return 0
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i])
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n)
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  }

  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos)
    if (end < 0 || end - this.pos > 1024) throw this.corrupt('a GLOBAL name that does not end in a newline')
    const s = this.text(end - this.pos)
    this.pos++
    return s
  }

  // --- errors

  private record(): string {
    return this.context.recordName ?? 'the pickle'
  }

  private corrupt(problem: string): InputError {
    const op = OPCODE_NAMES[this.data[this.opcodeAt]]
    return new InputError(this.context.filePath, `${this.record()} is corrupt or not a state_dict: ${problem} (byte ${this.opcodeAt}${op ? `, ${op}` : ''})`)
  }

  private tooMuch(what: string): InputError {
    return new InputError(this.context.filePath, `${this.record()} holds ${what}, beyond what a state_dict needs; refusing to go on (byte ${this.opcodeAt})`)
  }
}

function pythonTypeName(v: PyValue): string {
  if (v instanceof PyGlobal) return v.fullName
  if (v instanceof PyTensor) return 'torch.Tensor'
  if (v instanceof TorchStorage) return 'torch.storage.TypedStorage'
  if (v instanceof PyDict) return v.ordered ? ORDERED_DICT : 'builtins.dict'
  if (v instanceof PyTuple) return 'builtins.tuple'
  if (v instanceof PySet) return v.frozen ? 'builtins.frozenset' : 'builtins.set'
  if (Array.isArray(v)) return 'builtins.list'
  if (v === null) return 'builtins.NoneType'
  if (v instanceof Uint8Array) return 'builtins.bytes'
  return `builtins.${typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) || typeof v === 'bigint' ? 'int' : 'float'}`
}
