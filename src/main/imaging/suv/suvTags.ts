import type { InstanceMetadata } from '@cornerstonejs/calculate-suv'
import type { NaturalizedDataset } from '../../io/dicom/dicomTypes'

/** A coded concept of a code sequence item. */
export interface CodedConcept {
  CodeValue?: string
  CodingSchemeDesignator?: string
  CodeMeaning?: string
}

/**
 * The SUV-relevant header values of one PET instance (slice).
 *
 * The first group has exactly the names and meaning of @cornerstonejs/calculate-suv's `InstanceMetadata`
 * (so one can be turned into the other), but every field is optional: real headers lack some, and saying
 * which one is missing is our job, not a TypeError's. The second group is what calculate-suv ignores.
 */
export interface PetSuvTags {
  // --- calculate-suv's InstanceMetadata ---
  /** (0028,0051) e.g. ['DECY', 'ATTN', ...]; dcmjs gives a bare string for one value, we always an array. */
  CorrectedImage?: string[]
  /** (0054,1001) BQML | CNTS | GML | ... (upper-cased, trimmed). */
  Units?: string
  /** (0018,1075) seconds, in RadiopharmaceuticalInformationSequence. */
  RadionuclideHalfLife?: number
  /** (0018,1074) Bq, in RadiopharmaceuticalInformationSequence. */
  RadionuclideTotalDose?: number
  /** (0054,1102) START | ADMIN | NONE (upper-cased, trimmed). */
  DecayCorrection?: string
  /** (0010,1030) kg. */
  PatientWeight?: number
  SeriesDate?: string
  SeriesTime?: string
  AcquisitionDate?: string
  AcquisitionTime?: string
  /** (0018,1072) TM, no date: the retired way. */
  RadiopharmaceuticalStartTime?: string
  /** (0018,1078) DT. */
  RadiopharmaceuticalStartDateTime?: string
  /** Philips private (7053,1000) SUV scale factor and (7053,1009) activity concentration scale factor. */
  PhilipsPETPrivateGroup?: { SUVScaleFactor?: number; ActivityConcentrationScaleFactor?: number }
  /** GE private (0009,100D) of "GEMS_PETD_01": the scan start DT (calculate-suv's name for it). */
  GEPrivatePostInjectionDateTime?: string
  /** (0054,1300) ms. */
  FrameReferenceTime?: number
  /** (0018,1242) ms. */
  ActualFrameDuration?: number
  /** (0010,1020) m. */
  PatientSize?: number
  /** (0010,0040) M | F | O (upper-cased, trimmed). */
  PatientSex?: string

  // --- what calculate-suv ignores ---
  /** (0054,1321) the decay factor the vendor applied to this frame. */
  DecayFactor?: number
  /** (0054,1006) BW | BSA | LBM | IBW: which SUV Units GML means. */
  SUVType?: string
  /** (0008,0070) */
  Manufacturer?: string
  /** (0018,0031) free-text radiopharmaceutical name. */
  Radiopharmaceutical?: string
  /** (0054,0304) RadiopharmaceuticalCodeSequence, first item. */
  RadiopharmaceuticalCode?: CodedConcept
  /** (0054,0300) RadionuclideCodeSequence, first item. */
  RadionuclideCode?: CodedConcept
  /** Items in RadiopharmaceuticalInformationSequence (only the first is used; >1 means several tracers). */
  RadiopharmaceuticalItemCount?: number
  SeriesInstanceUID?: string
  SOPInstanceUID?: string
}

// ----- value coercion: dcmjs gives numbers or strings, bare values or arrays, and raw bytes for private tags

const ascii = new TextDecoder('latin1')

function bytesOf(v: unknown): Uint8Array | undefined {
  if (v instanceof ArrayBuffer) return new Uint8Array(v)
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
  return undefined
}

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v
}

/** A trimmed string (NULs and padding removed), or undefined when absent or empty. */
function str(v: unknown): string | undefined {
  v = first(v)
  const bytes = bytesOf(v)
  if (bytes) v = ascii.decode(bytes)
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v !== 'string') return undefined
  // A multi-valued string that was not split: keep the first value.
  const s = v.split('\\')[0].replace(/\0/g, '').trim()
  return s === '' ? undefined : s
}

/** A finite number from a number, a DS/IS string or (for UN private tags) ASCII bytes; else undefined. */
function num(v: unknown): number | undefined {
  v = first(v)
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  const s = str(v)
  if (s === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined
  return Number(s)
}

function strList(v: unknown): string[] | undefined {
  const values = Array.isArray(v) ? v : typeof v === 'string' ? v.split('\\') : [v]
  const out = values.map(str).filter((s): s is string => s !== undefined).map((s) => s.toUpperCase())
  return out.length ? out : undefined
}

function upper(v: unknown): string | undefined {
  return str(v)?.toUpperCase()
}

/** Items of a naturalized sequence (an array of objects; tolerate a lone object). */
function items(v: unknown): NaturalizedDataset[] {
  if (Array.isArray(v)) return v.filter((x): x is NaturalizedDataset => !!x && typeof x === 'object' && !bytesOf(x))
  return v && typeof v === 'object' && !bytesOf(v) ? [v as NaturalizedDataset] : []
}

function code(v: unknown): CodedConcept | undefined {
  const item = items(v)[0]
  if (!item) return undefined
  const c = withoutUndefined<CodedConcept>({
    CodeValue: str(item.CodeValue),
    CodingSchemeDesignator: str(item.CodingSchemeDesignator),
    CodeMeaning: str(item.CodeMeaning),
  })
  return c.CodeValue || c.CodeMeaning ? c : undefined
}

/**
 * A private element, e.g. group 7053 element 1000. dcmjs cannot name private tags, so a naturalized
 * dataset keeps them under their hex tag: "70531000" (dcmjs writes upper-case hex; calculate-suv's own
 * reader looked for "0009100d"), or "(7053,1000)" in other tools. The element's block (10xx) belongs to the
 * private creator in (gggg,0010); when that creator is present and is not the expected one, the element
 * means something else and is ignored.
 */
function privateElement(h: NaturalizedDataset, group: string, element: string, creator: RegExp): unknown {
  const creatorTag = `${group}00${element.slice(0, 2)}`
  const who = str(lookup(h, creatorTag))
  if (who !== undefined && !creator.test(who)) return undefined
  return lookup(h, group + element)
}

function lookup(h: NaturalizedDataset, tag8: string): unknown {
  const up = tag8.toUpperCase()
  const low = tag8.toLowerCase()
  for (const key of [up, low, `(${up.slice(0, 4)},${up.slice(4)})`, `(${low.slice(0, 4)},${low.slice(4)})`]) {
    if (h[key] !== undefined && h[key] !== null) return h[key]
  }
  return undefined
}

function withoutUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k]
  return o
}

/** One instance's header (a dcmjs naturalized dataset) to its SUV tags. */
export function petSuvTagsFromHeader(h: NaturalizedDataset): PetSuvTags {
  const rp = items(h.RadiopharmaceuticalInformationSequence)
  const rp0 = rp[0] ?? {}
  const suvScale = num(privateElement(h, '7053', '1000', /philips/i))
  const activityScale = num(privateElement(h, '7053', '1009', /philips/i))
  const philips =
    suvScale !== undefined || activityScale !== undefined
      ? withoutUndefined({ SUVScaleFactor: suvScale, ActivityConcentrationScaleFactor: activityScale })
      : undefined
  return withoutUndefined<PetSuvTags>({
    CorrectedImage: strList(h.CorrectedImage),
    Units: upper(h.Units),
    RadionuclideHalfLife: num(rp0.RadionuclideHalfLife),
    RadionuclideTotalDose: num(rp0.RadionuclideTotalDose),
    DecayCorrection: upper(h.DecayCorrection),
    PatientWeight: num(h.PatientWeight),
    SeriesDate: str(h.SeriesDate),
    SeriesTime: str(h.SeriesTime),
    AcquisitionDate: str(h.AcquisitionDate),
    AcquisitionTime: str(h.AcquisitionTime),
    RadiopharmaceuticalStartTime: str(rp0.RadiopharmaceuticalStartTime),
    RadiopharmaceuticalStartDateTime: str(rp0.RadiopharmaceuticalStartDateTime),
    PhilipsPETPrivateGroup: philips,
    GEPrivatePostInjectionDateTime: str(privateElement(h, '0009', '100D', /GEMS_PETD/i)),
    FrameReferenceTime: num(h.FrameReferenceTime),
    ActualFrameDuration: num(h.ActualFrameDuration),
    PatientSize: num(h.PatientSize),
    PatientSex: upper(h.PatientSex),
    DecayFactor: num(h.DecayFactor),
    SUVType: upper(h.SUVType),
    Manufacturer: str(h.Manufacturer),
    Radiopharmaceutical: str(rp0.Radiopharmaceutical),
    RadiopharmaceuticalCode: code(rp0.RadiopharmaceuticalCodeSequence),
    RadionuclideCode: code(rp0.RadionuclideCodeSequence),
    RadiopharmaceuticalItemCount: rp.length,
    SeriesInstanceUID: str(h.SeriesInstanceUID),
    SOPInstanceUID: str(h.SOPInstanceUID),
  })
}

/** Every instance's header (one per slice, in slice order) to SUV tags, in the same order. */
export function petSuvTagsFromHeaders(headers: NaturalizedDataset[]): PetSuvTags[] {
  return headers.map(petSuvTagsFromHeader)
}

/**
 * calculate-suv's own input format (e.g. its test metadata) to SUV tags, with the same coercions as for
 * headers (its JSON holds the Philips factors as strings like "0.000551").
 */
export function petSuvTagsFromInstanceMetadata(
  instances: readonly (Partial<InstanceMetadata> | Record<string, unknown>)[],
): PetSuvTags[] {
  return instances.map((raw) => {
    const m = raw as Record<string, unknown>
    const philips = (m.PhilipsPETPrivateGroup ?? {}) as Record<string, unknown>
    const suvScale = num(philips.SUVScaleFactor)
    const activityScale = num(philips.ActivityConcentrationScaleFactor)
    return withoutUndefined<PetSuvTags>({
      CorrectedImage: strList(m.CorrectedImage),
      Units: upper(m.Units),
      RadionuclideHalfLife: num(m.RadionuclideHalfLife),
      RadionuclideTotalDose: num(m.RadionuclideTotalDose),
      DecayCorrection: upper(m.DecayCorrection),
      PatientWeight: num(m.PatientWeight),
      SeriesDate: str(m.SeriesDate),
      SeriesTime: str(m.SeriesTime),
      AcquisitionDate: str(m.AcquisitionDate),
      AcquisitionTime: str(m.AcquisitionTime),
      RadiopharmaceuticalStartTime: str(m.RadiopharmaceuticalStartTime),
      RadiopharmaceuticalStartDateTime: str(m.RadiopharmaceuticalStartDateTime),
      PhilipsPETPrivateGroup:
        suvScale !== undefined || activityScale !== undefined
          ? withoutUndefined({ SUVScaleFactor: suvScale, ActivityConcentrationScaleFactor: activityScale })
          : undefined,
      GEPrivatePostInjectionDateTime: str(m.GEPrivatePostInjectionDateTime),
      FrameReferenceTime: num(m.FrameReferenceTime),
      ActualFrameDuration: num(m.ActualFrameDuration),
      PatientSize: num(m.PatientSize),
      PatientSex: upper(m.PatientSex),
      // Not calculate-suv's, but accepted when a caller adds them.
      Manufacturer: str(m.Manufacturer),
      SUVType: upper(m.SUVType),
      DecayFactor: num(m.DecayFactor),
    })
  })
}
