// Writes the small checkpoint fixtures of test/unit/checkpoint.test.ts into test/fixtures/checkpoints/:
//   npx tsx scripts/make-checkpoint-fixtures.ts
//
// No PyTorch was available where these were made, so they are written by LesionLab's own TypeScript writer
// (src/main/inference/checkpoint/torchSave.ts), which reproduces torch.save's zip format from PyTorch's source:
// records data.pkl, .format_version, .storage_alignment, byteorder, data/<key>..., version,
// .data/serialization_id under a folder named after the file, stored uncompressed at 64-byte alignment; the
// pickle opcode for opcode as CPython's pickler writes it at protocol 2 for a state_dict (OrderedDict with
// `_metadata`, tensors via torch._utils._rebuild_tensor_v2 and ('storage', torch.FloatStorage, key, 'cpu',
// numel) persistent ids). Re-running this script must reproduce the committed files byte for byte.
//
// To verify (or regenerate) them with real PyTorch, on a machine that has it:
//   import torch
//   sd = torch.load('test/fixtures/checkpoints/tiny.pt', weights_only=True)   # must load: only safe globals
//   for k, v in sd.items(): print(k, v.dtype, tuple(v.shape), v.stride(), v.storage_offset(), v.flatten().tolist())
//   # expected values: TINY below, and test/unit/checkpoint.test.ts. The same for tiny-wrapped-*.pt and
//   # tiny-dataparallel.pt (dicts around it); safetensors.torch.load_file('tiny.safetensors') gives the same
//   # values contiguously. torch.save(sd, 'tiny.pt') from such a dict writes an equivalent file (the
//   # serialization_id and _metadata entries of parameter-less modules differ).
// NEVER torch.load the malicious-*.pt files without weights_only=True: they run `echo pwned >
// /tmp/lesionlab-pwned` through os.system / builtins.eval / posix.system. With weights_only=True torch must
// refuse them (as LesionLab does); `python -m pickletools` on their data.pkl shows the opcodes safely.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PickleDict, PickleFloat, PickleTuple, SavedStorage, SavedTensor, type Picklable } from '../src/main/inference/checkpoint/pickler'
import { encodeSafetensors } from '../src/main/inference/checkpoint/safetensors'
import { encodeElements } from '../src/main/inference/checkpoint/tensorData'
import { encodeTorchCheckpoint, torchStateDict } from '../src/main/inference/checkpoint/torchSave'
import { encodeTorchStyleZip } from '../src/main/inference/checkpoint/zipWriter'

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/checkpoints')
const PWN = 'echo pwned > /tmp/lesionlab-pwned'

// --- the tiny state_dict: every way a tensor can sit in its storage
const A = new SavedStorage('float32', encodeElements('float32', [0.5, -1, 1.5, 2, -2.5, 3]))
const B = new SavedStorage('float32', encodeElements('float32', [9, 8, 7, 0.25, -0.75])) // shared by two tensors
const C = new SavedStorage('float32', encodeElements('float32', [1, 2, 3, 4, 5, 6]))
const D = new SavedStorage('float32', encodeElements('float32', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))
const H = new SavedStorage('float16', encodeElements('float16', [0.5, -2.25, 65504, 2 ** -24]))
const L = new SavedStorage('int64', encodeElements('int64', [7n]))
const BF = new SavedStorage('bfloat16', encodeElements('bfloat16', [0.25, -1.5, 3.140625]))
const F64 = new SavedStorage('float64', encodeElements('float64', [0.1, -0.2]))
const EMPTY = new SavedStorage('float32', new Uint8Array(0))

/** Keys without the 'model.' prefix; values as torch stores them. */
const TINY: [string, SavedTensor][] = [
  ['0.conv.weight', new SavedTensor(A, [2, 3])],
  ['0.conv.bias', new SavedTensor(B, [2], { storageOffset: 3 })],
  ['0.adn.N.weight', new SavedTensor(B, [3])],
  ['0.adn.N.bias', new SavedTensor(C, [3, 2], { stride: [1, 3] })], // a transposed 2x3
  ['0.adn.N.running_mean', new SavedTensor(D, [2, 2, 2], { storageOffset: 2, stride: [1, 4, 2] })],
  ['0.adn.N.running_var', new SavedTensor(H, [4])],
  ['0.adn.N.num_batches_tracked', new SavedTensor(L, [])],
  ['0.adn.A.weight', new SavedTensor(BF, [3])],
  ['1.weight', new SavedTensor(F64, [2, 1, 1, 1])],
  ['1.bias', new SavedTensor(EMPTY, [0])],
]

/** The same tensors, row-major, for the safetensors file. */
const TINY_CONTIGUOUS: { name: string; dtype: SavedStorage['dtype']; shape: number[]; values: number[] | bigint[] }[] = [
  { name: '0.conv.weight', dtype: 'float32', shape: [2, 3], values: [0.5, -1, 1.5, 2, -2.5, 3] },
  { name: '0.conv.bias', dtype: 'float32', shape: [2], values: [0.25, -0.75] },
  { name: '0.adn.N.weight', dtype: 'float32', shape: [3], values: [9, 8, 7] },
  { name: '0.adn.N.bias', dtype: 'float32', shape: [3, 2], values: [1, 4, 2, 5, 3, 6] },
  { name: '0.adn.N.running_mean', dtype: 'float32', shape: [2, 2, 2], values: [2, 4, 6, 8, 3, 5, 7, 9] },
  { name: '0.adn.N.running_var', dtype: 'float16', shape: [4], values: [0.5, -2.25, 65504, 2 ** -24] },
  { name: '0.adn.N.num_batches_tracked', dtype: 'int64', shape: [], values: [7n] },
  { name: '0.adn.A.weight', dtype: 'bfloat16', shape: [3], values: [0.25, -1.5, 3.140625] },
  { name: '1.weight', dtype: 'float64', shape: [2, 1, 1, 1], values: [0.1, -0.2] },
  { name: '1.bias', dtype: 'float32', shape: [0], values: [] },
]

const withPrefix = (prefix: string): [string, SavedTensor][] => TINY.map(([k, t]) => [`${prefix}${k}`, t])
/** MONAI BatchNorm modules (named N) are version 2, everything else 1, as Module._version says. */
const version = (prefix: string): number => (prefix.endsWith('.N') ? 2 : 1)

function torchFile(name: string, root: Picklable): void {
  const archiveName = name.replace(/\.[^.]*$/, '')
  write(name, encodeTorchCheckpoint(root, { archiveName, serializationId: '1'.repeat(20) + '2'.repeat(20) }))
}

function write(name: string, bytes: Uint8Array): void {
  if (bytes.length > 200 * 1024) throw new Error(`${name} would be ${bytes.length} bytes; fixtures stay under 200 KB`)
  writeFileSync(join(OUT, name), bytes)
  console.log(`${name}: ${bytes.length} bytes`)
}

mkdirSync(OUT, { recursive: true })

// torch.save(model.state_dict(), 'tiny.pt')
torchFile('tiny.pt', torchStateDict(withPrefix('model.'), version))

// A training checkpoint: torch.save({'epoch': ..., 'state_dict': ..., 'optimizer': ...}, ...)
const optimizer = new PickleDict([
  ['state', new PickleDict([])],
  [
    'param_groups',
    [
      new PickleDict([
        ['lr', new PickleFloat(0.0002)],
        ['betas', new PickleTuple([new PickleFloat(0.9), new PickleFloat(0.999)])],
        ['eps', new PickleFloat(1e-8)],
        ['weight_decay', new PickleFloat(1e-5)],
        ['amsgrad', false],
        ['foreach', null],
        ['maximize', false],
        ['capturable', false],
        ['differentiable', false],
        ['fused', null],
        ['params', TINY.map((_, i) => i)],
      ]),
    ],
  ],
])
torchFile(
  'tiny-wrapped-state_dict.pt',
  new PickleDict([
    ['epoch', 400],
    ['global_step', 2 ** 40],
    ['best_metric', new PickleFloat(0.875)],
    ['best_metric_delta', new PickleFloat(-0.5)],
    ['state_dict', torchStateDict(withPrefix('model.'), version)],
    ['optimizer', optimizer],
    ['loss_history', [new PickleFloat(1.5), new PickleFloat(0.75), new PickleFloat(0.5)]],
    ['seed', -123456789012],
  ]),
)

// {'model': state_dict} saved from the bare nn.Sequential (keys without 'model.').
torchFile('tiny-wrapped-model.pt', new PickleDict([['model', torchStateDict(TINY, version)]]))

// torch.save(nn.DataParallel(unet).state_dict(), ...)
torchFile('tiny-dataparallel.pt', torchStateDict(withPrefix('module.model.'), version))

write(
  'tiny.safetensors',
  encodeSafetensors(
    TINY_CONTIGUOUS.map((t) => ({ name: `model.${t.name}`, dtype: t.dtype, shape: t.shape, bytes: encodeElements(t.dtype, t.values) })),
    { format: 'pt' },
  ),
)

// The pre-1.6 format starts with pickle.dump(MAGIC_NUMBER), pickle.dump(PROTOCOL_VERSION), pickle.dump(sys_info).
write(
  'legacy-format.pt',
  concat(
    bytes(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e),
    bytes(0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e),
    bytes(0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e),
  ),
)

// --- malicious pickles, each in a well-formed torch archive

/** GLOBAL os.system, then REDUCE with the command: what a hand-written exploit looks like. */
const osSystem = concat(bytes(0x80, 0x02), op('c', 'os\nsystem\n'), bytes(0x71, 0), binunicode(PWN), bytes(0x71, 1, 0x85, 0x71, 2, 0x52, 0x71, 3, 0x2e))

/** A plausible training dict whose second entry is eval(...), as Python 3's pickler writes it at protocol 2. */
const builtinsEval = concat(
  bytes(0x80, 0x02, 0x7d, 0x71, 0, 0x28),
  binunicode('state_dict'),
  bytes(0x71, 1),
  op('c', 'collections\nOrderedDict\n'),
  bytes(0x71, 2, 0x29, 0x52, 0x71, 3),
  binunicode('hook'),
  bytes(0x71, 4),
  op('c', '__builtin__\neval\n'),
  bytes(0x71, 5),
  binunicode(`__import__('os').system('${PWN}')`),
  bytes(0x71, 6, 0x85, 0x71, 7, 0x52, 0x71, 8, 0x75, 0x2e),
)

/** pickle.dumps(obj, protocol=4) for an object whose __reduce__ returns (os.system, (cmd,)) on Linux. */
const posixSystemBody = concat(
  shortUnicode('posix'),
  bytes(0x94),
  shortUnicode('system'),
  bytes(0x94, 0x93, 0x94),
  shortUnicode(PWN),
  bytes(0x94, 0x85, 0x94, 0x52, 0x94, 0x2e),
)
const posixSystem = concat(bytes(0x80, 0x04, 0x95), u64(posixSystemBody.length), posixSystemBody)

for (const [name, pickle] of [
  ['malicious-os-system.pt', osSystem],
  ['malicious-builtins-eval.pt', builtinsEval],
  ['malicious-posix-system-proto4.pt', posixSystem],
] as const) {
  const prefix = `${name.replace(/\.pt$/, '')}/`
  const text = (s: string): Uint8Array => new TextEncoder().encode(s)
  write(
    name,
    encodeTorchStyleZip([
      { name: `${prefix}data.pkl`, data: pickle },
      { name: `${prefix}.format_version`, data: text('1') },
      { name: `${prefix}.storage_alignment`, data: text('64') },
      { name: `${prefix}byteorder`, data: text('little') },
      { name: `${prefix}version`, data: text('3\n') },
      { name: `${prefix}.data/serialization_id`, data: text('0'.repeat(40)) },
    ]),
  )
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function op(code: string, text: string): Uint8Array {
  return concat(new TextEncoder().encode(code), new TextEncoder().encode(text))
}

function binunicode(s: string): Uint8Array {
  const b = new TextEncoder().encode(s)
  const head = new Uint8Array(5)
  head[0] = 0x58
  new DataView(head.buffer).setUint32(1, b.length, true)
  return concat(head, b)
}

function shortUnicode(s: string): Uint8Array {
  const b = new TextEncoder().encode(s)
  return concat(bytes(0x8c, b.length), b)
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true)
  return b
}
