/**
 * Cohort statistics under the autoPET III rules (method.md §6), pure functions over per-case numbers:
 * NaN (DSC and FNV of a case with empty ground truth) is left out of that metric's statistics only,
 * so DSC and FNV average over cases with lesions and FPV over all cases.
 */

/** The per-case numbers the summaries read. */
export interface CaseScores {
  case: string
  /** FDG, PSMA or unknown: the ranking subset. */
  tracer: string
  dsc: number
  fpvMl: number
  fnvMl: number
  tpLesions: number
  fpLesions: number
  fnLesions: number
}

export interface MetricStats {
  /** Cases with a defined (non-NaN) value. */
  n: number
  mean: number
  median: number
  /** Population standard deviation (NumPy's default, ddof 0). */
  std: number
  min: number
  max: number
}

export interface GroupSummary {
  cases: number
  dsc: MetricStats
  fpvMl: MetricStats
  fnvMl: MetricStats
  /** Lesion-wise detection, pooled over the group's cases. */
  tpLesions: number
  fpLesions: number
  fnLesions: number
  /** tp / (tp + fn), pooled; NaN without reference lesions. */
  lesionSensitivity: number
}

export interface CohortSummary {
  overall: GroupSummary
  /** One group per tracer present (FDG, PSMA, unknown). */
  byTracer: Record<string, GroupSummary>
}

/** Mean, median, std, min and max over the defined values (NaN when none). */
export function metricStats(values: readonly number[]): MetricStats {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  const n = v.length
  if (n === 0) return { n, mean: NaN, median: NaN, std: NaN, min: NaN, max: NaN }
  const mean = v.reduce((a, b) => a + b, 0) / n
  const median = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n)
  return { n, mean, median, std, min: v[0], max: v[n - 1] }
}

export function groupSummary(cases: readonly CaseScores[]): GroupSummary {
  const tp = cases.reduce((a, c) => a + c.tpLesions, 0)
  const fn = cases.reduce((a, c) => a + c.fnLesions, 0)
  return {
    cases: cases.length,
    dsc: metricStats(cases.map((c) => c.dsc)),
    fpvMl: metricStats(cases.map((c) => c.fpvMl)),
    fnvMl: metricStats(cases.map((c) => c.fnvMl)),
    tpLesions: tp,
    fpLesions: cases.reduce((a, c) => a + c.fpLesions, 0),
    fnLesions: fn,
    lesionSensitivity: tp + fn > 0 ? tp / (tp + fn) : NaN,
  }
}

export function cohortSummary(cases: readonly CaseScores[]): CohortSummary {
  const byTracer: Record<string, GroupSummary> = {}
  for (const tracer of [...new Set(cases.map((c) => c.tracer))].sort()) {
    byTracer[tracer] = groupSummary(cases.filter((c) => c.tracer === tracer))
  }
  return { overall: groupSummary(cases), byTracer }
}

/** One prediction set's standing in the challenge ranking. */
export interface RankingEntry {
  prediction: string
  /** Per subset (tracer): the set's mean metrics and its rank among the sets (1 = best). */
  subsets: { subset: string; cases: number; dsc: number; fpvMl: number; fnvMl: number; dscRank: number; fpvRank: number; fnvRank: number }[]
  /** Each metric's rank averaged over the subsets where any set has a defined mean. */
  dscRank: number
  fpvRank: number
  fnvRank: number
  /** 0.5 DSC rank + 0.25 FPV rank + 0.25 FNV rank: lower is better. */
  score: number
  /** 1 = best score; tied scores share the better place. */
  place: number
}

/** The weights of the final score (method.md §6). */
export const RANK_WEIGHTS = { dsc: 0.5, fpv: 0.25, fnv: 0.25 } as const

export const RANKING_RULE =
  'autoPET III ranking: per subset (here: the tracer from the case name, FDG / PSMA; the challenge also splits by centre) each metric is ' +
  'averaged over the subset\'s cases (NaN left out) and the prediction sets ranked (DSC: higher is better; FPV, FNV: lower is better; ' +
  'ties share the mean rank; a set without a defined mean ranks last); each metric\'s ranks are averaged over the subsets; ' +
  'score = 0.5 DSC rank + 0.25 FPV rank + 0.25 FNV rank (lower is better).'

/**
 * Rank several prediction sets of the same cohort. Each set's cases are grouped by `tracer`; only
 * subsets where at least one set has a defined mean take part in a metric's average rank.
 */
export function rankPredictions(sets: readonly { prediction: string; cases: readonly CaseScores[] }[]): RankingEntry[] {
  const subsets = [...new Set(sets.flatMap((s) => s.cases.map((c) => c.tracer)))].sort()
  const means = sets.map((s) =>
    subsets.map((subset) => {
      const cases = s.cases.filter((c) => c.tracer === subset)
      return {
        subset,
        cases: cases.length,
        dsc: metricStats(cases.map((c) => c.dsc)).mean,
        fpvMl: metricStats(cases.map((c) => c.fpvMl)).mean,
        fnvMl: metricStats(cases.map((c) => c.fnvMl)).mean,
      }
    }),
  )
  const perSubsetRanks = subsets.map((_, si) => ({
    dsc: ranks(means.map((m) => m[si].dsc), 'higher'),
    fpv: ranks(means.map((m) => m[si].fpvMl), 'lower'),
    fnv: ranks(means.map((m) => m[si].fnvMl), 'lower'),
  }))
  const averageRank = (setIndex: number, metric: 'dsc' | 'fpv' | 'fnv'): number => {
    const used = perSubsetRanks.map((r) => r[metric]).filter((r): r is number[] => r !== null)
    return used.length ? used.reduce((a, r) => a + r[setIndex], 0) / used.length : NaN
  }
  const entries: RankingEntry[] = sets.map((s, setIndex) => {
    const dscRank = averageRank(setIndex, 'dsc')
    const fpvRank = averageRank(setIndex, 'fpv')
    const fnvRank = averageRank(setIndex, 'fnv')
    return {
      prediction: s.prediction,
      subsets: means[setIndex].map((m, si) => ({
        ...m,
        dscRank: perSubsetRanks[si].dsc?.[setIndex] ?? NaN,
        fpvRank: perSubsetRanks[si].fpv?.[setIndex] ?? NaN,
        fnvRank: perSubsetRanks[si].fnv?.[setIndex] ?? NaN,
      })),
      dscRank,
      fpvRank,
      fnvRank,
      score: RANK_WEIGHTS.dsc * dscRank + RANK_WEIGHTS.fpv * fpvRank + RANK_WEIGHTS.fnv * fnvRank,
      place: 0,
    }
  })
  for (const e of entries) e.place = 1 + entries.filter((o) => o.score < e.score).length
  return entries.sort((a, b) => a.place - b.place || a.prediction.localeCompare(b.prediction))
}

/** Ranks 1..n with ties averaged; undefined values rank last; null when no value is defined. */
export function ranks(values: readonly number[], better: 'higher' | 'lower'): number[] | null {
  if (values.every((v) => Number.isNaN(v))) return null
  const key = (v: number): number => (Number.isNaN(v) ? Infinity : better === 'higher' ? -v : v)
  const order = values.map((v, i) => ({ k: key(v), i })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
  const out = new Array<number>(values.length)
  for (let a = 0; a < order.length; ) {
    let b = a
    while (b + 1 < order.length && order[b + 1].k === order[a].k) b++
    const mean = (a + b) / 2 + 1
    for (let t = a; t <= b; t++) out[order[t].i] = mean
    a = b + 1
  }
  return out
}
