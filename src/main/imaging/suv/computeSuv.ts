import { calculateSUVScalingFactors, type InstanceMetadata } from '@cornerstonejs/calculate-suv'
import {
  bodyMassIndex,
  bodySurfaceAreaDuBoisM2,
  leanBodyMassJamesKg,
  leanBodyMassJanmahasatianKg,
} from './bodySize'
import { frameReferenceTimes, type ScanReferenceRule } from './decayReference'
import { formatDicom, type NaiveSeconds } from './dicomTime'
import { decayTimeProblem, heightProblem, numericProblem } from './suvChecks'
import {
  resolveSuvParameters,
  type ResolvedSuvParameters,
  type SuvParameterKey,
  type SuvParameters,
} from './suvParameters'
import type { PetSuvTags } from './suvTags'
import { identifyTracer, type TracerInfo } from './tracer'

export interface SuvResult {
  /** True when `suvbwFactors` are usable; then `problems` is empty. */
  ok: boolean
  /** Per instance (same order as input): stored value (after rescale, in the series' Units) × factor = SUVbw. NaN when not ok. */
  suvbwFactors: number[]
  /** How the factors were obtained, in words, e.g. "BQML, DecayCorrection START: ... (calculate-suv)". */
  method: string
  /** The values the factors were computed from (header values, replaced by overrides). */
  parametersUsed: SuvParameters & {
    /** Injection to the time the activity refers to (START, ADMIN: 0; NONE: the first frame's). */
    decayTimeS?: number
    /** DecayCorrection NONE: every frame's decay time. */
    decayTimesS?: number[]
    units?: string
    /** DecayCorrection START: which rule chose the reference time (decayReference.ts). */
    scanReferenceRule?: ScanReferenceRule | 'override'
  }
  /** The parameters the user overrode. */
  overridden: SuvParameterKey[]
  /** stored × factor = SUL (James LBM), SUL (Janmahasatian LBM), SUVbsa (Du Bois BSA, cm²); when ok and height and sex are known. */
  sulJamesFactors?: number[]
  sulJanmahasatianFactors?: number[]
  suvBsaFactors?: number[]
  /** Why there are no factors, in words naming the tag. Empty exactly when ok. */
  problems: string[]
  /** What a reader should know but does not stop the SUV: assumptions made, SUL not computable, ... */
  warnings: string[]
  tracer: TracerInfo
}

/** Everything that changes the activity-to-SUV factor; a vendor factor is corrected when one is overridden. */
const FACTOR_PARAMETERS: readonly SuvParameterKey[] = [
  'weightKg', 'injectedDoseBq', 'injectionDateTime', 'halfLifeS', 'scanDateTime', 'decayCorrection',
]

type UnitsPath = 'BQML' | 'GML' | 'CNTS-SUV' | 'CNTS-ACTIVITY'

/** W[g] / (dose × 2^(−Δt / T½)) per instance: stored Bq/ml × this = SUVbw (method.md §1). */
function bodyWeightFactors(weightKg: number, doseBq: number, halfLifeS: number, decayTimesS: readonly number[]): number[] {
  return decayTimesS.map((t) => (weightKg * 1000) / (doseBq * Math.pow(2, -t / halfLifeS)))
}

interface DecayTiming {
  decayTimesS: number[]
  /** For the method text: "to the series start (SeriesTime)". */
  clause: string
  rule?: ScanReferenceRule | 'override'
  sameAsCalculateSuv: boolean
}

/**
 * The decay time of every instance under a DecayCorrection, or the problems that prevent it.
 * `side` picks the header's or the effective values (a vendor factor is corrected by their ratio).
 */
function decayTiming(
  tags: PetSuvTags[],
  r: ResolvedSuvParameters,
  p: SuvParameters,
  side: 'effective' | 'header',
): { ok: true; timing: DecayTiming } | { ok: false; problems: string[] } {
  const n = tags.length
  const mode = p.decayCorrection
  if (mode === undefined) {
    return {
      ok: false,
      problems: [
        r.unknownDecayCorrection !== undefined
          ? `DecayCorrection (0054,1102) is "${r.unknownDecayCorrection}", not START, ADMIN or NONE: what the images were decay-corrected to is unknown`
          : 'DecayCorrection (0054,1102) is missing: whether the images are already decay-corrected is unknown',
      ],
    }
  }
  if (mode === 'ADMIN') {
    // Already decay-corrected to the injection time: decaying the dose again would count the decay twice.
    return {
      ok: true,
      timing: {
        decayTimesS: new Array<number>(n).fill(0),
        clause: 'images already decay-corrected to the injection, no decay factor',
        sameAsCalculateSuv: false,
      },
    }
  }
  const problems: string[] = []
  const injectionS = side === 'effective' ? r.injectionS : r.headerInjectionS
  if (injectionS === undefined) {
    problems.push(r.injectionProblem ?? 'The injection time is missing: enter it')
  }
  if (mode === 'START') {
    const scanS = side === 'effective' ? r.scanS : r.headerScanS
    if (scanS === undefined) problems.push(r.scanProblem ?? 'The scan start time is unknown: enter it')
    if (problems.length || injectionS === undefined || scanS === undefined) return { ok: false, problems }
    const overridden = side === 'effective' && r.overridden.includes('scanDateTime')
    const what = overridden ? 'the scan time entered' : (r.scanReference?.description ?? 'the scan start')
    const decayS = scanS - injectionS
    const bad = decayTimeProblem(decayS, what)
    if (bad) return { ok: false, problems: [bad] }
    return {
      ok: true,
      timing: {
        decayTimesS: new Array<number>(n).fill(decayS),
        clause: `dose decayed from injection to ${what}`,
        rule: overridden ? 'override' : r.scanReference?.rule,
        sameAsCalculateSuv: !overridden && !!r.scanReference?.sameAsCalculateSuv,
      },
    }
  }
  // NONE: each frame as measured, decayed to its own average-count time. A missing or absurd half-life is
  // reported by the caller (numericProblem), not here.
  const halfLifeS = p.halfLifeS
  if (problems.length || injectionS === undefined || halfLifeS === undefined || !(halfLifeS > 0)) return { ok: false, problems }
  const frames = frameReferenceTimes(tags, halfLifeS)
  if (!frames.ok) return { ok: false, problems: [frames.problem] }
  const decayTimesS = frames.value.seconds.map((s: NaiveSeconds) => s - injectionS)
  for (const [i, d] of decayTimesS.entries()) {
    const bad = decayTimeProblem(d, `frame ${i + 1}'s acquisition`)
    if (bad) return { ok: false, problems: [bad] }
  }
  return {
    ok: true,
    timing: { decayTimesS, clause: "dose decayed to each frame's average-count time (AcquisitionTime + ActualFrameDuration)", sameAsCalculateSuv: false },
  }
}

function unitsPath(
  tags: PetSuvTags[],
  overridden: readonly SuvParameterKey[],
): { ok: true; path: UnitsPath; note?: string } | { ok: false; problem: string } {
  const t0 = tags[0]
  const units = t0.Units
  if (units === undefined) return { ok: false, problem: 'Units (0054,1001) is missing: what the pixel values measure is unknown' }
  if (units === 'BQML') return { ok: true, path: 'BQML' }
  if (units === 'GML') {
    // calculate-suv assumes GML is SUVbw; SUVType (0054,1006) says which SUV it is when present.
    if (t0.SUVType !== undefined && t0.SUVType !== 'BW') {
      return {
        ok: false,
        problem: `Units GML with SUVType (0054,1006) ${t0.SUVType}: the values are SUV${t0.SUVType.toLowerCase()}, not SUVbw, and cannot be converted without the vendor's formula`,
      }
    }
    return t0.SUVType === undefined
      ? { ok: true, path: 'GML', note: 'Units GML without SUVType (0054,1006): the values are taken as SUVbw (as calculate-suv does)' }
      : { ok: true, path: 'GML' }
  }
  if (units === 'CNTS') {
    // calculate-suv's rule: the SUV scale factor when every instance has a non-zero one; else the activity
    // concentration scale factor when no instance has an SUV scale factor and every one has it.
    const suvScale = tags.every((t) => !!t.PhilipsPETPrivateGroup?.SUVScaleFactor)
    const activity = tags.every((t) => !!t.PhilipsPETPrivateGroup?.ActivityConcentrationScaleFactor)
    const noSuvScale = tags.every((t) => !t.PhilipsPETPrivateGroup?.SUVScaleFactor)
    // Ours: with a corrected weight, dose or time, the activity scale (then the BQML rule) uses them directly
    // instead of correcting a vendor factor computed from the header's.
    if (activity && (noSuvScale || overridden.some((k) => FACTOR_PARAMETERS.includes(k)))) return { ok: true, path: 'CNTS-ACTIVITY' }
    if (suvScale) return { ok: true, path: 'CNTS-SUV' }
    return {
      ok: false,
      problem:
        'Units CNTS (Philips counts) need the Philips SUV scale factor (7053,1000) or activity concentration scale ' +
        'factor (7053,1009) on every instance; ' +
        (tags.some((t) => t.PhilipsPETPrivateGroup) ? 'they are missing or zero on some' : 'neither is present'),
    }
  }
  return {
    ok: false,
    problem: `Units (0054,1001) is "${units}": only BQML (Bq/ml), CNTS (Philips counts with its scale factors) and GML (already SUV) can be converted to SUV`,
  }
}

/** Relative difference, symmetric. */
const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b))

/**
 * calculate-suv on the same (effective) values, for the cases it handles: its factors must equal ours.
 * Its TM parser turns fractions of a second with a leading zero (".034") into ".34", so where such a
 * fraction is passed the tolerance widens to the decay over one second.
 */
function crossCheckWithCalculateSuv(
  tags: PetSuvTags[],
  p: SuvParameters,
  injectionS: number,
  ours: number[],
  warnings: string[],
): string | undefined {
  const injection = formatDicom(injectionS).dt
  const metadata: InstanceMetadata[] = tags.map((t) => {
    const m: InstanceMetadata = {
      CorrectedImage: t.CorrectedImage ?? ['ATTN', 'DECY'],
      Units: t.Units as string,
      RadionuclideHalfLife: p.halfLifeS as number,
      RadionuclideTotalDose: p.injectedDoseBq as number,
      DecayCorrection: 'START',
      PatientWeight: p.weightKg as number,
      SeriesDate: t.SeriesDate as string,
      SeriesTime: t.SeriesTime as string,
      AcquisitionDate: (t.AcquisitionDate ?? t.SeriesDate) as string,
      AcquisitionTime: t.AcquisitionTime as string,
      RadiopharmaceuticalStartDateTime: injection,
    }
    if (t.PhilipsPETPrivateGroup) {
      m.PhilipsPETPrivateGroup = {
        SUVScaleFactor: t.PhilipsPETPrivateGroup.SUVScaleFactor,
        ActivityConcentrationScaleFactor: t.PhilipsPETPrivateGroup.ActivityConcentrationScaleFactor,
      }
    }
    if (t.GEPrivatePostInjectionDateTime) m.GEPrivatePostInjectionDateTime = t.GEPrivatePostInjectionDateTime
    if (t.FrameReferenceTime !== undefined) m.FrameReferenceTime = t.FrameReferenceTime
    if (t.ActualFrameDuration !== undefined) m.ActualFrameDuration = t.ActualFrameDuration
    // calculate-suv's SUL and SUVbsa are discarded (James with 120 instead of 128 for men; LBM × 1/dose is
    // wrong for CNTS; see bodySize.ts), and body size does not enter SUVbw. Fixed valid placeholders keep
    // it from logging two console warnings per call when PatientSize is absent and from throwing on "O".
    m.PatientSize = 1.7
    m.PatientSex = 'F'
    return m
  })
  let theirs: number[]
  try {
    theirs = calculateSUVScalingFactors(metadata).map((f) => Number(f.suvbw))
  } catch (e) {
    warnings.push(`calculate-suv could not cross-check this series: ${e instanceof Error ? e.message : String(e)}`)
    return undefined
  }
  const timeStrings = [injection.slice(8), ...tags.flatMap((t) => [t.SeriesTime ?? '', t.AcquisitionTime ?? ''])]
  const leadingZeroFraction = timeStrings.some((s) => /\.0\d*[1-9]/.test(s))
  const tolerance = leadingZeroFraction ? (Math.LN2 / (p.halfLifeS as number)) * 1.01 : 1e-9
  const worst = ours.reduce((w, f, i) => Math.max(w, relDiff(f, theirs[i])), 0)
  if (!(worst <= tolerance)) {
    return `Internal cross-check failed: calculate-suv gives ${theirs[0]}, this module ${ours[0]} (relative difference ${worst.toExponential(2)}); please report this series`
  }
  return undefined
}

function philipsCrossCheck(tags: PetSuvTags[], path: UnitsPath, factors: number[], warnings: string[]): void {
  const ph = tags[0].PhilipsPETPrivateGroup
  if (!ph?.SUVScaleFactor || !ph.ActivityConcentrationScaleFactor) return
  // BQML: Bq/ml = counts × activity scale, SUV = counts × SUV scale, so our factor should be their ratio.
  // CNTS (activity path): our factor should be the SUV scale factor itself.
  const expected = path === 'BQML' ? ph.SUVScaleFactor / ph.ActivityConcentrationScaleFactor : ph.SUVScaleFactor
  const d = relDiff(expected, factors[0])
  if (d > 0.01) {
    warnings.push(
      `The Philips SUV scale factor (7053,1000) implies ${expected.toPrecision(6)}, ${(d * 100).toFixed(1)}% from the ` +
        `factor computed here (${factors[0].toPrecision(6)}): check weight, dose and times`,
    )
  }
}

function bodySizeFactors(result: SuvResult, p: SuvParameters, overridden: readonly SuvParameterKey[]): void {
  const { weightKg: w, heightCm: h, sex } = p
  const hp = heightProblem(p, overridden)
  if (hp) {
    result.warnings.push(`${hp}: SUL and SUVbsa are not computed`)
    return
  }
  if (w === undefined || !(w > 0 && w <= 500) || h === undefined) {
    result.warnings.push('PatientWeight (0010,1030) is missing or implausible: SUL and SUVbsa are not computed')
    return
  }
  const f = result.suvbwFactors
  // SUV_x = SUVbw × x / W: factors as ratios, valid whatever the Units path (see bodySize.ts).
  const bsaCm2 = bodySurfaceAreaDuBoisM2(w, h) * 1e4
  result.suvBsaFactors = f.map((x) => (x * bsaCm2) / (w * 1000))
  if (!sex) {
    result.warnings.push('PatientSex (0010,0040) is not M or F: SUL (lean body mass) is not computed')
    return
  }
  const james = leanBodyMassJamesKg(w, h, sex)
  const janma = leanBodyMassJanmahasatianKg(w, h, sex)
  const bmi = bodyMassIndex(w, h)
  if (james > 0) result.sulJamesFactors = f.map((x) => (x * james) / w)
  else result.warnings.push(`James' lean body mass is ${james.toFixed(1)} kg at BMI ${bmi.toFixed(1)}: SUL (James) is not computed`)
  if (bmi >= 35 && james > 0) {
    result.warnings.push(`BMI ${bmi.toFixed(1)}: James' formula underestimates lean body mass in obesity; prefer SUL (Janmahasatian)`)
  }
  result.sulJanmahasatianFactors = f.map((x) => (x * janma) / w)
}

/**
 * SUVbw factors of a PET series (one per instance, in the order given), with the method and every value
 * used, or the problems that prevent them. Never falls back silently: a missing or absurd weight, dose,
 * injection time or half-life gives `ok: false`, NaN factors and problems naming the tag; `overrides` from
 * the user then fix them.
 *
 * Built on @cornerstonejs/calculate-suv, which it runs on every case it covers (Units BQML and CNTS with
 * DecayCorrection START) as a cross-check that must agree. It adds what calculate-suv lacks (method.md §1):
 * DecayCorrection ADMIN (no decay) and NONE (per frame), the Siemens frame-timing reference, SUVType for
 * GML, corrections by the user (also of vendor factors), plausibility checks, the midnight crossing of a
 * dateless injection time, the decay time itself, and SUL by the James formula as published.
 */
export function computeSuvFactors(tags: PetSuvTags[], overrides: Partial<SuvParameters> = {}): SuvResult {
  const n = tags.length
  const r = resolveSuvParameters(tags, overrides)
  const p = r.parameters
  const problems = [...r.problems]
  const warnings = [...r.warnings]
  const t0: PetSuvTags = tags[0] ?? {}
  const { notes: tracerNotes, ...tracer } = identifyTracer(t0, p.halfLifeS)
  warnings.push(...tracerNotes)
  const parametersUsed: SuvResult['parametersUsed'] = { ...p }
  if (t0.Units !== undefined) parametersUsed.units = t0.Units
  const result: SuvResult = {
    ok: false,
    suvbwFactors: new Array<number>(n).fill(Number.NaN),
    method: 'none (see problems)',
    parametersUsed,
    overridden: r.overridden,
    problems,
    warnings,
    tracer,
  }
  if (n === 0) {
    problems.push('No PET instances were given')
    return result
  }
  if ((t0.RadiopharmaceuticalItemCount ?? 1) > 1) {
    warnings.push(`RadiopharmaceuticalInformationSequence (0054,0016) has ${t0.RadiopharmaceuticalItemCount} items: the first is used`)
  }
  if (r.overridden.includes('scanDateTime') && p.decayCorrection !== 'START') {
    warnings.push('The scan time entered is used only with DecayCorrection START: ignored')
  }

  // calculate-suv refuses images without ATTN and DECY; we need ATTN always, DECY unless NONE.
  const corrected = t0.CorrectedImage
  if (!corrected) {
    warnings.push('CorrectedImage (0028,0051) is missing: attenuation and decay correction are assumed')
  } else {
    if (!corrected.includes('ATTN')) {
      problems.push('CorrectedImage (0028,0051) lacks ATTN: the images are not attenuation-corrected, so no SUV')
    }
    if (p.decayCorrection === 'NONE' && corrected.includes('DECY')) {
      warnings.push('CorrectedImage (0028,0051) has DECY but DecayCorrection is NONE: NONE is followed')
    } else if (p.decayCorrection && p.decayCorrection !== 'NONE' && !corrected.includes('DECY')) {
      problems.push(`CorrectedImage (0028,0051) lacks DECY but DecayCorrection is ${p.decayCorrection}: the two disagree`)
    }
  }

  const units = unitsPath(tags, r.overridden)
  if (!units.ok) {
    problems.push(units.problem)
    return result
  }
  if (units.note) warnings.push(units.note)
  const path = units.path
  const factorOverrides = r.overridden.filter((k) => FACTOR_PARAMETERS.includes(k))
  // Weight, dose and decay inputs are needed except for a vendor's SUV left as it is (GML). Philips CNTS
  // needs them too, as in calculate-suv: its SUV scale factor was computed from them.
  const needsInputs = path !== 'GML' || factorOverrides.length > 0
  let effective: DecayTiming | undefined
  if (needsInputs) {
    for (const key of ['weightKg', 'injectedDoseBq', 'halfLifeS'] as const) {
      if (key === 'halfLifeS' && p.decayCorrection === 'ADMIN' && p.halfLifeS === undefined) continue
      const bad = numericProblem(key, p, r.overridden)
      const hint = key === 'halfLifeS' && p.halfLifeS === undefined && tracer.halfLifeS ? ` (${tracer.radionuclide}: ${tracer.halfLifeS} s)` : ''
      if (bad) problems.push(bad + hint)
    }
    const timing = decayTiming(tags, r, p, 'effective')
    if (timing.ok) effective = timing.timing
    else problems.push(...timing.problems)
  }
  if (problems.length > 0 || (needsInputs && !effective)) return result

  let factors: number[]
  let method: string
  const decayed = (t: DecayTiming): number[] =>
    bodyWeightFactors(p.weightKg as number, p.injectedDoseBq as number, p.halfLifeS ?? 1, t.decayTimesS)
  switch (path) {
    case 'BQML':
    case 'CNTS-ACTIVITY': {
      const t = effective as DecayTiming
      factors = decayed(t)
      method = `BQML, DecayCorrection ${p.decayCorrection}: ${t.clause}`
      if (path === 'CNTS-ACTIVITY') {
        factors = factors.map((f, i) => f * (tags[i].PhilipsPETPrivateGroup?.ActivityConcentrationScaleFactor as number))
        method = `Philips CNTS × activity concentration scale factor (7053,1009) = Bq/ml; then ${method}`
      }
      break
    }
    case 'GML':
    case 'CNTS-SUV': {
      factors = tags.map((t) => (path === 'GML' ? 1 : (t.PhilipsPETPrivateGroup?.SUVScaleFactor as number)))
      method = path === 'GML' ? 'GML: values are already SUVbw, factor 1' : 'Philips CNTS × SUV scale factor (7053,1000)'
      if (factorOverrides.length > 0) {
        // The vendor computed its factor from the header's values: scale it by effective / header.
        const header = decayTiming(tags, r, r.fromHeader, 'header')
        const headerValid = (['weightKg', 'injectedDoseBq', 'halfLifeS'] as const).every(
          (k) => (k === 'halfLifeS' && r.fromHeader.decayCorrection === 'ADMIN') || !numericProblem(k, r.fromHeader, []),
        )
        if (!header.ok || !headerValid) {
          problems.push(
            `The ${path === 'GML' ? 'SUV values' : 'Philips SUV scale factor'} cannot be corrected for the values entered ` +
              `(${factorOverrides.join(', ')}): the header's own weight, dose or times are incomplete`,
          )
          return result
        }
        const fromHeader = bodyWeightFactors(
          r.fromHeader.weightKg as number, r.fromHeader.injectedDoseBq as number, r.fromHeader.halfLifeS ?? 1, header.timing.decayTimesS,
        )
        const now = decayed(effective as DecayTiming)
        factors = factors.map((f, i) => (f * now[i]) / fromHeader[i])
        method += `, corrected for the values entered (${factorOverrides.join(', ')})`
      }
      break
    }
  }

  // calculate-suv covers BQML and CNTS under START with its own reference rule: it must agree.
  const checkable =
    (path === 'BQML' || path === 'CNTS-ACTIVITY' || (path === 'CNTS-SUV' && factorOverrides.length === 0)) &&
    p.decayCorrection === 'START' && effective?.sameAsCalculateSuv === true && r.injectionS !== undefined &&
    !(path === 'CNTS-ACTIVITY' && tags.some((t) => !!t.PhilipsPETPrivateGroup?.SUVScaleFactor))
  if (checkable) {
    const mismatch = crossCheckWithCalculateSuv(tags, p, r.injectionS as number, factors, warnings)
    if (mismatch) {
      problems.push(mismatch)
      return result
    }
    method += ' (calculate-suv)'
  }
  if ((path === 'BQML' || path === 'CNTS-ACTIVITY') && factorOverrides.length === 0) philipsCrossCheck(tags, path, factors, warnings)

  if (!factors.every((f) => Number.isFinite(f) && f > 0)) {
    problems.push('The SUV factors came out non-finite or non-positive')
    return result
  }
  result.ok = true
  result.suvbwFactors = factors
  result.method = method
  if (effective) {
    parametersUsed.decayTimeS = effective.decayTimesS[0]
    if (p.decayCorrection === 'NONE') parametersUsed.decayTimesS = effective.decayTimesS
    if (effective.rule) parametersUsed.scanReferenceRule = effective.rule
  }
  if (r.scanReference && p.decayCorrection === 'START') warnings.push(...r.scanReference.notes)
  bodySizeFactors(result, p, r.overridden)
  return result
}

