/**
 * What the reader sees and can correct about the SUV conversion of a PET. The values used are shown
 * wherever SUV is shown and saved with the study.
 */
export interface SuvParameters {
  weightKg?: number
  heightCm?: number
  sex?: 'M' | 'F'
  /** Injected activity in Bq. */
  injectedDoseBq?: number
  /** Injection time, ISO 8601 local time as in the DICOM header (no zone). */
  injectionDateTime?: string
  /** Radionuclide half-life in seconds. */
  halfLifeS?: number
}

export interface SuvSummary {
  /** False when a needed value is missing or absurd: the PET is then shown in its stored units. */
  ok: boolean
  /** How the factor was found, e.g. "BQML, decayed from injection to series start". */
  method: string
  /** Values used (from the header, or the user's corrections where given). */
  parameters: SuvParameters
  /** The user's corrections, which win over the header. */
  overrides: SuvParameters
  /** Units of the stored PET values (BQML, CNTS, GML, ...). */
  storedUnits: string
  decayCorrection?: string
  /** Seconds from injection to the decay reference time. */
  decayTimeS?: number
  /** Range of the per-slice factors (stored value × factor = SUVbw). */
  factorRange?: [number, number]
  radionuclide?: string
  radiopharmaceutical?: string
  /** Missing or absurd values, each naming the DICOM tag. */
  problems: string[]
  /**
   * Lean-body-mass and body-surface scales, as ratios to SUVbw (SUL = SUVbw × ratio), when height and
   * sex are known: SUL by James and by Janmahasatian, SUV by Du Bois body surface area.
   */
  alternatives?: { sulJamesPerSuvbw?: number; sulJanmahasatianPerSuvbw?: number; suvBsaPerSuvbw?: number }
}

export const SUV_PARAMETER_LABELS: Record<keyof SuvParameters, string> = {
  weightKg: 'Weight (kg)',
  heightCm: 'Height (cm)',
  sex: 'Sex',
  injectedDoseBq: 'Injected dose (MBq)',
  injectionDateTime: 'Injection time',
  halfLifeS: 'Half-life (min)',
}
