import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../io/atomicWrite'
import { evaluateCohort, type CaseEvaluation, type CohortEvaluation } from '../../metrics/cohort'
import { RANKING_RULE, type GroupSummary, type MetricStats } from '../../metrics/cohortSummary'
import { num, toCsv } from '../../metrics/csv'
import type { PatientMeasures } from '../../metrics/lesionStats'
import { cohortPlots } from '../../metrics/plots'
import { SUVPEAK_RULE } from '../../metrics/suvPeakKernel'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'

export const METRICS_RULE =
  'autoPET III metrics (evaluation_metrics.py): masks read as nonzero = lesion; voxel volume = product of the spacings (mm) / 1000 ml; ' +
  'DSC = 2|P∩G|/(|P|+|G|), undefined (null) when G is empty; FPV = volume of the 18-connected components of P touching no voxel of G ' +
  '(0 when P is empty, all of P when G is empty); FNV = volume of the 18-connected components of G touching no voxel of P (undefined when G is empty). ' +
  'Summaries leave undefined values out per metric: DSC and FNV average over cases with lesions, FPV over all cases; std is the population std. ' +
  'Lesion detection: tp = reference lesions touched by the prediction, fn = reference lesions not touched, fp = predicted lesions touching no reference voxel.'

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'autoPET III metrics (DSC, FPV, FNV, lesion detection) of predictions against reference masks; summaries and ranking',
  usage:
    'lesionlab evaluate --pred PATH [--pred PATH2 ...] --ref PATH [--json] [--csv FILE] [--plots DIR] [--measures]\n' +
    '  PATH: a mask file, a folder of <case>.nii.gz (nnU-Net), or autoPET per-case folders (<case>/SEG.nii.gz,\n' +
    '        predictions <case>/PRED.nii.gz); cases are matched by name, the tracer read from it (fdg_/psma_).\n' +
    '  --measures: also measure lesions (18-connected) of both masks on the SUV image found beside the reference\n' +
    '        (<case>/SUV.nii.gz or imagesTr/<case>_0001.nii.gz): patient TMTV, TLG, Dmax per case, and SUV histograms.',
  async run(argv) {
    const { preds, rest } = takeRepeated(argv, 'pred')
    const args = parseArgs(rest, ['ref', 'csv', 'plots'])
    rejectUnknown(args, ['json', 'measures'], this.usage)
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}\nUsage: ${this.usage}`)
    const ref = args.options.get('ref')
    if (!ref || preds.length === 0) throw new UsageError(`--ref and at least one --pred are needed\nUsage: ${this.usage}`)

    const evaluation = await evaluateCohort(ref, preds, { lesionMeasures: args.flags.has('measures') })
    const report = toReport(evaluation)
    const csvPath = args.options.get('csv')
    if (csvPath) await writeFileAtomic(csvPath, new TextEncoder().encode(toCsvText(evaluation)))
    const plotsDir = args.options.get('plots')
    const plotFiles: string[] = []
    if (plotsDir) {
      await mkdir(plotsDir, { recursive: true })
      for (const p of cohortPlots(evaluation)) {
        await writeFile(join(plotsDir, p.file), p.svg)
        plotFiles.push(join(plotsDir, p.file))
      }
    }
    if (args.flags.has('json')) console.log(JSON.stringify({ ...report, plots: plotsDir ? plotFiles : undefined }, null, 2))
    else console.log(toText(evaluation, csvPath, plotFiles))
    const failed = evaluation.cases.some((c) => c.error)
    const empty = evaluation.cases.length === 0
    if (empty) console.error('lesionlab evaluate: no case of the reference has a prediction (cases are matched by name)')
    return failed || empty ? 1 : 0
  },
}

/** `--key value` / `--key=value` given any number of times, taken out of argv. */
function takeRepeated(argv: string[], key: string): { preds: string[]; rest: string[] } {
  const preds: string[] = []
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === `--${key}`) {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`--${key} needs a value`)
      preds.push(v)
    } else if (a.startsWith(`--${key}=`)) {
      preds.push(a.slice(key.length + 3))
    } else {
      rest.push(a)
    }
  }
  return { preds, rest }
}

const stats = (s: MetricStats) => ({ n: s.n, mean: num(s.mean), median: num(s.median), std: num(s.std), min: num(s.min), max: num(s.max) })
const group = (g: GroupSummary) => ({
  cases: g.cases,
  dsc: stats(g.dsc),
  fpv_ml: stats(g.fpvMl),
  fnv_ml: stats(g.fnvMl),
  tp_lesions: g.tpLesions,
  fp_lesions: g.fpLesions,
  fn_lesions: g.fnLesions,
  lesion_sensitivity: num(g.lesionSensitivity),
})
const patient = (p: PatientMeasures) => ({ tmtv_ml: num(p.tmtvMl), tlg: num(p.tlgMlSuv), lesion_count: p.lesionCount, dmax_mm: num(p.dmaxMm) })

function caseJson(c: CaseEvaluation) {
  const m = c.metrics
  return {
    case: c.case,
    prediction: c.prediction,
    tracer: c.tracer,
    dsc: num(c.dsc),
    fpv_ml: num(c.fpvMl),
    fnv_ml: num(c.fnvMl),
    ref_lesions: m?.refLesionCount ?? null,
    pred_lesions: m?.predLesionCount ?? null,
    tp_lesions: m ? c.tpLesions : null,
    fp_lesions: m ? c.fpLesions : null,
    fn_lesions: m ? c.fnLesions : null,
    tmtv_ml: { ref: num(c.refTmtvMl), pred: num(c.predTmtvMl) },
    voxel_ml: m ? m.voxelMl : null,
    voxels: m ? { ref: m.refVoxels, pred: m.predVoxels, intersection: m.intersectionVoxels } : null,
    lesion_overlap: m
      ? {
          ref: m.refLesions.map((l) => ({ id: l.id, voxels: l.voxelCount, volume_ml: l.volumeMl, overlap_voxels: l.overlapVoxels, detected: l.detected })),
          pred: m.predLesions.map((l) => ({ id: l.id, voxels: l.voxelCount, volume_ml: l.volumeMl, overlap_voxels: l.overlapVoxels, detected: l.detected })),
        }
      : null,
    patient_measures: c.refMeasures && c.predMeasures ? { suv: c.suvPath, ref: patient(c.refMeasures.patient), pred: patient(c.predMeasures.patient) } : undefined,
    ref_path: c.refPath,
    pred_path: c.predPath,
    error: c.error,
  }
}

/** The JSON report: snake_case, null for undefined values. */
export function toReport(e: CohortEvaluation) {
  const summary: Record<string, { overall: ReturnType<typeof group>; by_tracer: Record<string, ReturnType<typeof group>> }> = {}
  for (const p of e.predictions) {
    summary[p.name] = { overall: group(p.summary.overall), by_tracer: Object.fromEntries(Object.entries(p.summary.byTracer).map(([t, g]) => [t, group(g)])) }
  }
  return {
    reference: e.reference,
    predictions: e.predictions.map((p) => ({ name: p.name, path: p.path, layout: p.layout, ref_only: p.refOnly, pred_only: p.predOnly })),
    rules: {
      metrics: METRICS_RULE,
      suv_peak: e.cases.some((c) => c.refMeasures) ? SUVPEAK_RULE : undefined,
      ranking: e.ranking ? RANKING_RULE : undefined,
    },
    cases: e.cases.map(caseJson),
    summary,
    ranking: e.ranking?.map((r) => ({
      place: r.place,
      prediction: r.prediction,
      score: num(r.score),
      dsc_rank: num(r.dscRank),
      fpv_rank: num(r.fpvRank),
      fnv_rank: num(r.fnvRank),
      subsets: r.subsets.map((s) => ({
        subset: s.subset,
        cases: s.cases,
        dsc: num(s.dsc),
        fpv_ml: num(s.fpvMl),
        fnv_ml: num(s.fnvMl),
        dsc_rank: num(s.dscRank),
        fpv_rank: num(s.fpvRank),
        fnv_rank: num(s.fnvRank),
      })),
    })),
  }
}

function toCsvText(e: CohortEvaluation): string {
  const header = ['case', 'prediction', 'tracer', 'dsc', 'fpv_ml', 'fnv_ml', 'ref_lesions', 'pred_lesions', 'tp_lesions', 'fp_lesions', 'fn_lesions', 'ref_tmtv_ml', 'pred_tmtv_ml', 'error']
  const rows = e.cases.map((c) => [
    c.case, c.prediction, c.tracer, c.dsc, c.fpvMl, c.fnvMl,
    c.metrics?.refLesionCount, c.metrics?.predLesionCount,
    c.metrics ? c.tpLesions : undefined, c.metrics ? c.fpLesions : undefined, c.metrics ? c.fnLesions : undefined,
    c.refTmtvMl, c.predTmtvMl, c.error,
  ])
  return toCsv([METRICS_RULE, `reference: ${e.reference.path}`, ...e.predictions.map((p) => `prediction ${p.name}: ${p.path}`)], header, rows)
}

function toText(e: CohortEvaluation, csvPath: string | undefined, plotFiles: string[]): string {
  const fmt = (v: number, digits = 4): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a')
  const lines: string[] = []
  const several = e.predictions.length > 1
  lines.push(`Reference: ${e.reference.path} (${e.reference.layout}, ${e.reference.cases} cases)`)
  for (const p of e.predictions) {
    lines.push(`Prediction ${p.name}: ${p.path} (${p.layout})`)
    if (p.refOnly.length) lines.push(`  no prediction for ${p.refOnly.length} case(s): ${p.refOnly.slice(0, 5).join(', ')}${p.refOnly.length > 5 ? ', …' : ''}`)
    if (p.predOnly.length) lines.push(`  no reference for ${p.predOnly.length} prediction(s): ${p.predOnly.slice(0, 5).join(', ')}${p.predOnly.length > 5 ? ', …' : ''}`)
  }
  lines.push('')
  lines.push(`${'case'.padEnd(40)} ${several ? 'prediction'.padEnd(20) + ' ' : ''}${'tracer'.padEnd(7)} ${'DSC'.padStart(7)} ${'FPV ml'.padStart(9)} ${'FNV ml'.padStart(9)}  lesions ref/pred  tp/fp/fn`)
  for (const c of e.cases) {
    const head = `${c.case.padEnd(40)} ${several ? c.prediction.padEnd(20) + ' ' : ''}${c.tracer.padEnd(7)}`
    if (c.error) {
      lines.push(`${head} error: ${c.error}`)
      continue
    }
    const m = c.metrics
    lines.push(`${head} ${fmt(c.dsc).padStart(7)} ${fmt(c.fpvMl, 2).padStart(9)} ${fmt(c.fnvMl, 2).padStart(9)}  ${`${m?.refLesionCount}/${m?.predLesionCount}`.padStart(16)}  ${c.tpLesions}/${c.fpLesions}/${c.fnLesions}`)
  }
  for (const p of e.predictions) {
    lines.push('', `Summary${several ? ` of ${p.name}` : ''} (mean ± std, median; undefined values left out):`)
    const groups: [string, GroupSummary][] = [['overall', p.summary.overall], ...Object.entries(p.summary.byTracer)]
    for (const [name, g] of groups) {
      lines.push(
        `  ${name.padEnd(8)} ${String(g.cases).padStart(4)} cases  DSC ${fmt(g.dsc.mean)} ± ${fmt(g.dsc.std)} (${fmt(g.dsc.median)}, n=${g.dsc.n})  ` +
          `FPV ${fmt(g.fpvMl.mean, 2)} ± ${fmt(g.fpvMl.std, 2)} ml (${fmt(g.fpvMl.median, 2)})  FNV ${fmt(g.fnvMl.mean, 2)} ± ${fmt(g.fnvMl.std, 2)} ml (${fmt(g.fnvMl.median, 2)}, n=${g.fnvMl.n})  ` +
          `lesions tp/fp/fn ${g.tpLesions}/${g.fpLesions}/${g.fnLesions}`,
      )
    }
  }
  if (e.ranking) {
    lines.push('', 'Ranking (0.5 DSC rank + 0.25 FPV rank + 0.25 FNV rank, ranks per tracer subset averaged):')
    for (const r of e.ranking) lines.push(`  ${r.place}. ${r.prediction.padEnd(30)} score ${fmt(r.score, 3)}  (DSC rank ${fmt(r.dscRank, 2)}, FPV rank ${fmt(r.fpvRank, 2)}, FNV rank ${fmt(r.fnvRank, 2)})`)
  }
  if (csvPath) lines.push('', `CSV: ${csvPath}`)
  if (plotFiles.length) lines.push(`Plots: ${plotFiles.join(', ')}`)
  return lines.join('\n')
}
