/**
 * Body-size measures for SUV normalisations other than body weight. W in kg, H in cm.
 *
 * SUL = C × LBM[g] / decayed dose and SUVbsa = C × BSA[cm²] / decayed dose, so each is SUVbw times
 * LBM/W or BSA[cm²]/W[g]: computeSuv applies them as ratios to the SUVbw factor, which keeps them right
 * for every Units path (calculate-suv multiplies LBM by 1/decayed dose, which is wrong for Philips CNTS).
 */

export type Sex = 'M' | 'F'

/**
 * Lean body mass (kg), James (1976), as used for SUL by PERCIST (Wahl et al., J Nucl Med 2009;50:122S):
 * men 1.10 W − 128 (W/H)², women 1.07 W − 148 (W/H)².
 * calculate-suv 1.1.0 uses 120 instead of 128 for men (a typo against its own reference); we do not.
 * The formula peaks at BMI ≈ 43 (men) / 37 (women) and falls beyond (negative in extreme obesity), so
 * callers must check the result and prefer Janmahasatian there.
 */
export function leanBodyMassJamesKg(weightKg: number, heightCm: number, sex: Sex): number {
  const ratio = (weightKg / heightCm) ** 2
  return sex === 'M' ? 1.1 * weightKg - 128 * ratio : 1.07 * weightKg - 148 * ratio
}

/**
 * Lean body mass (kg), Janmahasatian et al., Clin Pharmacokinet 2005;44:1051 (recommended for SUL by
 * Tahari et al., J Nucl Med 2014;55:1481): men 9270 W / (6680 + 216 BMI), women 9270 W / (8780 + 244 BMI),
 * BMI = W / (H[m])².
 */
export function leanBodyMassJanmahasatianKg(weightKg: number, heightCm: number, sex: Sex): number {
  const bmi = bodyMassIndex(weightKg, heightCm)
  return sex === 'M' ? (9270 * weightKg) / (6680 + 216 * bmi) : (9270 * weightKg) / (8780 + 244 * bmi)
}

/** Body surface area (m²), Du Bois & Du Bois, Arch Intern Med 1916;17:863: 0.007184 W^0.425 H^0.725. */
export function bodySurfaceAreaDuBoisM2(weightKg: number, heightCm: number): number {
  return 0.007184 * weightKg ** 0.425 * heightCm ** 0.725
}

export function bodyMassIndex(weightKg: number, heightCm: number): number {
  return weightKg / (heightCm / 100) ** 2
}
