import { startDecayReference, type ScanReference } from './decayReference'
import {
  formatIsoLocal,
  parseDicomDate,
  parseDicomDateAndTime,
  parseDicomDateTime,
  parseDicomTime,
  parseIsoLocalDateTime,
  ONE_DAY_S,
  type NaiveSeconds,
} from './dicomTime'
import type { PetSuvTags } from './suvTags'

export type DecayCorrectionMode = 'START' | 'ADMIN' | 'NONE'

/**
 * The SUV inputs a user sees and may correct. Derived from the header; each override replaces one value.
 * Date-times are the scanner's wall clock as ISO 8601 without a zone: `2020-12-17T08:30:45.5`.
 */
export interface SuvParameters {
  weightKg?: number
  heightCm?: number
  sex?: 'M' | 'F'
  injectedDoseBq?: number
  /** Injection (radiopharmaceutical start). */
  injectionDateTime?: string
  halfLifeS?: number
  /**
   * DecayCorrection START only: the time the images are decay-corrected to (the acquisition start), chosen
   * by the rules of decayReference.ts. Overriding it replaces those rules.
   */
  scanDateTime?: string
  /** What the vendor decay-corrected the images to (DecayCorrection): START, ADMIN (injection) or NONE. */
  decayCorrection?: DecayCorrectionMode
}

export type SuvParameterKey = keyof SuvParameters

/** Where each parameter comes from, for messages that name the tag. */
export const SUV_PARAMETER_SOURCES: Readonly<Record<SuvParameterKey, string>> = {
  weightKg: 'PatientWeight (0010,1030)',
  heightCm: 'PatientSize (0010,1020)',
  sex: 'PatientSex (0010,0040)',
  injectedDoseBq: 'RadionuclideTotalDose (0018,1074)',
  injectionDateTime: 'RadiopharmaceuticalStartDateTime (0018,1078)',
  halfLifeS: 'RadionuclideHalfLife (0018,1075)',
  scanDateTime: 'SeriesDate/SeriesTime (0008,0021/0031)',
  decayCorrection: 'DecayCorrection (0054,1102)',
}

const KEYS = Object.keys(SUV_PARAMETER_SOURCES) as SuvParameterKey[]
const DECAY_MODES: readonly string[] = ['START', 'ADMIN', 'NONE']

export interface ResolvedSuvParameters {
  /** Effective values: the header's, each replaced by its override when one is given. */
  parameters: SuvParameters
  /** The header's values alone. */
  fromHeader: SuvParameters
  /** The parameters the user overrode. */
  overridden: SuvParameterKey[]
  /** Effective injection time, naive seconds (see dicomTime.ts). */
  injectionS?: NaiveSeconds
  headerInjectionS?: NaiveSeconds
  /** Effective START reference time. */
  scanS?: NaiveSeconds
  headerScanS?: NaiveSeconds
  /** How the header's START reference was chosen. */
  scanReference?: ScanReference
  /** Why the header's injection or START reference time could not be read (when not overridden). */
  injectionProblem?: string
  scanProblem?: string
  /** DecayCorrection as written, when it is not one of START/ADMIN/NONE. */
  unknownDecayCorrection?: string
  /** Unusable overrides and instances that disagree on series-level values. */
  problems: string[]
  warnings: string[]
}

/** The injection time from the header; a time without a date takes the series date (as calculate-suv). */
function headerInjection(
  t: PetSuvTags,
  scanS: NaiveSeconds | undefined,
): { seconds?: NaiveSeconds; problem?: string; warnings: string[] } {
  const warnings: string[] = []
  if (t.RadiopharmaceuticalStartDateTime) {
    const dt = parseDicomDateTime(t.RadiopharmaceuticalStartDateTime)
    if (dt) {
      if (dt.zoneOffset) {
        warnings.push(
          `RadiopharmaceuticalStartDateTime has a time zone offset (${dt.zoneOffset}) that the other times lack: ignored`,
        )
      }
      return { seconds: dt.seconds, warnings }
    }
    if (!t.RadiopharmaceuticalStartTime) {
      return {
        problem: `RadiopharmaceuticalStartDateTime (0018,1078) "${t.RadiopharmaceuticalStartDateTime}" is not a valid date-time`,
        warnings,
      }
    }
    warnings.push(
      `RadiopharmaceuticalStartDateTime (0018,1078) "${t.RadiopharmaceuticalStartDateTime}" is invalid: ` +
        'RadiopharmaceuticalStartTime is used',
    )
  }
  if (!t.RadiopharmaceuticalStartTime) {
    return {
      problem:
        'The injection time is missing: neither RadiopharmaceuticalStartDateTime (0018,1078) nor ' +
        'RadiopharmaceuticalStartTime (0018,1072) is in RadiopharmaceuticalInformationSequence (0054,0016)',
      warnings,
    }
  }
  const time = parseDicomTime(t.RadiopharmaceuticalStartTime)
  if (time === undefined) {
    return { problem: `RadiopharmaceuticalStartTime (0018,1072) "${t.RadiopharmaceuticalStartTime}" is not a valid time`, warnings }
  }
  const day = t.SeriesDate ? parseDicomDate(t.SeriesDate) : undefined
  if (day === undefined) {
    return {
      problem: 'RadiopharmaceuticalStartTime (0018,1072) has no date and SeriesDate (0008,0021) is missing or invalid',
      warnings,
    }
  }
  let seconds = day + time
  // calculate-suv leaves midnight as a TODO: a 23:40 injection of a 00:30 scan lands 23 h after the scan.
  // Only when the same day gives a negative decay time and the day before a plausible one (< 24 h), take
  // the day before, and say so.
  if (scanS !== undefined && seconds > scanS && seconds - ONE_DAY_S <= scanS && scanS - (seconds - ONE_DAY_S) < ONE_DAY_S) {
    seconds -= ONE_DAY_S
    warnings.push(
      `RadiopharmaceuticalStartTime ${t.RadiopharmaceuticalStartTime} has no date and is after the scan on the series ` +
        `date: the day before is assumed (${formatIsoLocal(seconds)}), the scan crossing midnight`,
    )
  }
  return { seconds, warnings }
}

/**
 * Series-level values must be the same on every instance (calculate-suv throws otherwise). Overridden
 * parameters are exempt: the user's value replaces them all.
 */
function disagreements(tags: PetSuvTags[], overridden: Set<SuvParameterKey>): { problems: string[]; warnings: string[] } {
  const problems: string[] = []
  const warnings: string[] = []
  const checks: [keyof PetSuvTags, string, SuvParameterKey | undefined, 'problem' | 'warning'][] = [
    ['SeriesInstanceUID', 'SeriesInstanceUID (0020,000E)', undefined, 'problem'],
    ['Units', 'Units (0054,1001)', undefined, 'problem'],
    ['CorrectedImage', 'CorrectedImage (0028,0051)', undefined, 'problem'],
    ['DecayCorrection', 'DecayCorrection (0054,1102)', 'decayCorrection', 'problem'],
    ['PatientWeight', 'PatientWeight (0010,1030)', 'weightKg', 'problem'],
    ['RadionuclideTotalDose', 'RadionuclideTotalDose (0018,1074)', 'injectedDoseBq', 'problem'],
    ['RadionuclideHalfLife', 'RadionuclideHalfLife (0018,1075)', 'halfLifeS', 'problem'],
    ['RadiopharmaceuticalStartDateTime', 'RadiopharmaceuticalStartDateTime (0018,1078)', 'injectionDateTime', 'problem'],
    ['RadiopharmaceuticalStartTime', 'RadiopharmaceuticalStartTime (0018,1072)', 'injectionDateTime', 'problem'],
    ['SeriesDate', 'SeriesDate (0008,0021)', 'scanDateTime', 'problem'],
    ['SeriesTime', 'SeriesTime (0008,0031)', 'scanDateTime', 'problem'],
    ['PatientSize', 'PatientSize (0010,1020)', 'heightCm', 'warning'],
    ['PatientSex', 'PatientSex (0010,0040)', 'sex', 'warning'],
  ]
  for (const [key, label, param, level] of checks) {
    if (param && overridden.has(param)) continue
    const values = new Set<string>()
    for (const t of tags) values.add(JSON.stringify(t[key] ?? null))
    if (values.size <= 1) continue
    const shown = [...values].slice(0, 3).join(', ') + (values.size > 3 ? ', …' : '')
    const text = `The instances disagree on ${label} (${shown}): they do not look like one series`
    ;(level === 'problem' ? problems : warnings).push(level === 'warning' ? `${text}; the first is used` : text)
  }
  return { problems, warnings }
}

/**
 * The SUV parameters of a series: the header's (from the first instance, after checking the others agree),
 * with `overrides` from the user replacing them one by one.
 */
export function resolveSuvParameters(tags: PetSuvTags[], overrides: Partial<SuvParameters> = {}): ResolvedSuvParameters {
  const t0 = tags[0] ?? {}
  const problems: string[] = []
  const warnings: string[] = []

  const header: SuvParameters = {}
  if (t0.PatientWeight !== undefined) header.weightKg = t0.PatientWeight
  // Rounded to the micrometre so that 1.63 m shows as 163 cm, not 163.00000000000003.
  if (t0.PatientSize !== undefined) header.heightCm = Math.round(t0.PatientSize * 1e8) / 1e6
  if (t0.PatientSex === 'M' || t0.PatientSex === 'F') header.sex = t0.PatientSex
  if (t0.RadionuclideTotalDose !== undefined) header.injectedDoseBq = t0.RadionuclideTotalDose
  if (t0.RadionuclideHalfLife !== undefined) header.halfLifeS = t0.RadionuclideHalfLife
  let unknownDecayCorrection: string | undefined
  if (t0.DecayCorrection !== undefined) {
    if (DECAY_MODES.includes(t0.DecayCorrection)) header.decayCorrection = t0.DecayCorrection as DecayCorrectionMode
    else unknownDecayCorrection = t0.DecayCorrection
  }

  // Overrides: keep only those given; check their types (they come from a form).
  const given: SuvParameters = {}
  const overridden: SuvParameterKey[] = []
  let injectionOverrideS: number | undefined
  let scanOverrideS: number | undefined
  for (const key of KEYS) {
    const v = overrides[key]
    if (v === undefined || v === null) continue
    switch (key) {
      case 'weightKg':
      case 'heightCm':
      case 'injectedDoseBq':
      case 'halfLifeS':
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          problems.push(`The ${key} entered (${String(v)}) is not a number`)
          continue
        }
        given[key] = v
        break
      case 'sex':
        if (v !== 'M' && v !== 'F') {
          problems.push(`The sex entered (${String(v)}) is not M or F`)
          continue
        }
        given.sex = v
        break
      case 'decayCorrection':
        if (typeof v !== 'string' || !DECAY_MODES.includes(v)) {
          problems.push(`The decay correction entered (${String(v)}) is not START, ADMIN or NONE`)
          continue
        }
        given.decayCorrection = v as DecayCorrectionMode
        break
      case 'injectionDateTime':
      case 'scanDateTime': {
        const s = typeof v === 'string' ? parseIsoLocalDateTime(v) : undefined
        if (s === undefined) {
          problems.push(
            `The ${key === 'injectionDateTime' ? 'injection' : 'scan'} time entered ("${String(v)}") is not a local ` +
              'date-time YYYY-MM-DDTHH:MM[:SS] (no time zone: the scanner clock)',
          )
          continue
        }
        given[key] = v as string
        if (key === 'injectionDateTime') injectionOverrideS = s
        else scanOverrideS = s
        break
      }
    }
    overridden.push(key)
  }

  const parameters: SuvParameters = { ...header, ...given }
  const consistency = disagreements(tags, new Set(overridden))
  problems.push(...consistency.problems)
  warnings.push(...consistency.warnings)

  // The header's START reference (decayReference.ts), then the header's injection, which may need it.
  let scanReference: ScanReference | undefined
  let scanProblem: string | undefined
  if (parameters.decayCorrection === 'START' && tags.length > 0) {
    const ref = startDecayReference(tags, parameters.halfLifeS)
    if (ref.ok) {
      scanReference = ref.value
      header.scanDateTime = formatIsoLocal(ref.value.seconds)
      if (!given.scanDateTime) parameters.scanDateTime = header.scanDateTime
    } else {
      scanProblem = ref.problem
    }
  }
  const seriesS = t0.SeriesDate && t0.SeriesTime ? parseDicomDateAndTime(t0.SeriesDate, t0.SeriesTime) : undefined
  const injection = headerInjection(t0, scanReference?.seconds ?? seriesS)
  if (injection.seconds !== undefined) {
    header.injectionDateTime = formatIsoLocal(injection.seconds)
    if (!given.injectionDateTime) parameters.injectionDateTime = header.injectionDateTime
  }
  if (injectionOverrideS === undefined) warnings.push(...injection.warnings)

  const out: ResolvedSuvParameters = { parameters, fromHeader: header, overridden, problems, warnings }
  if (injection.seconds !== undefined) out.headerInjectionS = injection.seconds
  const injectionS = injectionOverrideS ?? injection.seconds
  if (injectionS !== undefined) out.injectionS = injectionS
  if (injection.problem && injectionOverrideS === undefined) out.injectionProblem = injection.problem
  if (scanReference) out.headerScanS = scanReference.seconds
  const scanS = scanOverrideS ?? scanReference?.seconds
  if (scanS !== undefined) out.scanS = scanS
  if (scanReference) out.scanReference = scanReference
  if (scanProblem && scanOverrideS === undefined) out.scanProblem = scanProblem
  if (unknownDecayCorrection !== undefined && !given.decayCorrection) out.unknownDecayCorrection = unknownDecayCorrection
  return out
}

/** The effective parameters alone (header values with `overrides` applied), e.g. to fill a form. */
export function suvParametersFromTags(tags: PetSuvTags[], overrides: Partial<SuvParameters> = {}): SuvParameters {
  return resolveSuvParameters(tags, overrides).parameters
}
