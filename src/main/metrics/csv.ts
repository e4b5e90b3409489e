/**
 * CSV for the measure exports: comment lines first (`# ` + the rules that shaped the numbers, which
 * every export states; pandas reads them with `comment="#"`), then a header and one row per record.
 * Undefined numbers (NaN) are empty cells.
 */
export function toCsv(comments: readonly string[], header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const lines = comments.map((c) => `# ${c.replace(/\r?\n/g, ' ')}`)
  lines.push(header.map(cell).join(','))
  for (const r of rows) lines.push(r.map(cell).join(','))
  return `${lines.join('\n')}\n`
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
  const s = Array.isArray(v) ? v.join(' ') : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** A number for JSON: NaN and infinities become null (the challenge's undefined DSC/FNV). */
export function num(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : v
}
