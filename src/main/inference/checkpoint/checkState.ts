import { InputError } from '../../io/InputError'
import { listSome } from './stateDict'

export interface StateDictCheckOptions {
  /**
   * Buffers that may be missing (or extra) without complaint, by full key or by last name component, e.g.
   * 'num_batches_tracked'. When present on both sides their shapes are still checked.
   */
  ignoreBuffers?: readonly string[]
  /** The checkpoint file, named in the error (default 'checkpoint'). */
  filePath?: string
}

export interface StateDictMismatch {
  missing: string[]
  unexpected: string[]
  misshaped: { key: string; expected: number[]; actual: number[] }[]
}

/** How a loaded state_dict differs from the expected keys and shapes. */
export function compareStateDict(
  tensors: ReadonlyMap<string, { shape: readonly number[] }>,
  expected: ReadonlyMap<string, readonly number[]>,
  options: StateDictCheckOptions = {},
): StateDictMismatch {
  const ignore = options.ignoreBuffers ?? []
  const ignored = (key: string): boolean => ignore.some((b) => key === b || key.endsWith(`.${b}`))
  const missing: string[] = []
  const misshaped: StateDictMismatch['misshaped'] = []
  for (const [key, shape] of expected) {
    const t = tensors.get(key)
    if (!t) {
      if (!ignored(key)) missing.push(key)
    } else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misshaped.push({ key, expected: [...shape], actual: [...t.shape] })
    }
  }
  const unexpected = [...tensors.keys()].filter((k) => !expected.has(k) && !ignored(k))
  return { missing, unexpected, misshaped }
}

/**
 * Throws an InputError when the state_dict does not have exactly the expected keys with the expected shapes,
 * listing the first ten missing, unexpected and mis-shaped keys of each kind with their counts.
 */
export function checkStateDict(
  tensors: ReadonlyMap<string, { shape: readonly number[] }>,
  expected: ReadonlyMap<string, readonly number[]>,
  options: StateDictCheckOptions = {},
): void {
  const { missing, unexpected, misshaped } = compareStateDict(tensors, expected, options)
  if (!missing.length && !unexpected.length && !misshaped.length) return
  const shape = (s: readonly number[]): string => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`
  const parts: string[] = []
  if (missing.length) parts.push(`${count(missing.length, 'missing key')}: ${listSome(missing)}`)
  if (unexpected.length) parts.push(`${count(unexpected.length, 'unexpected key')}: ${listSome(unexpected)}`)
  if (misshaped.length) {
    parts.push(`${count(misshaped.length, 'mis-shaped key')}: ${listSome(misshaped.map((m) => `${m.key} expected ${shape(m.expected)}, found ${shape(m.actual)}`))}`)
  }
  throw new InputError(options.filePath ?? 'checkpoint', `the weights do not fit the network: ${parts.join('; ')}`)
}
