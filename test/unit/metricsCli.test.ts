import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { evaluateCommand } from '../../src/main/cli/commands/evaluate'
import { statsCommand } from '../../src/main/cli/commands/stats'
import { UsageError } from '../../src/main/cli/args'
import { readDicomImageSeries, scanDicom } from '../../src/main/io/dicom'
import { readDicomSegFile } from '../../src/main/io/dicom/seg/readSeg'
import { readImageFile, writeImageFile } from '../../src/main/io/readImage'
import { computePetSuv } from '../../src/main/study/petSuv'
import { autopetCaseMetrics } from '../../src/main/metrics/autopetMetrics'
import { labelComponents } from '../../src/main/metrics/connectedComponents'
import { SUVPEAK_RULE } from '../../src/main/metrics/lesionStats'
import { dataPath, makeTempDir, STS_001_CT_MASK, STS_001_PET, STS_001_PET_MASK } from './helpers/data'

const PSMA_CASE = 'psma_95b833d46f153cd2_2018-04-16'
const FDG_CASE = 'fdg_test_case'
const PSMA_GT = dataPath('autopet3-psma-labels', `${PSMA_CASE}_GT-label.nii.gz`)
const PSMA_NNUNET = dataPath('autopet3-psma-labels', `${PSMA_CASE}_nnUNet-baseline-pred.nii.gz`)
const PSMA_DATACENTRIC = dataPath('autopet3-psma-labels', 'datacentric-baseline-PRED.nii.gz')
const FDG_RESUNET = dataPath('autopet3-fdg-labels', 'fdg_test_case_resunet-ensemble-pred.nii.gz')
const FDG_EMPTY = dataPath('autopet3-fdg-labels', 'fdg_test_case_nnunet-baseline-pred-empty.nii.gz')

/** Run a command with console.log captured; returns the exit code and what it printed. */
async function capture(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.map(String).join(' ')))
  const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
  try {
    const code = await run()
    return { code, out: lines.join('\n') }
  } finally {
    spy.mockRestore()
    errors.mockRestore()
  }
}

/** Direct voxel counts: DSC and volumes, independent of the metrics module. */
async function direct(refPath: string, predPath: string) {
  const ref = await readImageFile(refPath)
  const pred = await readImageFile(predPath)
  const s = ref.geometry.spacingMm
  const voxelMl = (s[0] * s[1] * s[2]) / 1000
  let g = 0
  let p = 0
  let both = 0
  for (let i = 0; i < ref.voxels.length; i++) {
    if (ref.voxels[i]) g++
    if (pred.voxels[i]) p++
    if (ref.voxels[i] && pred.voxels[i]) both++
  }
  const m = autopetCaseMetrics(pred.voxels, ref.voxels, ref.geometry.dims, s)
  return { dsc: g ? (2 * both) / (g + p) : null, refMl: g * voxelMl, predMl: p * voxelMl, m }
}

const tmp = makeTempDir('lesionlab-metrics-cli-')
afterAll(() => tmp.cleanup())

interface CaseJson {
  case: string
  prediction: string
  tracer: string
  dsc: number | null
  fpv_ml: number | null
  fnv_ml: number | null
  ref_lesions: number
  pred_lesions: number
  tp_lesions: number
  fp_lesions: number
  fn_lesions: number
  tmtv_ml: { ref: number; pred: number }
  lesion_overlap: { ref: { detected: boolean }[]; pred: { detected: boolean }[] }
  patient_measures?: { ref: { tmtv_ml: number; tlg: number; lesion_count: number; dmax_mm: number } }
  error?: string
}

describe('lesionlab evaluate', () => {
  const ref = join(tmp.dir, 'ref')
  const predA = join(tmp.dir, 'nnunet-baseline')
  const predB = join(tmp.dir, 'datacentric')
  beforeAll(async () => {
    // Reference as autoPET per-study folders (the FDG case has no lesions), with a synthetic SUV beside
    // the PSMA case; prediction A as autoPET folders (PRED.nii.gz), prediction B as nnU-Net output.
    for (const [dir, file] of [[join(ref, PSMA_CASE), PSMA_GT], [join(ref, FDG_CASE), FDG_EMPTY], [join(predA, PSMA_CASE), PSMA_NNUNET], [join(predA, FDG_CASE), FDG_RESUNET]]) {
      mkdirSync(dir, { recursive: true })
      copyFileSync(file, join(dir, dir.startsWith(ref) ? 'SEG.nii.gz' : 'PRED.nii.gz'))
    }
    const gt = await readImageFile(PSMA_GT)
    const suv = new Float32Array(gt.voxels.length)
    for (let p = 0; p < suv.length; p++) suv[p] = 0.5 + (p % 17) * 0.1 + (gt.voxels[p] ? 6 : 0)
    await writeImageFile(join(ref, PSMA_CASE, 'SUV.nii.gz'), gt.geometry, suv)
    mkdirSync(predB)
    copyFileSync(PSMA_DATACENTRIC, join(predB, `${PSMA_CASE}.nii.gz`))
    copyFileSync(FDG_EMPTY, join(predB, `${FDG_CASE}.nii.gz`))
    copyFileSync(FDG_EMPTY, join(predB, 'psma_unmatched.nii.gz'))
  })

  it('two prediction sets against autoPET folders: cases, NaN as null, summaries per tracer, ranking, CSV and plots', async () => {
    const csv = join(tmp.dir, 'eval.csv')
    const plots = join(tmp.dir, 'plots')
    const { code, out } = await capture(() => evaluateCommand.run(['--ref', ref, '--pred', predA, `--pred=${predB}`, '--json', '--csv', csv, '--plots', plots, '--measures']))
    expect(code).toBe(0)
    const r = JSON.parse(out) as {
      cases: CaseJson[]
      predictions: { name: string; pred_only: string[]; ref_only: string[] }[]
      summary: Record<string, { overall: Record<string, { n: number; mean: number | null }>; by_tracer: Record<string, Record<string, { n: number; mean: number | null }>> }>
      ranking: { place: number; prediction: string; score: number; dsc_rank: number; fpv_rank: number; fnv_rank: number }[]
      rules: { metrics: string; suv_peak?: string; ranking?: string }
      plots: string[]
    }
    expect(r.predictions.map((p) => p.name)).toEqual(['nnunet-baseline', 'datacentric'])
    expect(r.predictions[1].pred_only).toEqual(['psma_unmatched'])
    expect(r.cases.map((c) => [c.case, c.prediction, c.tracer])).toEqual([
      [FDG_CASE, 'nnunet-baseline', 'FDG'],
      [FDG_CASE, 'datacentric', 'FDG'],
      [PSMA_CASE, 'nnunet-baseline', 'PSMA'],
      [PSMA_CASE, 'datacentric', 'PSMA'],
    ])
    const pairs: [CaseJson, string, string][] = [
      [r.cases[0], FDG_EMPTY, FDG_RESUNET],
      [r.cases[1], FDG_EMPTY, FDG_EMPTY],
      [r.cases[2], PSMA_GT, PSMA_NNUNET],
      [r.cases[3], PSMA_GT, PSMA_DATACENTRIC],
    ]
    for (const [c, refFile, predFile] of pairs) {
      const d = await direct(refFile, predFile)
      expect(c.error).toBeUndefined()
      if (d.dsc === null) expect(c.dsc).toBeNull()
      else expect(Math.abs((c.dsc as number) - d.dsc)).toBeLessThan(1e-12)
      expect(Math.abs((c.fpv_ml as number) - d.m.fpvMl)).toBeLessThan(1e-9)
      if (Number.isNaN(d.m.fnvMl)) expect(c.fnv_ml).toBeNull()
      else expect(Math.abs((c.fnv_ml as number) - d.m.fnvMl)).toBeLessThan(1e-9)
      expect([c.ref_lesions, c.pred_lesions, c.tp_lesions, c.fp_lesions, c.fn_lesions]).toEqual([d.m.refLesionCount, d.m.predLesionCount, d.m.tpLesions, d.m.fpLesions, d.m.fnLesions])
      expect(Math.abs(c.tmtv_ml.ref - d.refMl)).toBeLessThan(1e-9)
      expect(Math.abs(c.tmtv_ml.pred - d.predMl)).toBeLessThan(1e-9)
      expect(c.lesion_overlap.ref).toHaveLength(c.ref_lesions)
      expect(c.lesion_overlap.pred.filter((l) => !l.detected)).toHaveLength(c.fp_lesions)
    }
    // The FDG case has an empty reference: DSC and FNV undefined, FPV all of the prediction.
    expect(r.cases[0].fpv_ml).toBeGreaterThan(0)
    expect(r.cases[1].fpv_ml).toBe(0)
    // Summaries: DSC and FNV over cases with lesions (1), FPV over all (2).
    const a = r.summary['nnunet-baseline']
    expect(a.overall.dsc.n).toBe(1)
    expect(a.overall.fpv_ml.n).toBe(2)
    expect(a.overall.fnv_ml.n).toBe(1)
    expect(a.overall.dsc.mean).toBeCloseTo(r.cases[2].dsc as number, 12)
    expect(a.overall.fpv_ml.mean).toBeCloseTo(((r.cases[0].fpv_ml as number) + (r.cases[2].fpv_ml as number)) / 2, 12)
    expect(a.by_tracer.FDG.dsc.mean).toBeNull()
    expect(a.by_tracer.PSMA.fnv_ml.mean).toBeCloseTo(r.cases[2].fnv_ml as number, 12)
    // Ranking: subsets FDG (only FPV defined) and PSMA; two sets, so ranks are 1 or 2 per subset.
    const better = (x: number, y: number, higher: boolean): [number, number] => (x === y ? [1.5, 1.5] : (higher ? x > y : x < y) ? [1, 2] : [2, 1])
    const psmaDsc = better(r.cases[2].dsc as number, r.cases[3].dsc as number, true)
    const psmaFpv = better(r.cases[2].fpv_ml as number, r.cases[3].fpv_ml as number, false)
    const psmaFnv = better(r.cases[2].fnv_ml as number, r.cases[3].fnv_ml as number, false)
    const fdgFpv = better(r.cases[0].fpv_ml as number, r.cases[1].fpv_ml as number, false)
    const expected = [0, 1].map((s) => 0.5 * psmaDsc[s] + 0.25 * ((psmaFpv[s] + fdgFpv[s]) / 2) + 0.25 * psmaFnv[s])
    const byName = Object.fromEntries(r.ranking.map((e) => [e.prediction, e]))
    expect(byName['nnunet-baseline'].score).toBeCloseTo(expected[0], 12)
    expect(byName.datacentric.score).toBeCloseTo(expected[1], 12)
    expect(r.ranking[0].place).toBe(1)
    expect(r.rules.ranking).toMatch(/0\.5 DSC rank/)
    // The PSMA case had an SUV image: patient measures and the SUVpeak rule come with it.
    expect(r.rules.suv_peak).toBe(SUVPEAK_RULE)
    expect(r.cases[2].patient_measures?.ref.lesion_count).toBe(r.cases[2].ref_lesions)
    expect(r.cases[2].patient_measures?.ref.tmtv_ml).toBeCloseTo(r.cases[2].tmtv_ml.ref, 9)
    // CSV: comment lines, a header and one row per case and prediction; undefined values empty.
    const lines = readFileSync(csv, 'utf8').trim().split('\n').filter((l) => !l.startsWith('#'))
    expect(lines[0]).toBe('case,prediction,tracer,dsc,fpv_ml,fnv_ml,ref_lesions,pred_lesions,tp_lesions,fp_lesions,fn_lesions,ref_tmtv_ml,pred_tmtv_ml,error')
    expect(lines).toHaveLength(5)
    expect(lines[1].startsWith(`${FDG_CASE},nnunet-baseline,FDG,,`)).toBe(true)
    // Plots: SVG files, the SUV ones included.
    for (const name of ['dsc.svg', 'fpv_ml.svg', 'fnv_ml.svg', 'lesion_mtv_ml.svg', 'lesion_suv_mean.svg', 'lesion_suv_max.svg', 'patient_tmtv_ml.svg', 'patient_tlg.svg', 'patient_lesion_count.svg']) {
      const file = join(plots, name)
      expect(r.plots).toContain(file)
      const svg = readFileSync(file, 'utf8')
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
      expect(svg.trim().endsWith('</svg>')).toBe(true)
      expect(svg).not.toMatch(/NaN|undefined/)
    }
    expect(readFileSync(join(plots, 'dsc.svg'), 'utf8')).toContain('PSMA · nnunet-baseline')
  })

  it('two single files: one case, no ranking; text output; no SUV measures unless asked', async () => {
    const { code, out } = await capture(() => evaluateCommand.run(['--pred', PSMA_DATACENTRIC, '--ref', PSMA_GT, '--json']))
    expect(code).toBe(0)
    const r = JSON.parse(out) as { cases: CaseJson[]; summary: Record<string, unknown>; ranking?: unknown; rules: { suv_peak?: string } }
    expect(r.cases).toHaveLength(1)
    expect(r.cases[0].patient_measures).toBeUndefined()
    expect(r.rules.suv_peak).toBeUndefined()
    expect(r.cases[0].tracer).toBe('PSMA')
    expect(r.ranking).toBeUndefined()
    expect(Object.keys(r.summary)).toEqual(['datacentric-baseline-PRED'])
    // Lesion measures on the SUV beside the reference only with --measures.
    const folders = JSON.parse((await capture(() => evaluateCommand.run(['--ref', ref, '--pred', predA, '--json']))).out) as { cases: CaseJson[] }
    expect(folders.cases.map((c) => c.patient_measures)).toEqual([undefined, undefined])
    const text = await capture(() => evaluateCommand.run(['--pred', PSMA_DATACENTRIC, '--ref', PSMA_GT]))
    expect(text.out).toMatch(/DSC/)
    expect(text.out).toMatch(/Summary/)
  })

  it('a prediction on another grid is an error for that case (exit 1); bad usage throws', async () => {
    const wrong = join(tmp.dir, 'wrong')
    mkdirSync(wrong, { recursive: true })
    copyFileSync(FDG_RESUNET, join(wrong, `${PSMA_CASE}.nii.gz`))
    const { code, out } = await capture(() => evaluateCommand.run(['--ref', ref, '--pred', wrong, '--json']))
    expect(code).toBe(1)
    const r = JSON.parse(out) as { cases: CaseJson[]; predictions: { ref_only: string[] }[] }
    expect(r.cases).toHaveLength(1)
    expect(r.cases[0].error).toMatch(/grid/)
    expect(r.predictions[0].ref_only).toEqual([FDG_CASE])
    await expect(evaluateCommand.run(['--pred', predA])).rejects.toThrow(UsageError)
    await expect(evaluateCommand.run(['--ref', ref, '--pred', predA, '--bogus'])).rejects.toThrow(UsageError)
  })
})

interface StatsJson {
  lesion_definition: string
  suv_peak_rule: string
  lesions: { id: number; segment?: { value: number; label?: string }; voxels: number; mtv_ml: number; suv_max: number; suv_mean: number; suv_peak: number; tlg: number; centroid_lps: number[] }[]
  patient: { tmtv_ml: number; tlg: number; lesion_count: number; dmax_mm: number }
}

describe('lesionlab stats', () => {
  let segmentVoxels = 0
  it('QIN-HEADNECK DICOM PET (to SUV) with its 11-segment DICOM SEG', async () => {
    const dir = dataPath('mirp-qin-hn-0139-pet-seg')
    const csv = join(tmp.dir, 'qin.csv')
    const { code, out } = await capture(() => statsCommand.run(['--pet', join(dir, 'image'), '--mask', join(dir, 'mask', 'mask.dcm'), '--json', '--csv', csv]))
    expect(code).toBe(0)
    const r = JSON.parse(out) as StatsJson
    expect(r.suv_peak_rule).toBe(SUVPEAK_RULE)
    expect(r.lesion_definition).toMatch(/segment/)
    expect(r.lesions).toHaveLength(11)
    expect(r.patient.lesion_count).toBe(11)
    // Direct sums on an independent read of the same PET and SEG.
    const scan = await scanDicom([join(dir, 'image')])
    const series = scan.studies.flatMap((s) => s.series).find((s) => s.modality === 'PT')!
    const pet = await readDicomImageSeries(series)
    const suv = computePetSuv(pet, {}).voxels
    const seg = await readDicomSegFile(join(dir, 'mask', 'mask.dcm'), { geometry: pet.geometry })
    const s = pet.geometry.spacingMm
    const voxelMl = (s[0] * s[1] * s[2]) / 1000
    let tmtv = 0
    for (const l of r.lesions) {
      const v = l.segment!.value
      let n = 0
      let sum = 0
      let max = -Infinity
      for (let p = 0; p < seg.labels.length; p++) if (seg.labels[p] === v) {
        n++
        sum += suv[p]
        max = Math.max(max, suv[p])
      }
      expect(l.voxels).toBe(n)
      expect(Math.abs(l.mtv_ml - n * voxelMl)).toBeLessThan(1e-9)
      expect(l.suv_max).toBe(max)
      expect(Math.abs(l.suv_mean - sum / n)).toBeLessThan(1e-9)
      expect(Math.abs(l.tlg - sum * voxelMl)).toBeLessThan(1e-9)
      expect(l.suv_peak).toBeGreaterThan(0)
      expect(l.segment!.label).toMatch(/Neoplasm/)
      tmtv += n * voxelMl
      segmentVoxels += n
    }
    expect(Math.abs(r.patient.tmtv_ml - tmtv)).toBeLessThan(1e-9)
    expect(r.patient.dmax_mm).toBeGreaterThan(0)
    const text = readFileSync(csv, 'utf8')
    expect(text).toContain(SUVPEAK_RULE)
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toHaveLength(12)
  })

  it('the SEG folder with --lesions components: 18-connected components of all segments', async () => {
    const dir = dataPath('mirp-qin-hn-0139-pet-seg')
    const { code, out } = await capture(() => statsCommand.run(['--pet', join(dir, 'image'), '--mask', join(dir, 'mask'), '--lesions', 'components', '--json']))
    expect(code).toBe(0)
    const r = JSON.parse(out) as StatsJson
    expect(r.lesion_definition).toMatch(/18-connected/)
    expect(r.lesions.every((l) => l.segment === undefined)).toBe(true)
    expect(r.patient.lesion_count).toBeGreaterThanOrEqual(1)
    // The same voxels as the 11 segments, regrouped by connectivity.
    expect(segmentVoxels).toBeGreaterThan(0)
    expect(r.lesions.reduce((a, l) => a + l.voxels, 0)).toBe(segmentVoxels)
  })

  it('NIfTI PET in SUV with a NIfTI mask (STS_001), 6- and 18-connected', async () => {
    const pet = await readImageFile(STS_001_PET)
    const mask = await readImageFile(STS_001_PET_MASK)
    const s = pet.geometry.spacingMm
    const voxelMl = (s[0] * s[1] * s[2]) / 1000
    for (const connectivity of [6, 18] as const) {
      const { code, out } = await capture(() => statsCommand.run(['--pet', STS_001_PET, '--mask', STS_001_PET_MASK, '--json', '--connectivity', String(connectivity)]))
      expect(code).toBe(0)
      const r = JSON.parse(out) as StatsJson
      const cc = labelComponents(mask.voxels, mask.geometry.dims, connectivity)
      expect(r.lesions).toHaveLength(cc.count)
      for (const l of r.lesions) {
        let sum = 0
        let max = -Infinity
        for (let p = 0; p < cc.labels.length; p++) if (cc.labels[p] === l.id) {
          sum += pet.voxels[p]
          max = Math.max(max, pet.voxels[p])
        }
        expect(l.voxels).toBe(cc.voxelCounts[l.id])
        expect(l.suv_max).toBe(max)
        expect(Math.abs(l.suv_mean - sum / l.voxels)).toBeLessThan(1e-9)
        expect(Math.abs(l.tlg - sum * voxelMl)).toBeLessThan(1e-9)
      }
      let all = 0
      for (let p = 0; p < mask.voxels.length; p++) if (mask.voxels[p]) all++
      expect(Math.abs(r.patient.tmtv_ml - all * voxelMl)).toBeLessThan(1e-9)
    }
  })

  it('refuses a mask on another grid, and bad options', async () => {
    await expect(statsCommand.run(['--pet', STS_001_PET, '--mask', STS_001_CT_MASK])).rejects.toThrow(/grid/)
    await expect(statsCommand.run(['--pet', STS_001_PET, '--mask', STS_001_PET_MASK, '--connectivity', '8'])).rejects.toThrow(UsageError)
    await expect(statsCommand.run(['--pet', STS_001_PET])).rejects.toThrow(UsageError)
    expect(existsSync(STS_001_PET)).toBe(true)
  })
})
