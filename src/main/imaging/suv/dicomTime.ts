/**
 * DICOM dates and times as numbers.
 *
 * PET timing tags (SeriesTime, AcquisitionTime, RadiopharmaceuticalStartTime, ...) are wall-clock times of
 * the scanner with no time zone. Only differences between them matter for decay, so they are handled as
 * "naive seconds": seconds since 1970-01-01 as if the wall clock were UTC. No DST or zone arithmetic can
 * creep in that way, and the numbers match what @cornerstonejs/calculate-suv computes from the same strings.
 */

/** Seconds since 1970-01-01T00:00:00 of a zone-less (scanner-local) date-time, counted as if it were UTC. */
export type NaiveSeconds = number

export const ONE_DAY_S = 86400

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

function dayStartS(year: number, month: number, day: number): NaiveSeconds | undefined {
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month))) return undefined
  return Date.UTC(year, month - 1, day) / 1000
}

function secondsOfDay(hh: number, mm: number, ss: number, fraction: string | undefined): number | undefined {
  // 60 is a legal DICOM second (leap second).
  if (!(hh >= 0 && hh <= 23 && mm >= 0 && mm <= 59 && ss >= 0 && ss <= 60)) return undefined
  return hh * 3600 + mm * 60 + ss + (fraction ? Number(`0.${fraction}`) : 0)
}

/** DA `YYYYMMDD` (also the old `YYYY.MM.DD` and ISO `YYYY-MM-DD`): the start of that day, or undefined. */
export function parseDicomDate(da: string): NaiveSeconds | undefined {
  const m = /^(\d{4})[.-]?(\d{2})[.-]?(\d{2})$/.exec(da.trim())
  return m ? dayStartS(+m[1], +m[2], +m[3]) : undefined
}

/** TM `HH[MM[SS[.F{1,6}]]]` (also the old `HH:MM:SS.frac`): seconds since midnight, or undefined. */
export function parseDicomTime(tm: string): number | undefined {
  const m = /^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6})\d*)?)?)?$/.exec(tm.trim())
  return m ? secondsOfDay(+m[1], +(m[2] ?? 0), +(m[3] ?? 0), m[4]) : undefined
}

/** A DA and a TM together. */
export function parseDicomDateAndTime(da: string, tm: string): NaiveSeconds | undefined {
  const day = parseDicomDate(da)
  const time = parseDicomTime(tm)
  return day === undefined || time === undefined ? undefined : day + time
}

/**
 * DT `YYYYMMDDHHMM[SS[.F{1,6}]][&ZZXX]`. A zone offset is returned apart, not applied: the other PET times
 * carry none, so applying it would shift this one against them.
 */
export function parseDicomDateTime(dt: string): { seconds: NaiveSeconds; zoneOffset?: string } | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.(\d{1,6})\d*)?([+-]\d{4})?$/.exec(dt.trim())
  if (!m) return undefined
  const day = dayStartS(+m[1], +m[2], +m[3])
  const time = secondsOfDay(+m[4], +m[5], +(m[6] ?? 0), m[7])
  if (day === undefined || time === undefined) return undefined
  return m[8] ? { seconds: day + time, zoneOffset: m[8] } : { seconds: day + time }
}

/**
 * ISO 8601 local date-time without a zone, as the user edits it: `YYYY-MM-DDTHH:MM[:SS[.fff…]]` (a space
 * instead of `T` is accepted). A zone suffix is refused: DICOM PET times are the scanner's wall clock.
 */
export function parseIsoLocalDateTime(iso: string): NaiveSeconds | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?$/.exec(iso.trim())
  if (!m) return undefined
  const day = dayStartS(+m[1], +m[2], +m[3])
  const time = secondsOfDay(+m[4], +m[5], +(m[6] ?? 0), m[7])
  return day === undefined || time === undefined ? undefined : day + time
}

function split(seconds: NaiveSeconds): { date: Date; micro: number } {
  let whole = Math.floor(seconds)
  let micro = Math.round((seconds - whole) * 1e6)
  if (micro === 1_000_000) {
    whole += 1
    micro = 0
  }
  return { date: new Date(whole * 1000), micro }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** `YYYY-MM-DDTHH:MM:SS[.ffffff]` (fraction only when not zero, to the microsecond, trailing zeros cut). */
export function formatIsoLocal(seconds: NaiveSeconds): string {
  const { date: d, micro } = split(seconds)
  const base =
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  return micro === 0 ? base : `${base}.${pad(micro, 6).replace(/0+$/, '')}`
}

/** DA `YYYYMMDD`, TM `HHMMSS.ffffff` and DT of naive seconds (what calculate-suv parses). */
export function formatDicom(seconds: NaiveSeconds): { da: string; tm: string; dt: string } {
  const { date: d, micro } = split(seconds)
  const da = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`
  const tm = `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}.${pad(micro, 6)}`
  return { da, tm, dt: da + tm }
}

/** A duration in words for messages: `1 h 5 min 3 s`, `-40 min 0 s`. */
export function formatDuration(seconds: number): string {
  const sign = seconds < 0 ? '-' : ''
  let s = Math.abs(seconds)
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const min = Math.floor(s / 60)
  s -= min * 60
  const sec = Math.abs(s - Math.round(s)) < 1e-3 ? String(Math.round(s)) : s.toFixed(3)
  if (h > 0) return `${sign}${h} h ${min} min ${sec} s`
  if (min > 0) return `${sign}${min} min ${sec} s`
  return `${sign}${sec} s`
}
