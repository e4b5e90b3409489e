/**
 * Cohort plots as SVG text, written by hand. Why not a charting library: the plots are few and simple
 * (box/strip plots and histograms), SVG is plain text that the CLI writes from Node without a DOM or
 * canvas, the output is deterministic (tests and diffs read it), opens in any browser and embeds in
 * reports, and LesionLab takes on no dependency for it.
 */
import type { CohortEvaluation } from './cohort'

export interface ValueGroup {
  label: string
  values: readonly number[]
  color?: string
}

export interface HistogramPanel {
  label: string
  series: ValueGroup[]
}

const TRACER_COLORS: Record<string, string> = { FDG: '#d95f02', PSMA: '#1b9e77', unknown: '#7570b3' }
const FALLBACK_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b']
const FONT = 'font-family="Helvetica, Arial, sans-serif"'

export function colorOf(label: string, index: number): string {
  return TRACER_COLORS[label] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length]
}

/** Quartiles by linear interpolation between order statistics (NumPy's default). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

/**
 * Box plot (Tukey: box = quartiles, whiskers to the last value within 1.5 IQR) with every value drawn
 * over it as a point (jittered sideways by a fixed hash, so the file is the same on every run). NaN
 * values are left out and counted in the group label.
 */
export function boxStripPlotSvg(options: { title: string; yLabel: string; groups: readonly ValueGroup[]; width?: number; height?: number; yRange?: [number, number] }): string {
  const groups = options.groups
  const width = options.width ?? Math.max(320, 110 * groups.length + 90)
  const height = options.height ?? 360
  const m = { left: 64, right: 16, top: 36, bottom: 64 }
  const plotW = width - m.left - m.right
  const plotH = height - m.top - m.bottom
  const clean = groups.map((g) => [...g.values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b))
  const all = clean.flat()
  const [y0, y1] = options.yRange ?? niceRange(...extent(all))
  const y = (v: number): number => m.top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH
  const out: string[] = [svgOpen(width, height), title(options.title, width)]
  out.push(yAxis(y0, y1, y, m.left, width - m.right, options.yLabel, m.top + plotH / 2))
  const slot = plotW / Math.max(1, groups.length)
  groups.forEach((g, gi) => {
    const v = clean[gi]
    const cx = m.left + slot * (gi + 0.5)
    const color = g.color ?? colorOf(g.label, gi)
    const missing = g.values.length - v.length
    out.push(text(cx, m.top + plotH + 18, `${g.label}`, 'middle', 12))
    out.push(text(cx, m.top + plotH + 34, `n=${v.length}${missing ? ` (+${missing} n/a)` : ''}`, 'middle', 10, '#555'))
    if (v.length === 0) return
    const q1 = quantile(v, 0.25)
    const q2 = quantile(v, 0.5)
    const q3 = quantile(v, 0.75)
    const iqr = q3 - q1
    const lowW = v.find((x) => x >= q1 - 1.5 * iqr) as number
    const highW = [...v].reverse().find((x) => x <= q3 + 1.5 * iqr) as number
    const bw = Math.min(60, slot * 0.5)
    out.push(`<line x1="${f(cx)}" x2="${f(cx)}" y1="${f(y(lowW))}" y2="${f(y(q1))}" stroke="#333"/>`)
    out.push(`<line x1="${f(cx)}" x2="${f(cx)}" y1="${f(y(q3))}" y2="${f(y(highW))}" stroke="#333"/>`)
    for (const w of [lowW, highW]) out.push(`<line x1="${f(cx - bw / 4)}" x2="${f(cx + bw / 4)}" y1="${f(y(w))}" y2="${f(y(w))}" stroke="#333"/>`)
    out.push(`<rect x="${f(cx - bw / 2)}" y="${f(y(q3))}" width="${f(bw)}" height="${f(Math.max(0.5, y(q1) - y(q3)))}" fill="${color}" fill-opacity="0.25" stroke="${color}"/>`)
    out.push(`<line x1="${f(cx - bw / 2)}" x2="${f(cx + bw / 2)}" y1="${f(y(q2))}" y2="${f(y(q2))}" stroke="${color}" stroke-width="2"/>`)
    v.forEach((x, i) => {
      const jitter = (hash01(`${g.label}:${i}`) - 0.5) * bw * 0.8
      out.push(`<circle cx="${f(cx + jitter)}" cy="${f(y(x))}" r="2.5" fill="${color}" fill-opacity="0.7"><title>${esc(String(x))}</title></circle>`)
    })
  })
  out.push('</svg>')
  return out.join('\n')
}

/**
 * Histograms with shared bins, one panel per source (stacked), one outlined series per group
 * (tracer). `log`: bins and axis in log10 (volumes and TLG span decades); values ≤ 0 are then left out.
 */
export function histogramSvg(options: { title: string; xLabel: string; panels: readonly HistogramPanel[]; bins?: number; log?: boolean; width?: number }): string {
  const width = options.width ?? 560
  const panelH = 170
  const m = { left: 56, right: 16, top: 36, bottom: 46, gap: 48 }
  const height = m.top + m.bottom + options.panels.length * panelH + (options.panels.length - 1) * m.gap
  const log = options.log === true
  const tx = (v: number): number => (log ? Math.log10(v) : v)
  const usable = (v: number): boolean => Number.isFinite(v) && (!log || v > 0)
  const all = options.panels.flatMap((p) => p.series.flatMap((s) => s.values.filter(usable).map(tx)))
  const [x0, x1] = niceRange(...extent(all))
  const bins = options.bins ?? Math.min(40, Math.max(8, Math.ceil(Math.sqrt(all.length || 1)) * 2))
  const binW = (x1 - x0) / bins || 1
  const plotW = width - m.left - m.right
  const x = (v: number): number => m.left + ((v - x0) / (x1 - x0 || 1)) * plotW
  const out: string[] = [svgOpen(width, height), title(options.title, width)]
  options.panels.forEach((panel, pi) => {
    const top = m.top + pi * (panelH + m.gap)
    const counts = panel.series.map((s) => {
      const c = new Array<number>(bins).fill(0)
      for (const v of s.values) if (usable(v)) c[Math.min(bins - 1, Math.max(0, Math.floor((tx(v) - x0) / binW)))]++
      return c
    })
    const maxCount = Math.max(1, extent(counts.flat())[1])
    const [, c1] = niceRange(0, maxCount)
    const y = (c: number): number => top + panelH - (c / c1) * panelH
    out.push(text(m.left, top - 6, panel.label, 'start', 12))
    out.push(yAxis(0, c1, y, m.left, width - m.right, pi === 0 ? 'count' : '', top + panelH / 2, true))
    panel.series.forEach((s, si) => {
      const color = s.color ?? colorOf(s.label, si)
      let d = `M${f(x(x0))},${f(y(0))}`
      counts[si].forEach((c, b) => (d += ` L${f(x(x0 + b * binW))},${f(y(c))} L${f(x(x0 + (b + 1) * binW))},${f(y(c))}`))
      d += ` L${f(x(x1))},${f(y(0))} Z`
      out.push(`<path d="${d}" fill="${color}" fill-opacity="0.2" stroke="${color}" stroke-width="1.5"/>`)
      const n = s.values.filter(usable).length
      out.push(`<text x="${f(width - m.right - 4)}" y="${f(top + 14 + 15 * si)}" text-anchor="end" font-size="11" ${FONT} fill="${color}">${esc(`${s.label} (n=${n})`)}</text>`)
    })
    out.push(xAxis(x0, x1, x, top + panelH, log, pi === options.panels.length - 1 ? options.xLabel : ''))
  })
  out.push('</svg>')
  return out.join('\n')
}

/** File name → SVG for a cohort evaluation: metrics by tracer, lesion- and patient-level measures. */
export function cohortPlots(evaluation: CohortEvaluation): { file: string; svg: string }[] {
  const scored = evaluation.cases.filter((c) => !c.error)
  const several = evaluation.predictions.length > 1
  const tracers = [...new Set(scored.map((c) => c.tracer))].sort()
  const groupsOf = (pick: (c: (typeof scored)[number]) => number): ValueGroup[] =>
    evaluation.predictions.flatMap((p) =>
      tracers.map((t, ti) => ({
        label: several ? `${t} · ${p.name}` : t,
        color: colorOf(t, ti),
        values: scored.filter((c) => c.prediction === p.name && c.tracer === t).map(pick),
      })),
    )
  const out = [
    { file: 'dsc.svg', svg: boxStripPlotSvg({ title: 'Dice similarity coefficient by tracer', yLabel: 'DSC', yRange: [0, 1], groups: groupsOf((c) => c.dsc) }) },
    { file: 'fpv_ml.svg', svg: boxStripPlotSvg({ title: 'False positive volume by tracer', yLabel: 'FPV (ml)', groups: groupsOf((c) => c.fpvMl) }) },
    { file: 'fnv_ml.svg', svg: boxStripPlotSvg({ title: 'False negative volume by tracer', yLabel: 'FNV (ml)', groups: groupsOf((c) => c.fnvMl) }) },
  ]
  // Reference measures once per case (the first prediction set's copy), then each prediction set.
  const firstSet = evaluation.predictions[0]?.name
  const sources: { label: string; cases: typeof scored; side: 'ref' | 'pred' }[] = [
    { label: 'reference', cases: scored.filter((c) => c.prediction === firstSet), side: 'ref' },
    ...evaluation.predictions.map((p) => ({ label: `prediction ${p.name}`, cases: scored.filter((c) => c.prediction === p.name), side: 'pred' as const })),
  ]
  const panels = (values: (c: (typeof scored)[number], side: 'ref' | 'pred') => number[]): HistogramPanel[] =>
    sources.map((s) => ({
      label: s.label,
      series: tracers.map((t, ti) => ({ label: t, color: colorOf(t, ti), values: s.cases.filter((c) => c.tracer === t).flatMap((c) => values(c, s.side)) })),
    }))
  const lesionsOf = (c: (typeof scored)[number], side: 'ref' | 'pred') => (side === 'ref' ? c.metrics?.refLesions : c.metrics?.predLesions) ?? []
  const measuresOf = (c: (typeof scored)[number], side: 'ref' | 'pred') => (side === 'ref' ? c.refMeasures : c.predMeasures)
  const hasSuv = scored.some((c) => c.refMeasures)
  out.push({ file: 'lesion_mtv_ml.svg', svg: histogramSvg({ title: 'Lesion MTV by tracer', xLabel: 'MTV (ml, log scale)', log: true, panels: panels((c, s) => lesionsOf(c, s).map((l) => l.volumeMl)) }) })
  out.push({ file: 'patient_tmtv_ml.svg', svg: histogramSvg({ title: 'Patient TMTV by tracer', xLabel: 'TMTV (ml, log scale)', log: true, panels: panels((c, s) => [s === 'ref' ? c.refTmtvMl : c.predTmtvMl]) }) })
  out.push({ file: 'patient_lesion_count.svg', svg: histogramSvg({ title: 'Lesions per patient by tracer', xLabel: 'lesion count (18-connected)', panels: panels((c, s) => [lesionsOf(c, s).length]) }) })
  if (hasSuv) {
    out.push({ file: 'lesion_suv_mean.svg', svg: histogramSvg({ title: 'Lesion SUVmean by tracer', xLabel: 'SUVmean', panels: panels((c, s) => measuresOf(c, s)?.lesions.map((l) => l.suvMean) ?? []) }) })
    out.push({ file: 'lesion_suv_max.svg', svg: histogramSvg({ title: 'Lesion SUVmax by tracer', xLabel: 'SUVmax', panels: panels((c, s) => measuresOf(c, s)?.lesions.map((l) => l.suvMax) ?? []) }) })
    out.push({ file: 'patient_tlg.svg', svg: histogramSvg({ title: 'Patient total TLG by tracer', xLabel: 'TLG (ml·SUV, log scale)', log: true, panels: panels((c, s) => { const m = measuresOf(c, s); return m ? [m.patient.tlgMlSuv] : [] }) }) })
  }
  return out
}

function svgOpen(width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n<rect width="100%" height="100%" fill="white"/>`
}

function title(t: string, width: number): string {
  return text(width / 2, 22, t, 'middle', 14, '#111', 'bold')
}

function text(x: number, y: number, s: string, anchor: 'start' | 'middle' | 'end', size: number, color = '#222', weight = 'normal'): string {
  return `<text x="${f(x)}" y="${f(y)}" text-anchor="${anchor}" font-size="${size}" font-weight="${weight}" ${FONT} fill="${color}">${esc(s)}</text>`
}

function yAxis(v0: number, v1: number, y: (v: number) => number, left: number, right: number, label: string, midY: number, integers = false): string {
  const parts: string[] = [`<line x1="${f(left)}" x2="${f(left)}" y1="${f(y(v0))}" y2="${f(y(v1))}" stroke="#333"/>`]
  for (const t of ticks(v0, v1).filter((t) => !integers || Number.isInteger(t))) {
    parts.push(`<line x1="${f(left)}" x2="${f(right)}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#ddd"/>`)
    parts.push(text(left - 6, y(t) + 4, tickLabel(t), 'end', 10))
  }
  if (label) parts.push(`<text transform="translate(${f(left - 44)},${f(midY)}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${esc(label)}</text>`)
  return parts.join('\n')
}

function xAxis(v0: number, v1: number, x: (v: number) => number, baseY: number, log: boolean, label: string): string {
  const parts: string[] = [`<line x1="${f(x(v0))}" x2="${f(x(v1))}" y1="${f(baseY)}" y2="${f(baseY)}" stroke="#333"/>`]
  const decades = ticks(v0, v1).filter((t) => Number.isInteger(t))
  const ts = log && decades.length >= 2 ? decades : ticks(v0, v1)
  for (const t of ts) {
    parts.push(`<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${f(baseY)}" y2="${f(baseY + 4)}" stroke="#333"/>`)
    parts.push(text(x(t), baseY + 16, log ? tickLabel(10 ** t) : tickLabel(t), 'middle', 10))
  }
  if (label) parts.push(text((x(v0) + x(v1)) / 2, baseY + 34, label, 'middle', 12))
  return parts.join('\n')
}

/** Smallest and largest value without spreading the array into arguments (cohorts have many lesions). */
function extent(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 1]
  let lo = Infinity
  let hi = -Infinity
  for (const v of values) {
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  return [lo, hi]
}

/** A range widened to round numbers (1, 2, 5 × 10^n steps). */
export function niceRange(lo: number, hi: number): [number, number] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1
    return [lo - pad, hi + pad]
  }
  const step = niceStep((hi - lo) / 5)
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step]
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw))
  const r = raw / p
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * p
}

function ticks(lo: number, hi: number): number[] {
  const step = niceStep((hi - lo) / 5 || 1)
  const out: number[] = []
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.round(t / step) * step)
  return out
}

function tickLabel(v: number): string {
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0)
  return String(Number(v.toPrecision(4)))
}

/** Two decimals are plenty for screen coordinates and keep files small. */
function f(v: number): string {
  return String(Math.round(v * 100) / 100)
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** A stable pseudo-random number in [0, 1) from a string (FNV-1a). */
function hash01(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) / 2 ** 32
}
