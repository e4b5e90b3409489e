import { readdir, realpath, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { DicomDataDict } from 'dcmjs'
import { forEachConcurrently } from './concurrency'
import { errorText, readDicomHeader, TAG, tagNumber, tagText, tagTexts } from './dicomFile'
import type { DicomSeriesSummary, DicomStudySummary } from './dicomTypes'

export interface ScanOptions {
  onProgress?(done: number, total: number): void
  signal?: AbortSignal
}

export interface ScanResult {
  studies: DicomStudySummary[]
  /** Files that are not DICOM, or not readable, with the reason; never thrown. */
  skipped: { path: string; reason: string }[]
}

/** Files read at once: overlaps disk latency with dcmjs's (synchronous) parsing. */
const READ_CONCURRENCY = 8
const DICOMDIR_SOP_CLASS = '1.2.840.10008.1.3.10'

/**
 * Facts the summary type has no field for, kept beside each summary the scan makes (a WeakMap, so the
 * contract stays as it is): pickPetAndCt uses CorrectedImage to tell attenuation-corrected PET.
 */
const seriesExtras = new WeakMap<DicomSeriesSummary, { correctedImage: string[] }>()

/**
 * Index DICOM files and folders (recursively) into studies and series, reading headers only.
 * Non-DICOM and unreadable files land in `skipped`; only an abort (signal) throws.
 */
export async function scanDicom(paths: string[], options: ScanOptions = {}): Promise<ScanResult> {
  const { signal, onProgress } = options
  const skipped: ScanResult['skipped'] = []
  const files = await listFiles(paths, skipped, signal)
  const headers = new Array<{ path: string; dict: DicomDataDict } | undefined>(files.length)
  let done = 0
  onProgress?.(0, files.length)
  await forEachConcurrently(files.length, READ_CONCURRENCY, async (index) => {
    signal?.throwIfAborted()
    const path = files[index]
    const read = await readDicomHeader(path)
    if (read.ok) headers[index] = { path, dict: read.dict }
    else skipped.push({ path, reason: read.reason })
    onProgress?.(++done, files.length)
  })
  signal?.throwIfAborted()
  const studies = groupIntoStudies(
    headers.filter((h): h is { path: string; dict: DicomDataDict } => h !== undefined),
    skipped,
  )
  skipped.sort((a, b) => compareNatural(a.path, b.path))
  return { studies, skipped }
}

/** Every file under the given paths (folders recursively), absolute, each once, in natural order. */
async function listFiles(paths: string[], skipped: ScanResult['skipped'], signal?: AbortSignal): Promise<string[]> {
  const files = new Set<string>()
  const visitedDirs = new Set<string>()
  const walk = async (path: string): Promise<void> => {
    signal?.throwIfAborted()
    let info
    try {
      info = await stat(path)
    } catch (e) {
      skipped.push({ path, reason: `cannot read (${errorText(e)})` })
      return
    }
    if (info.isFile()) {
      files.add(path)
      return
    }
    if (!info.isDirectory()) {
      skipped.push({ path, reason: 'not a regular file or folder' })
      return
    }
    // Symbolic links may loop back to a parent: visit each real folder once.
    let real: string
    try {
      real = await realpath(path)
    } catch (e) {
      skipped.push({ path, reason: `cannot read the folder (${errorText(e)})` })
      return
    }
    if (visitedDirs.has(real)) return
    visitedDirs.add(real)
    let entries: string[]
    try {
      entries = await readdir(path)
    } catch (e) {
      skipped.push({ path, reason: `cannot read the folder (${errorText(e)})` })
      return
    }
    entries.sort(compareNatural)
    for (const name of entries) await walk(join(path, name))
  }
  for (const p of paths) await walk(resolve(p))
  return [...files].sort(compareNatural)
}

function groupIntoStudies(headers: { path: string; dict: DicomDataDict }[], skipped: ScanResult['skipped']): DicomStudySummary[] {
  const studies = new Map<string, DicomStudySummary>()
  const seriesByUid = new Map<string, DicomSeriesSummary>()
  const sopSeen = new Map<string, string>()
  for (const { path, dict } of headers) {
    const studyUid = tagText(dict, TAG.StudyInstanceUID)
    const seriesUid = tagText(dict, TAG.SeriesInstanceUID)
    const sopClass = tagText(dict, TAG.SOPClassUID)
    if (sopClass === DICOMDIR_SOP_CLASS) {
      skipped.push({ path, reason: 'a DICOMDIR (an index of other files), not an instance' })
      continue
    }
    if (!studyUid || !seriesUid) {
      // dcmjs stops without complaint at the end of a file cut between elements: say it may be that.
      skipped.push({ path, reason: 'DICOM header without a Study or Series Instance UID (the file may be truncated)' })
      continue
    }
    const sopUid = tagText(dict, TAG.SOPInstanceUID)
    if (sopUid) {
      const earlier = sopSeen.get(sopUid)
      if (earlier !== undefined) {
        skipped.push({ path, reason: `the same instance (SOP Instance UID ${sopUid}) as ${earlier}` })
        continue
      }
      sopSeen.set(sopUid, path)
    }
    let study = studies.get(studyUid)
    if (!study) {
      study = {
        studyInstanceUid: studyUid,
        patientId: optional(tagText(dict, TAG.PatientID)),
        patientName: optional(tagText(dict, TAG.PatientName)),
        studyDate: optional(tagText(dict, TAG.StudyDate)),
        studyDescription: optional(tagText(dict, TAG.StudyDescription)),
        series: [],
      }
      studies.set(studyUid, study)
    }
    // Series UIDs are globally unique; keying on the study too keeps a mislabelled copy apart.
    const seriesKey = `${studyUid}\\${seriesUid}`
    let series = seriesByUid.get(seriesKey)
    if (!series) {
      series = {
        studyInstanceUid: studyUid,
        seriesInstanceUid: seriesUid,
        frameOfReferenceUid: optional(tagText(dict, TAG.FrameOfReferenceUID)),
        modality: tagText(dict, TAG.Modality) || 'OT',
        seriesDescription: tagText(dict, TAG.SeriesDescription),
        seriesDate: optional(tagText(dict, TAG.SeriesDate)),
        seriesTime: optional(tagText(dict, TAG.SeriesTime)),
        seriesNumber: tagNumber(dict, TAG.SeriesNumber),
        patientId: optional(tagText(dict, TAG.PatientID)),
        patientName: optional(tagText(dict, TAG.PatientName)),
        instanceCount: 0,
        frameCount: 0,
        files: [],
      }
      seriesExtras.set(series, { correctedImage: tagTexts(dict, TAG.CorrectedImage).map((s) => s.toUpperCase()) })
      seriesByUid.set(seriesKey, series)
      study.series.push(series)
    }
    series.instanceCount++
    series.files.push(path)
    // Only instances with pixel data hold image frames (an RTSTRUCT or SR counts 0).
    if (dict[TAG.PixelData]) {
      const frames = tagNumber(dict, TAG.NumberOfFrames)
      series.frameCount += frames !== undefined && frames >= 1 ? Math.round(frames) : 1
    }
  }
  const out = [...studies.values()]
  for (const study of out) {
    study.series.sort(compareSeries)
    for (const s of study.series) s.files.sort(compareNatural)
  }
  out.sort((a, b) => (a.studyDate ?? '').localeCompare(b.studyDate ?? '') || a.studyInstanceUid.localeCompare(b.studyInstanceUid))
  return out
}

function compareSeries(a: DicomSeriesSummary, b: DicomSeriesSummary): number {
  const na = a.seriesNumber ?? Number.POSITIVE_INFINITY
  const nb = b.seriesNumber ?? Number.POSITIVE_INFINITY
  if (na !== nb) return na < nb ? -1 : 1
  return (
    a.modality.localeCompare(b.modality) ||
    a.seriesDescription.localeCompare(b.seriesDescription) ||
    a.seriesInstanceUid.localeCompare(b.seriesInstanceUid)
  )
}

const NON_AC_DESCRIPTION = /(^|[^a-z])(nac|noac|non[-_ ]?ac|no[-_ ]ac)([^a-z]|$)|uncorrected|not? (attenuation )?corrected/i

/**
 * The PET and CT series of a study to open together. PET: modality PT, attenuation-corrected first
 * (CorrectedImage holds ATTN; a description saying NAC/uncorrected ranks last), then most frames.
 * CT: modality CT, in the PET's frame of reference when one is, then most frames.
 */
export function pickPetAndCt(study: DicomStudySummary): { pet?: DicomSeriesSummary; ct?: DicomSeriesSummary } {
  const petRank = (s: DicomSeriesSummary): number => {
    const corrected = seriesExtras.get(s)?.correctedImage
    if (NON_AC_DESCRIPTION.test(s.seriesDescription)) return 0
    if (corrected && corrected.length > 0) return corrected.includes('ATTN') ? 2 : 0
    return 1
  }
  const pets = study.series.filter((s) => s.modality === 'PT' && s.frameCount > 0)
  const pet = best(pets, (a, b) => petRank(b) - petRank(a) || b.frameCount - a.frameCount)
  const sameFrame = (s: DicomSeriesSummary): number =>
    pet?.frameOfReferenceUid !== undefined && s.frameOfReferenceUid === pet.frameOfReferenceUid ? 1 : 0
  const cts = study.series.filter((s) => s.modality === 'CT' && s.frameCount > 0)
  const ct = best(cts, (a, b) => sameFrame(b) - sameFrame(a) || b.frameCount - a.frameCount)
  return { pet, ct }
}

/** The first element under `compare` (stable: ties keep the study's series order). */
function best<T>(items: T[], compare: (a: T, b: T) => number): T | undefined {
  let top: T | undefined
  for (const item of items) if (top === undefined || compare(item, top) < 0) top = item
  return top
}

function optional(s: string): string | undefined {
  return s === '' ? undefined : s
}

const collator = new Intl.Collator('en', { numeric: true })
/** "2.dcm" before "10.dcm": scanners number files without zero padding. */
function compareNatural(a: string, b: string): number {
  return collator.compare(a, b)
}
