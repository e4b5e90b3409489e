import { InputError } from '../../io/InputError'
import { describePyValue, PyDict, PyTensor, type PyValue } from './unpickler'

/** Keys under which training code commonly nests the state_dict, tried in this order. */
export const WRAPPER_KEYS: readonly string[] = ['state_dict', 'model', 'network', 'model_state_dict', 'net']
const MAX_WRAPPER_DEPTH = 4

/**
 * The state_dict inside an unpickled checkpoint: the top-level dict itself when it holds tensors, or the dict
 * under one of WRAPPER_KEYS (nested wrappers too, e.g. {'model': {'state_dict': ...}}). Every entry must be a
 * string key and a tensor.
 */
export function findStateDict(root: PyValue, filePath: string): [string, PyTensor][] {
  const dict = unwrap(root, filePath, 0, [])
  const out: [string, PyTensor][] = []
  const wrong: string[] = []
  for (const [k, v] of dict.entries) {
    if (typeof k !== 'string') throw new InputError(filePath, `the state_dict has a key that is ${describePyValue(k)}, not a string`)
    if (v instanceof PyTensor) out.push([k, v])
    else wrong.push(`${k} (${describePyValue(v)})`)
  }
  if (wrong.length) {
    throw new InputError(filePath, `the state_dict has ${wrong.length} entr${wrong.length === 1 ? 'y' : 'ies'} that are not tensors: ${listSome(wrong)}`)
  }
  return out
}

function unwrap(v: PyValue, filePath: string, depth: number, path: string[]): PyDict {
  const where = path.length ? `under ${path.map((p) => `['${p}']`).join('')}` : 'at the top level'
  if (!(v instanceof PyDict)) {
    throw new InputError(filePath, `expected a state_dict (a dict of tensors) ${where}, found ${describePyValue(v)}`)
  }
  if (depth < MAX_WRAPPER_DEPTH) {
    for (const key of WRAPPER_KEYS) {
      const inner = v.entries.get(key)
      if (inner instanceof PyDict) return unwrap(inner, filePath, depth + 1, [...path, key])
    }
  }
  for (const value of v.entries.values()) if (value instanceof PyTensor) return v
  const keys = [...v.entries.keys()].map((k) => (typeof k === 'string' ? k : describePyValue(k)))
  throw new InputError(
    filePath,
    `no state_dict found: the dict ${where} holds no tensors and none of ${WRAPPER_KEYS.map((k) => `'${k}'`).join(', ')} ` +
      `(its keys: ${keys.length ? listSome(keys) : 'none'})`,
  )
}

/**
 * Keys as MONAI's UNet names them ('model.0.conv...'): a DataParallel/DistributedDataParallel 'module.' or
 * torch.compile '_orig_mod.' prefix is dropped; when every key starts with 'model.model.' (the UNet held as
 * `self.model` by a wrapper such as a LightningModule) one 'model.' is dropped; a key without 'model.' gets it.
 */
export function normaliseStateDictKeys<T>(entries: readonly (readonly [string, T])[], filePath: string): Map<string, T> {
  let keys = entries.map(([k]) => stripRuntimePrefixes(k))
  if (keys.length && keys.every((k) => k.startsWith('model.model.'))) keys = keys.map((k) => k.slice('model.'.length))
  keys = keys.map((k) => (k.startsWith('model.') ? k : `model.${k}`))
  const out = new Map<string, T>()
  entries.forEach(([original, value], i) => {
    if (out.has(keys[i])) throw new InputError(filePath, `two state_dict entries both mean ${keys[i]} (one is ${original})`)
    out.set(keys[i], value)
  })
  return out
}

function stripRuntimePrefixes(key: string): string {
  for (;;) {
    if (key.startsWith('module.')) key = key.slice('module.'.length)
    else if (key.startsWith('_orig_mod.')) key = key.slice('_orig_mod.'.length)
    else return key
  }
}

export function listSome(items: readonly string[], max = 10): string {
  return items.slice(0, max).join(', ') + (items.length > max ? `, ... and ${items.length - max} more` : '')
}
