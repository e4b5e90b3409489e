import type { LayerDescription } from './layerDescription'
import { elementCount } from './layerDescription'

/** A checkpoint tensor as the checkpoint loader returns it, or bare data (then only the size is checked). */
export type WeightTensor = Float32Array | { shape: number[]; data: Float32Array }

export class WeightMismatchError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misshaped: { key: string; expected: number[]; actual: number[] | number }[],
  ) {
    const parts: string[] = []
    const list = (keys: string[]): string => keys.slice(0, 8).join(', ') + (keys.length > 8 ? `, ... (${keys.length - 8} more)` : '')
    if (missing.length) parts.push(`${missing.length} missing: ${list(missing)}`)
    if (unexpected.length) parts.push(`${unexpected.length} unexpected: ${list(unexpected)}`)
    if (misshaped.length) {
      const shown = misshaped.slice(0, 8).map((m) => `${m.key} is ${Array.isArray(m.actual) ? `(${m.actual.join(', ')})` : `${m.actual} values`}, expected (${m.expected.join(', ')})`)
      parts.push(`${misshaped.length} with the wrong shape: ${shown.join('; ')}${misshaped.length > 8 ? '; ...' : ''}`)
    }
    super(`the weights do not fit the network: ${parts.join('; ')}`)
    this.name = 'WeightMismatchError'
  }
}

/**
 * Checks a state_dict against the description: every tensor the graph uses present with its exact shape,
 * nothing unknown. `num_batches_tracked` (a training counter no inference graph reads) may be absent.
 * Returns the float data by key; throws WeightMismatchError naming every offending key.
 */
export function validateWeights(desc: LayerDescription, weights: ReadonlyMap<string, WeightTensor>): Map<string, Float32Array> {
  const missing: string[] = []
  const misshaped: WeightMismatchError['misshaped'] = []
  const out = new Map<string, Float32Array>()
  const known = new Set<string>()
  for (const t of desc.tensors) {
    known.add(t.key)
    const w = weights.get(t.key)
    const optional = t.role === 'numBatchesTracked'
    if (!w) {
      if (!optional) missing.push(t.key)
      continue
    }
    const data = w instanceof Float32Array ? w : w.data
    const shapeOk = w instanceof Float32Array ? data.length === elementCount(t.shape) : sameShape(w.shape, t.shape, optional) && data.length === elementCount(t.shape)
    if (!shapeOk) misshaped.push({ key: t.key, expected: t.shape, actual: w instanceof Float32Array ? data.length : w.shape })
    else out.set(t.key, data)
  }
  const unexpected = [...weights.keys()].filter((k) => !known.has(k))
  if (missing.length || unexpected.length || misshaped.length) throw new WeightMismatchError(missing, unexpected, misshaped)
  return out
}

function sameShape(actual: readonly number[], expected: readonly number[], scalarLenient: boolean): boolean {
  // A scalar counter may arrive as () or (1,) depending on the writer.
  if (scalarLenient && elementCount(actual) === 1 && elementCount(expected) === 1) return true
  return actual.length === expected.length && actual.every((d, i) => d === expected[i])
}
