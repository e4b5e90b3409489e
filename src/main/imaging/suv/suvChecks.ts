import { formatDuration } from './dicomTime'
import { SUV_PARAMETER_SOURCES, type SuvParameterKey, type SuvParameters } from './suvParameters'

/**
 * What counts as absurd. Beyond these an SUV is not computed (never a silent fallback): the user corrects
 * the value instead. The dose floor is ours: a dose written in MBq (e.g. 370) passes "> 0" and would make
 * every SUV a million times too high.
 */
export const SUV_LIMITS = {
  weightKg: { above: 0, atMost: 500 },
  injectedDoseBq: { above: 0, atMost: 5e10, plausibleFrom: 1e6 },
  halfLifeS: { above: 0 },
  decayTimeS: { from: 0, atMost: 24 * 3600 },
  heightCm: { above: 30, atMost: 300 },
} as const

const NAMES: Record<SuvParameterKey, string> = {
  weightKg: 'weight',
  heightCm: 'height',
  sex: 'sex',
  injectedDoseBq: 'injected dose',
  injectionDateTime: 'injection time',
  halfLifeS: 'half-life',
  scanDateTime: 'scan time',
  decayCorrection: 'decay correction',
}

const UNITS: Partial<Record<SuvParameterKey, string>> = { weightKg: 'kg', heightCm: 'cm', injectedDoseBq: 'Bq', halfLifeS: 's' }

function shown(key: SuvParameterKey, value: number): string {
  return `${value} ${UNITS[key] ?? ''}`.trim()
}

/** Missing or out-of-range numeric parameter, in words naming the tag; undefined when fine. */
export function numericProblem(
  key: 'weightKg' | 'injectedDoseBq' | 'halfLifeS',
  p: SuvParameters,
  overridden: readonly SuvParameterKey[],
): string | undefined {
  const v = p[key]
  if (v === undefined) return `${SUV_PARAMETER_SOURCES[key]} is missing: enter the ${NAMES[key]}`
  const limits: { above: number; atMost?: number; plausibleFrom?: number } = SUV_LIMITS[key]
  const who = overridden.includes(key) ? `The ${NAMES[key]} entered (${shown(key, v)})` : `${SUV_PARAMETER_SOURCES[key]} is ${shown(key, v)}`
  if (!(v > limits.above) || (limits.atMost !== undefined && v > limits.atMost)) {
    const range = limits.atMost !== undefined ? `above ${limits.above} and at most ${shown(key, limits.atMost)}` : `above ${limits.above}`
    return `${who}: it must be ${range}`
  }
  if (limits.plausibleFrom !== undefined && v < limits.plausibleFrom) {
    return `${who}: implausibly small for a PET injection (under 1 MBq); was it written in MBq?`
  }
  return undefined
}

/** A decay time outside [0, 24 h]: the injection is after the scan, or a date is wrong. */
export function decayTimeProblem(decayS: number, scanWhat: string): string | undefined {
  if (decayS < SUV_LIMITS.decayTimeS.from) {
    return `The injection is after ${scanWhat} (negative decay time, ${formatDuration(decayS)}): check the injection time`
  }
  if (decayS > SUV_LIMITS.decayTimeS.atMost) {
    return `The decay time from injection to ${scanWhat} is ${formatDuration(decayS)}, over 24 h: check the injection date`
  }
  return undefined
}

/** Height outside what a person can be: SUL and SUVbsa are then not computed (SUVbw is unaffected). */
export function heightProblem(p: SuvParameters, overridden: readonly SuvParameterKey[]): string | undefined {
  const h = p.heightCm
  if (h === undefined) return 'PatientSize (0010,1020) is missing'
  if (h > SUV_LIMITS.heightCm.above && h <= SUV_LIMITS.heightCm.atMost) return undefined
  if (overridden.includes('heightCm')) return `The height entered (${h} cm) is not a plausible height`
  const cmHint = h > SUV_LIMITS.heightCm.atMost ? ' (written in cm? PatientSize is in m)' : ''
  return `PatientSize (0010,1020) is ${h / 100} m: not a plausible height${cmHint}`
}
