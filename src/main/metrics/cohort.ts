import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { sameGrid, type VolumeGeometry } from '../../shared/geometry'
import type { VoxelArray } from '../../shared/volume'
import { InputError } from '../io/InputError'
import { readImageFile } from '../io/readImage'
import { tracerFromName } from '../study/studyLayout'
import { autopetCaseMetrics, type AutopetCaseMetrics } from './autopetMetrics'
import { cohortSummary, rankPredictions, type CaseScores, type CohortSummary, type RankingEntry } from './cohortSummary'
import { labelComponents } from './connectedComponents'
import { measureLesions, type LesionMeasureResult } from './lesionStats'

/** A case's mask file, and the SUV image found beside it (for lesion measures), if any. */
export interface CaseMask {
  case: string
  maskPath: string
  suvPath?: string
}

export interface MaskSet {
  root: string
  /** How the cases were found, in words. */
  layout: string
  cases: CaseMask[]
}

const MASK_FILE = /\.(nii\.gz|nii|mha|mhd|nrrd|nhdr)$/i
const stripExtension = (name: string): string => name.replace(MASK_FILE, '')
/** Images of a study folder that are never the mask. */
const NOT_MASKS = /^(ct|ctres|suv|pet)$/i

/**
 * The masks of a cohort, one per case:
 * - a single file: one case, named after the file;
 * - a folder of `<case>.nii.gz` (nnU-Net labelsTr/labelsTs or prediction output; also .nii, .mha, .nrrd),
 *   or one holding only a `labelsTr`/`labelsTs` folder;
 * - autoPET per-study folders, up to three levels deep (`<case>/SEG.nii.gz`, predictions
 *   `<case>/PRED.nii.gz`, or the one mask-like image of the folder); the case is the folder's path
 *   below the root, e.g. `PETCT_0af7ffe12a/08-12-2005-NA-PET-CT`.
 * SUV images are looked up beside the masks: `<case>/SUV.nii.gz`, or `imagesTr|imagesTs/<case>_0001.nii.gz`
 * next to an nnU-Net labels folder.
 */
export async function findCaseMasks(root: string, role: 'reference' | 'prediction'): Promise<MaskSet> {
  const kind = await kindOf(root)
  if (kind === 'missing') throw new InputError(root, 'no such file or folder')
  if (kind === 'file') {
    if (!MASK_FILE.test(root)) throw new InputError(root, 'not a mask image (.nii.gz, .nii, .mha, .nrrd)')
    const suv = join(dirname(root), 'SUV.nii.gz')
    return { root, layout: 'single file', cases: [{ case: stripExtension(basename(root)), maskPath: root, suvPath: (await kindOf(suv)) === 'file' ? suv : undefined }] }
  }
  const names = (await readdir(root)).sort()
  const files = []
  for (const n of names) if (MASK_FILE.test(n) && (await kindOf(join(root, n))) === 'file') files.push(n)
  if (files.length === 0) {
    const labels = names.find((n) => /^labelsT[rs]$/.test(n))
    if (labels && !names.some((n) => n !== labels && /^labelsT[rs]$/.test(n))) return findCaseMasks(join(root, labels), role)
  }
  const cases = new Map<string, CaseMask>()
  for (const n of files) {
    const name = stripExtension(n)
    if (NOT_MASKS.test(name) || cases.has(name)) continue
    cases.set(name, { case: name, maskPath: join(root, n), suvPath: await nnunetSuv(root, name) })
  }
  const direct = cases.size
  await findStudyFolders(root, root, role, cases, 3)
  if (cases.size === 0) {
    throw new InputError(root, `no ${role} masks found: expected <case>.nii.gz files, or per-case folders holding ${role === 'reference' ? 'SEG' : 'PRED'}.nii.gz`)
  }
  const layout = direct === cases.size ? 'folder of <case> mask files' : direct === 0 ? 'per-case folders' : 'mask files and per-case folders'
  return { root, layout, cases: [...cases.values()].sort((a, b) => compare(a.case, b.case)) }
}

async function findStudyFolders(root: string, dir: string, role: 'reference' | 'prediction', out: Map<string, CaseMask>, depth: number): Promise<void> {
  if (depth === 0) return
  for (const n of (await readdir(dir)).sort()) {
    const sub = join(dir, n)
    if ((await kindOf(sub)) !== 'dir') continue
    const inside = (await readdir(sub)).sort()
    const images = inside.filter((f) => MASK_FILE.test(f))
    const find = (stem: string): string | undefined => images.find((f) => stripExtension(f).toLowerCase() === stem)
    const candidates = images.filter((f) => !NOT_MASKS.test(stripExtension(f)))
    const mask = (role === 'prediction' ? find('pred') ?? find('seg') : find('seg') ?? find('pred')) ?? (candidates.length === 1 ? candidates[0] : undefined)
    const name = relative(root, sub).split(sep).join('/')
    if (mask) {
      if (!out.has(name)) {
        const suv = find('suv')
        out.set(name, { case: name, maskPath: join(sub, mask), suvPath: suv ? join(sub, suv) : undefined })
      }
    } else {
      await findStudyFolders(root, sub, role, out, depth - 1)
    }
  }
}

async function nnunetSuv(labelsDir: string, caseName: string): Promise<string | undefined> {
  for (const images of ['imagesTr', 'imagesTs']) {
    for (const ext of ['.nii.gz', '.nii']) {
      const p = join(dirname(labelsDir), images, `${caseName}_0001${ext}`)
      if ((await kindOf(p)) === 'file') return p
    }
  }
  return undefined
}

export interface CasePairing {
  pairs: { case: string; ref: CaseMask; pred: CaseMask }[]
  /** Reference cases without a prediction (left out of the summaries). */
  refOnly: string[]
  /** Predictions without a reference (ignored). */
  predOnly: string[]
}

/** Pair by case name (exact, then ignoring case); two single files pair whatever their names. */
export function pairCases(ref: MaskSet, pred: MaskSet): CasePairing {
  if (ref.layout === 'single file' && pred.layout === 'single file') {
    return { pairs: [{ case: ref.cases[0].case, ref: ref.cases[0], pred: pred.cases[0] }], refOnly: [], predOnly: [] }
  }
  const exact = new Map(pred.cases.map((c) => [c.case, c]))
  const folded = new Map(pred.cases.map((c) => [c.case.toLowerCase(), c]))
  const used = new Set<CaseMask>()
  const pairs: CasePairing['pairs'] = []
  const refOnly: string[] = []
  for (const r of ref.cases) {
    const p = exact.get(r.case) ?? folded.get(r.case.toLowerCase())
    if (p && !used.has(p)) {
      used.add(p)
      pairs.push({ case: r.case, ref: r, pred: p })
    } else {
      refOnly.push(r.case)
    }
  }
  return { pairs, refOnly, predOnly: pred.cases.filter((c) => !used.has(c)).map((c) => c.case) }
}

/** One case scored against one prediction set. */
export interface CaseEvaluation extends CaseScores {
  prediction: string
  refPath: string
  predPath: string
  metrics?: AutopetCaseMetrics
  refTmtvMl: number
  predTmtvMl: number
  /** Lesion measures (18-connected lesions) of both masks, when an SUV image was found. */
  suvPath?: string
  refMeasures?: LesionMeasureResult
  predMeasures?: LesionMeasureResult
  /** Why the case could not be scored (then left out of summaries and ranking). */
  error?: string
}

export interface PredictionSetResult {
  name: string
  path: string
  layout: string
  refOnly: string[]
  predOnly: string[]
  summary: CohortSummary
}

export interface CohortEvaluation {
  reference: { path: string; layout: string; cases: number }
  predictions: PredictionSetResult[]
  cases: CaseEvaluation[]
  /** With two or more prediction sets. */
  ranking?: RankingEntry[]
}

export interface CohortOptions {
  /** Measure lesions on the SUV image when one is found (default false: it reads every SUV image). */
  lesionMeasures?: boolean
  onCase?(done: number, total: number, caseName: string): void
}

/**
 * Score prediction sets against a reference cohort: autoPET III metrics per case, summaries per
 * tracer and overall, and the challenge ranking when there are several sets. Each case's reference
 * (and SUV) is read once for all sets.
 */
export async function evaluateCohort(refRoot: string, predRoots: readonly string[], options: CohortOptions = {}): Promise<CohortEvaluation> {
  const ref = await findCaseMasks(refRoot, 'reference')
  const names = uniqueNames(predRoots)
  const sets = await Promise.all(predRoots.map((p) => findCaseMasks(p, 'prediction')))
  const pairings = sets.map((s) => pairCases(ref, s))
  const cases: CaseEvaluation[] = []
  let done = 0
  for (const r of ref.cases) {
    const wanted = pairings.map((pairing, s) => ({ s, pair: pairing.pairs.find((p) => p.ref === r) })).filter((w) => w.pair)
    if (wanted.length === 0) continue
    options.onCase?.(done, ref.cases.length, r.case)
    let refImage: Awaited<ReturnType<typeof readImageFile>> | undefined
    let refError: string | undefined
    try {
      refImage = await readImageFile(r.maskPath)
    } catch (e) {
      refError = (e as Error).message
    }
    const suvPath = r.suvPath ?? wanted.map((w) => w.pair?.pred.suvPath).find(Boolean)
    let suv: Awaited<ReturnType<typeof readImageFile>> | undefined
    if (suvPath && refImage && options.lesionMeasures === true) {
      suv = await readImageFile(suvPath).catch(() => undefined)
      if (suv && !sameGrid(suv.geometry, refImage.geometry, 0.01)) suv = undefined
    }
    const refMeasures = refImage && suv ? measuresOf(refImage.voxels, refImage.geometry, suv.voxels) : undefined
    for (const { s, pair } of wanted) {
      const p = pair as CasePairing['pairs'][number]
      cases.push(await evaluatePair(p, names[s], refImage, refError, suv, suvPath, refMeasures))
    }
    done++
  }
  options.onCase?.(done, ref.cases.length, '')
  const predictions: PredictionSetResult[] = sets.map((set, s) => ({
    name: names[s],
    path: predRoots[s],
    layout: set.layout,
    refOnly: pairings[s].refOnly,
    predOnly: pairings[s].predOnly,
    summary: cohortSummary(cases.filter((c) => c.prediction === names[s] && !c.error)),
  }))
  const result: CohortEvaluation = { reference: { path: refRoot, layout: ref.layout, cases: ref.cases.length }, predictions, cases }
  if (sets.length > 1) {
    result.ranking = rankPredictions(names.map((prediction) => ({ prediction, cases: cases.filter((c) => c.prediction === prediction && !c.error) })))
  }
  return result
}

async function evaluatePair(
  pair: CasePairing['pairs'][number],
  prediction: string,
  refImage: { geometry: VolumeGeometry; voxels: VoxelArray } | undefined,
  refError: string | undefined,
  suv: { voxels: ArrayLike<number> } | undefined,
  suvPath: string | undefined,
  refMeasures: LesionMeasureResult | undefined,
): Promise<CaseEvaluation> {
  const base: CaseEvaluation = {
    case: pair.case,
    tracer: tracerFromName(pair.case.split('/')[0]),
    prediction,
    refPath: pair.ref.maskPath,
    predPath: pair.pred.maskPath,
    dsc: NaN,
    fpvMl: NaN,
    fnvMl: NaN,
    tpLesions: 0,
    fpLesions: 0,
    fnLesions: 0,
    refTmtvMl: NaN,
    predTmtvMl: NaN,
  }
  if (!refImage) return { ...base, error: refError ?? 'reference unreadable' }
  let predImage
  try {
    predImage = await readImageFile(pair.pred.maskPath)
  } catch (e) {
    return { ...base, error: (e as Error).message }
  }
  const g = refImage.geometry
  if (predImage.geometry.dims.some((n, a) => n !== g.dims[a])) {
    return { ...base, error: `prediction grid ${predImage.geometry.dims.join('x')} differs from the reference grid ${g.dims.join('x')}` }
  }
  if (!sameGrid(predImage.geometry, g, 0.01)) {
    return { ...base, error: 'prediction and reference have the same size but different spacing, origin or direction' }
  }
  const m = autopetCaseMetrics(predImage.voxels, refImage.voxels, g.dims, g.spacingMm)
  return {
    ...base,
    metrics: m,
    dsc: m.dsc,
    fpvMl: m.fpvMl,
    fnvMl: m.fnvMl,
    tpLesions: m.tpLesions,
    fpLesions: m.fpLesions,
    fnLesions: m.fnLesions,
    refTmtvMl: m.refVoxels * m.voxelMl,
    predTmtvMl: m.predVoxels * m.voxelMl,
    suvPath: suv ? suvPath : undefined,
    refMeasures,
    predMeasures: suv ? measuresOf(predImage.voxels, g, suv.voxels) : undefined,
  }
}

function measuresOf(mask: VoxelArray, geometry: VolumeGeometry, suv: ArrayLike<number>): LesionMeasureResult {
  return measureLesions(labelComponents(mask, geometry.dims, 18), geometry, suv)
}

/** Prediction set names: the folder or file name, numbered when two are alike. */
export function uniqueNames(paths: readonly string[]): string[] {
  const base = paths.map((p) => stripExtension(basename(p.replace(/[/\\]+$/, ''))) || p)
  return base.map((b, i) => (base.filter((o) => o === b).length > 1 ? `${b}#${base.slice(0, i + 1).filter((o) => o === b).length}` : b))
}

async function kindOf(path: string): Promise<'dir' | 'file' | 'missing'> {
  try {
    const s = await stat(path)
    return s.isDirectory() ? 'dir' : 'file'
  } catch {
    return 'missing'
  }
}

function compare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true })
}
