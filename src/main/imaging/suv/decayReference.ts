import { formatDuration, formatIsoLocal, parseDicomDateAndTime, parseDicomDateTime, type NaiveSeconds } from './dicomTime'
import type { PetSuvTags } from './suvTags'

/**
 * The time the activity of the images refers to, which the injected dose is decayed to.
 *
 * DecayCorrection (0054,1102) START means the vendor decay-corrected every frame to the acquisition start:
 * one reference time for the whole series (method.md: "the published data decays to the acquisition
 * (series) start"). Which header time that is follows calculate-suv (the QIBA SUV pseudo-code):
 *   1. SeriesDate/Time when it is not after the earliest AcquisitionDate/Time of the instances;
 *   2. otherwise the series was re-saved after the scan: the GE private scan start (0009,100D) if present,
 *   3. else the earliest AcquisitionDate/Time.
 * What calculate-suv lacks is the Siemens step of that pseudo-code (commented out in 1.1.0, with a wrong
 * average-count-time formula): in case 3 on Siemens data, the reference can be back-computed from every
 * frame as AcquisitionDateTime − FrameReferenceTime + the average-count time within the frame, which does
 * not depend on the first bed being among the instances given. We use it only where it differs from
 * calculate-suv's answer by more than 1 ms and the frames agree with each other; on calculate-suv's own
 * Siemens sample (BQML_AC_DT_lessThan_S_DT_SIEMENS) it differs by 2e-13 s, so its answer stands there.
 */

export type ScanReferenceRule = 'seriesStart' | 'earliestAcquisition' | 'gePrivateScanStart' | 'siemensFrameTiming'

export interface ScanReference {
  seconds: NaiveSeconds
  rule: ScanReferenceRule
  /** In words, for SuvResult.method: "the series start (SeriesTime)". */
  description: string
  /** Whether calculate-suv picks this same time (so its factors can be used as a cross-check). */
  sameAsCalculateSuv: boolean
  notes: string[]
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: string }

/** A Siemens reference and calculate-suv's may differ by this much before the Siemens one is used. */
const SIEMENS_AGREEMENT_S = 1e-3
/** Frames of one START series must agree on the back-computed reference within this. */
const SIEMENS_FRAME_SPREAD_S = 1

/**
 * Seconds from the start of a frame of `durationS` to its average-count-rate time, for a nuclide of
 * `halfLifeS`: t such that decaying the frame-start activity by t gives the frame's mean activity,
 * (1/λ) ln(λT / (1 − e^(−λT))). Slightly less than T/2 (59.94 s of a 120 s F-18 frame).
 */
export function averageCountTimeInFrameS(durationS: number, halfLifeS: number): number {
  const lambda = Math.LN2 / halfLifeS
  const x = lambda * durationS
  if (x < 1e-9) return durationS / 2
  return Math.log(x / -Math.expm1(-x)) / lambda
}

const isSiemens = (manufacturer: string | undefined): boolean => !!manufacturer && /siemens|\bcps\b/i.test(manufacturer)

function seriesStart(t: PetSuvTags): Outcome<NaiveSeconds> {
  const s = t.SeriesDate && t.SeriesTime ? parseDicomDateAndTime(t.SeriesDate, t.SeriesTime) : undefined
  if (s !== undefined) return { ok: true, value: s }
  if (!t.SeriesDate || !t.SeriesTime) {
    const missing = [!t.SeriesDate && 'SeriesDate (0008,0021)', !t.SeriesTime && 'SeriesTime (0008,0031)'].filter(Boolean)
    return { ok: false, problem: `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing` }
  }
  return { ok: false, problem: `SeriesDate/SeriesTime "${t.SeriesDate} ${t.SeriesTime}" is not a valid date and time` }
}

/** Each instance's AcquisitionDate/Time (the date defaults to SeriesDate, as the time alone is common). */
export function acquisitionStarts(tags: PetSuvTags[]): (NaiveSeconds | undefined)[] {
  return tags.map((t) => {
    const date = t.AcquisitionDate ?? t.SeriesDate
    return date && t.AcquisitionTime ? parseDicomDateAndTime(date, t.AcquisitionTime) : undefined
  })
}

/** The reference time of a DecayCorrection START series (see the file comment). */
export function startDecayReference(tags: PetSuvTags[], halfLifeS: number | undefined): Outcome<ScanReference> {
  const t0 = tags[0]
  const series = seriesStart(t0)
  if (!series.ok) return series
  const acquisitions = acquisitionStarts(tags)
  const known = acquisitions.filter((s): s is number => s !== undefined)
  const at = (s: number): string => formatIsoLocal(s)

  if (known.length === 0) {
    return {
      ok: true,
      value: {
        seconds: series.value,
        rule: 'seriesStart',
        description: 'the series start (SeriesTime)',
        sameAsCalculateSuv: false,
        notes: ['AcquisitionTime (0008,0032) is missing or invalid on every instance: the series start is used'],
      },
    }
  }
  const notes: string[] = []
  if (known.length < tags.length) {
    notes.push(`AcquisitionTime (0008,0032) is missing or invalid on ${tags.length - known.length} of ${tags.length} instances`)
  }
  const earliest = Math.min(...known)
  if (series.value <= earliest) {
    return {
      ok: true,
      value: { seconds: series.value, rule: 'seriesStart', description: 'the series start (SeriesTime)', sameAsCalculateSuv: true, notes },
    }
  }

  const reSaved = `SeriesTime ${at(series.value)} is after the first AcquisitionTime ${at(earliest)} (series re-saved after the scan)`
  const ge = t0.GEPrivatePostInjectionDateTime ? parseDicomDateTime(t0.GEPrivatePostInjectionDateTime) : undefined
  if (ge) {
    notes.push(reSaved)
    return {
      ok: true,
      value: {
        seconds: ge.seconds,
        rule: 'gePrivateScanStart',
        description: 'the GE private scan start (0009,100D)',
        sameAsCalculateSuv: true,
        notes,
      },
    }
  }

  const earliestRef: ScanReference = {
    seconds: earliest,
    rule: 'earliestAcquisition',
    description: 'the earliest acquisition start (AcquisitionTime; SeriesTime is later)',
    sameAsCalculateSuv: true,
    notes: [...notes, reSaved],
  }
  if (!isSiemens(t0.Manufacturer)) return { ok: true, value: earliestRef }

  // Siemens: back-compute the reference from every frame's own timing.
  const frameTimingValid =
    halfLifeS !== undefined && halfLifeS > 0 &&
    tags.every((t, i) => acquisitions[i] !== undefined && (t.FrameReferenceTime ?? 0) > 0 && (t.ActualFrameDuration ?? 0) > 0)
  if (!frameTimingValid) {
    earliestRef.notes.push('Siemens frame timing (FrameReferenceTime, ActualFrameDuration) is incomplete: not used to refine it')
    return { ok: true, value: earliestRef }
  }
  const refs = tags.map(
    (t, i) =>
      (acquisitions[i] as number) - (t.FrameReferenceTime as number) / 1000 +
      averageCountTimeInFrameS((t.ActualFrameDuration as number) / 1000, halfLifeS as number),
  )
  const spread = Math.max(...refs) - Math.min(...refs)
  const ref = refs.reduce((a, b) => a + b, 0) / refs.length
  if (spread > SIEMENS_FRAME_SPREAD_S) {
    earliestRef.notes.push(
      `Siemens frame timing gives reference times ${formatDuration(spread)} apart across frames: not used`,
    )
    return { ok: true, value: earliestRef }
  }
  if (ref > earliest + SIEMENS_FRAME_SPREAD_S) {
    earliestRef.notes.push(`Siemens frame timing gives a reference after the first frame started (${at(ref)}): not used`)
    return { ok: true, value: earliestRef }
  }
  if (Math.abs(ref - earliest) <= SIEMENS_AGREEMENT_S) {
    earliestRef.notes.push('Siemens frame timing (FrameReferenceTime) confirms this reference')
    return { ok: true, value: earliestRef }
  }
  return {
    ok: true,
    value: {
      seconds: ref,
      rule: 'siemensFrameTiming',
      description: 'the acquisition start back-computed from Siemens frame timing (AcquisitionTime − FrameReferenceTime + average-count time)',
      sameAsCalculateSuv: false,
      notes: [
        ...notes,
        reSaved,
        `Siemens frame timing puts the decay reference at ${at(ref)}, ${formatDuration(earliest - ref)} before the ` +
          `earliest AcquisitionTime of the instances given (calculate-suv's choice)`,
      ],
    },
  }
}

/**
 * DecayCorrection NONE: each frame holds the activity as measured, so each is decayed to its own time: the
 * frame's average-count time (start + averageCountTimeInFrameS), the single time at which decaying the
 * dose gives exactly the frame's mean activity. Without ActualFrameDuration, the frame start.
 */
export function frameReferenceTimes(tags: PetSuvTags[], halfLifeS: number): Outcome<{ seconds: NaiveSeconds[]; notes: string[] }> {
  const starts = acquisitionStarts(tags)
  const missing = starts.findIndex((s) => s === undefined)
  if (missing >= 0) {
    return {
      ok: false,
      problem: `AcquisitionDate/AcquisitionTime (0008,0022/0032) is missing or invalid on instance ${missing + 1}: ` +
        'needed for DecayCorrection NONE (each frame is decayed to its own time)',
    }
  }
  const notes: string[] = []
  let withoutDuration = 0
  const seconds = tags.map((t, i) => {
    const d = t.ActualFrameDuration
    if (d === undefined || d <= 0) {
      withoutDuration++
      return starts[i] as number
    }
    return (starts[i] as number) + averageCountTimeInFrameS(d / 1000, halfLifeS)
  })
  if (withoutDuration > 0) {
    notes.push(`ActualFrameDuration (0018,1242) is missing on ${withoutDuration} instances: those are decayed to the frame start`)
  }
  return { ok: true, value: { seconds, notes } }
}
