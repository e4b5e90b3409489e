import type { CodedConcept, PetSuvTags } from './suvTags'

/** The tracer families the segmentation models know (method.md: autoPET FDG and PSMA). */
export type TracerKind = 'FDG' | 'PSMA' | 'unknown'

export interface TracerInfo {
  /** Radiopharmaceutical (0018,0031), else the RadiopharmaceuticalCodeSequence meaning. */
  name?: string
  /** 'F-18', 'Ga-68', ... */
  radionuclide?: string
  /** The radionuclide's physical half-life (reference value, not the header's). */
  halfLifeS?: number
  kind: TracerKind
}

/**
 * Physical half-lives (s). F-18 and Ga-68 are the two PSMA/FDG nuclides of method.md (110 and 68 min); the
 * values are the ones scanners write into RadionuclideHalfLife (F-18 6586.2 s = 109.77 min, Ga-68 4062.6 s
 * = 67.71 min). The others are only for recognising a header's half-life.
 */
export const RADIONUCLIDE_HALF_LIFE_S: Readonly<Record<string, number>> = {
  'F-18': 6586.2,
  'Ga-68': 4062.6,
  'C-11': 1223.4,
  'Cu-64': 45720,
  'Zr-89': 282240,
}

/** Lower-case with the superscript carets, spaces, hyphens, brackets removed: "^18^Fluorine" → "18fluorine". */
const squash = (s: string): string => s.toLowerCase().replace(/[\s^\-_()[\]{}]/g, '')

// Matched on lower-case text with the superscript carets removed ("^18^Fluorine" → "18fluorine",
// "[68Ga]Ga-PSMA-11", "18F-FDG"); a mass-number form must start at a word boundary, so that "HBED-CC-11"
// is not C-11; an element name may stand anywhere ("18fluorine").
const NUCLIDE_PATTERNS: [string, RegExp][] = [
  ['F-18', /(^|[^a-z0-9])(18[-\s]?f(?![a-z])|f[-\s]?18)|fluorine/],
  ['Ga-68', /(^|[^a-z0-9])(68[-\s]?ga(?![a-z])|ga[-\s]?68)|gallium/],
  ['C-11', /(^|[^a-z0-9])(11[-\s]?c(?![a-z])|c[-\s]?11)|carbon/],
  ['Cu-64', /(^|[^a-z0-9])(64[-\s]?cu(?![a-z])|cu[-\s]?64)|copper/],
  ['Zr-89', /(^|[^a-z0-9])(89[-\s]?zr(?![a-z])|zr[-\s]?89)|zirconium/],
]

/** SRT code of ^18^Fluorine in CID 4020 (the one code seen on every vendor's F-18 header). */
const F18_CODES = new Set(['C-111A1'])
/** SRT code of Fluorodeoxyglucose F^18^ in CID 4021. */
const FDG_CODES = new Set(['C-B1031'])

const FDG_PATTERN = /fdg|fluorodeoxyglucose|fluorodesoxyglucose|fludeoxyglucose|deoxyglucose/
// PSMA-11 (gozetotide, Illuccix, Locametz, HBED-CC), PSMA-1007, rhPSMA-7.3 (flotufolastat, Posluma),
// DCFPyL (piflufolastat, Pylarify): all contain "psma" or one of these names.
const PSMA_PATTERN = /psma|piflufolastat|dcfpyl|pylarify|gozetotide|illuccix|locametz|flotufolastat|posluma|hbedcc/

function nuclideFrom(text: string | undefined): string | undefined {
  if (!text) return undefined
  const s = text.toLowerCase().replace(/\^/g, '')
  return NUCLIDE_PATTERNS.find(([, re]) => re.test(s))?.[0]
}

function texts(...c: (CodedConcept | string | undefined)[]): string[] {
  return c.flatMap((x) => (typeof x === 'string' ? [x] : x ? [x.CodeMeaning ?? '', x.CodeValue ?? ''] : []))
}

/**
 * The tracer from the radiopharmaceutical name and codes, and the radionuclide from RadionuclideCodeSequence
 * (then the radiopharmaceutical name, e.g. "Ga-68 PSMA-11"). `headerHalfLifeS` is used only when nothing
 * names the radionuclide, and says so in `notes`.
 */
export function identifyTracer(tags: PetSuvTags, headerHalfLifeS?: number): TracerInfo & { notes: string[] } {
  const notes: string[] = []
  const name = tags.Radiopharmaceutical ?? tags.RadiopharmaceuticalCode?.CodeMeaning

  let radionuclide: string | undefined
  const rc = tags.RadionuclideCode
  if (rc?.CodeValue && F18_CODES.has(rc.CodeValue.toUpperCase())) radionuclide = 'F-18'
  radionuclide ??= nuclideFrom(rc?.CodeMeaning)
  radionuclide ??= nuclideFrom(tags.Radiopharmaceutical) ?? nuclideFrom(tags.RadiopharmaceuticalCode?.CodeMeaning)
  if (!radionuclide && headerHalfLifeS !== undefined && headerHalfLifeS > 0) {
    const match = Object.entries(RADIONUCLIDE_HALF_LIFE_S).find(([, t]) => Math.abs(headerHalfLifeS / t - 1) < 0.01)
    if (match) {
      radionuclide = match[0]
      notes.push(`No radionuclide code or name: ${match[0]} assumed from RadionuclideHalfLife ${headerHalfLifeS} s`)
    }
  }

  const words = texts(tags.Radiopharmaceutical, tags.RadiopharmaceuticalCode).map(squash)
  const fdg =
    words.some((w) => FDG_PATTERN.test(w)) ||
    (!!tags.RadiopharmaceuticalCode?.CodeValue && FDG_CODES.has(tags.RadiopharmaceuticalCode.CodeValue.toUpperCase()))
  const psma = words.some((w) => PSMA_PATTERN.test(w))
  let kind: TracerKind = 'unknown'
  if (fdg && psma) notes.push(`The radiopharmaceutical "${name}" reads as both FDG and PSMA: tracer left unknown`)
  else if (fdg) kind = 'FDG'
  else if (psma) kind = 'PSMA'
  if (fdg && radionuclide && radionuclide !== 'F-18') {
    notes.push(`FDG is an F-18 tracer, but the radionuclide reads ${radionuclide}`)
  }

  const halfLifeS = radionuclide ? RADIONUCLIDE_HALF_LIFE_S[radionuclide] : undefined
  if (halfLifeS && headerHalfLifeS !== undefined && Math.abs(headerHalfLifeS / halfLifeS - 1) > 0.02) {
    notes.push(
      `RadionuclideHalfLife (0018,1075) is ${headerHalfLifeS} s, but ${radionuclide} has ${halfLifeS} s: ` +
        'check the radionuclide or the half-life',
    )
  }
  const info: TracerInfo & { notes: string[] } = { kind, notes }
  if (name !== undefined) info.name = name
  if (radionuclide !== undefined) info.radionuclide = radionuclide
  if (halfLifeS !== undefined) info.halfLifeS = halfLifeS
  return info
}
