import type { NaturalizedDataset } from '../dicomTypes'

/**
 * Small readers for dcmjs "naturalized" values. A sequence is an array of items when read from a file
 * but may be a bare item when built in memory (dcmjs's own derivations do that); multi-valued numbers
 * are arrays, single values are scalars, DS/IS may still be strings.
 */
export function seqItems(value: unknown): NaturalizedDataset[] {
  if (Array.isArray(value)) return value.filter((v): v is NaturalizedDataset => !!v && typeof v === 'object')
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    return [value as NaturalizedDataset]
  }
  return []
}

export function firstItem(value: unknown): NaturalizedDataset | undefined {
  return seqItems(value)[0]
}

export function numberValue(value: unknown): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === null || v === '') return undefined
  const n = typeof v === 'number' ? v : Number(String(v).trim())
  return Number.isFinite(n) ? n : undefined
}

/** All values of a multi-valued numeric attribute, or undefined unless there are exactly `count` finite ones. */
export function numberValues(value: unknown, count: number): number[] | undefined {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\\') : [value]
  const out = list.map((v) => (typeof v === 'number' ? v : Number(String(v).trim())))
  return out.length === count && out.every(Number.isFinite) ? out : undefined
}

export function textValue(value: unknown): string {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === null) return ''
  if (typeof v === 'object') {
    const pn = v as { Alphabetic?: unknown }
    return typeof pn.Alphabetic === 'string' ? pn.Alphabetic.trim() : ''
  }
  return String(v).trim()
}
