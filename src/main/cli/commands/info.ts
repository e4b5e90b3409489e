import { stat } from 'node:fs/promises'
import type { VolumeGeometry } from '../../../shared/geometry'
import { readImageFile } from '../../io/readImage'
import { pickPetAndCt, readDicomImageSeries, scanDicom } from '../../io/dicom'
import { computePetSuv } from '../../study/petSuv'
import type { VoxelArray } from '../../../shared/volume'
import { InputError } from '../../io/InputError'
import { detectStudyFiles } from '../../study/studyLayout'
import { valueRange } from '../../study/volumeRecord'
import type { Command } from '../main'

interface ImageSummary {
  file: string
  role?: 'CT' | 'PET' | 'mask'
  modality: string
  units: string
  dims: number[]
  spacingMm: number[]
  originLps: number[]
  directionLps: number[]
  orientation: string
  voxelType: string
  valueRange: [number, number]
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'Describe an image or a study folder: size, spacing, origin, direction, modality, units',
  usage: 'lesionlab info <file-or-folder> [--json]',
  async run(args) {
    const json = args.includes('--json')
    const paths = args.filter((a) => !a.startsWith('--'))
    const unknown = args.filter((a) => a.startsWith('--') && a !== '--json')
    if (paths.length !== 1 || unknown.length > 0) {
      console.error(`Usage: ${this.usage}`)
      return 2
    }
    const path = paths[0]
    const s = await stat(path).catch(() => {
      throw new InputError(path, 'no such file or folder')
    })
    let result: { study?: { name: string; layout: string; tracer: string }; images: ImageSummary[]; dicom?: DicomInfo }
    const dicom = s.isDirectory() ? await detectStudyFiles(path).then(() => null, () => dicomInfo(path)) : null
    if (dicom) {
      result = { study: { name: dicom.name, layout: 'DICOM', tracer: dicom.tracer }, images: dicom.images, dicom: dicom.info }
    } else if (s.isDirectory() || /_000[01]\.nii(\.gz)?$/i.test(path)) {
      const files = await detectStudyFiles(path)
      const roles: [string | undefined, ImageSummary['role']][] = [
        [files.ctPath, 'CT'],
        [files.petPath, 'PET'],
        [files.maskPath, 'mask'],
      ]
      const images: ImageSummary[] = []
      for (const [file, role] of roles) if (file) images.push(await summarise(file, role))
      result = { study: { name: files.name, layout: files.layout, tracer: files.tracer }, images }
    } else {
      result = { images: [await summarise(path)] }
    }
    if (json) console.log(JSON.stringify(result, null, 2))
    else console.log(formatText(result))
    return 0
  },
}

interface DicomInfo {
  studies: { studyInstanceUid: string; patientId?: string; studyDate?: string; series: { seriesInstanceUid: string; modality: string; description: string; date?: string; slices: number }[] }[]
  skippedFiles: number
}

/** A DICOM folder: every study and series, and the geometry of the PET and CT LesionLab would show. */
async function dicomInfo(path: string): Promise<{ name: string; tracer: string; images: ImageSummary[]; info: DicomInfo } | null> {
  const { studies, skipped } = await scanDicom([path])
  if (studies.length === 0) return null
  const images: ImageSummary[] = []
  let tracer = 'unknown'
  const picked = pickPetAndCt(studies.find((st) => st.series.some((se) => se.modality === 'PT')) ?? studies[0])
  for (const [series, role] of [[picked.ct, 'CT'], [picked.pet, 'PET']] as const) {
    if (!series) continue
    const image = await readDicomImageSeries(series)
    let units = series.modality === 'CT' ? 'HU' : 'stored'
    if (role === 'PET') {
      const suv = computePetSuv(image, {})
      tracer = suv.summary.tracerKind
      units = `${suv.summary.public.storedUnits}${suv.summary.public.ok ? ' (SUVbw factor known)' : ' (SUV incomplete: see lesionlab suv)'}`
    }
    images.push(describe(`${series.seriesDescription || series.seriesInstanceUid} (${series.files.length} files)`, image.geometry, image.voxels, role, units))
  }
  return {
    name: studies[0].patientName || studies[0].patientId || path,
    tracer,
    images,
    info: {
      studies: studies.map((st) => ({
        studyInstanceUid: st.studyInstanceUid,
        patientId: st.patientId,
        studyDate: st.studyDate,
        series: st.series.map((se) => ({ seriesInstanceUid: se.seriesInstanceUid, modality: se.modality, description: se.seriesDescription, date: se.seriesDate, slices: se.frameCount })),
      })),
      skippedFiles: skipped.length,
    },
  }
}

async function summarise(file: string, role?: ImageSummary['role']): Promise<ImageSummary> {
  const image = await readImageFile(file)
  const range = valueRange(image.voxels)
  const guessed = role ?? guessRole(file, range)
  return describe(file, image.geometry, image.voxels, role, undefined, guessed, range)
}

function describe(
  file: string,
  g: VolumeGeometry,
  voxels: VoxelArray,
  role?: ImageSummary['role'],
  unitsKnown?: string,
  guessed: ImageSummary['role'] | undefined = role,
  range: [number, number] = valueRange(voxels),
): ImageSummary {
  return {
    file,
    role,
    modality: guessed === 'CT' ? 'CT' : guessed === 'PET' ? 'PT' : guessed === 'mask' ? 'SEG' : 'unknown',
    units: unitsKnown ?? (guessed === 'CT' ? 'HU' : guessed === 'PET' ? 'SUVbw (as stored)' : guessed === 'mask' ? 'label' : 'unknown'),
    dims: [...g.dims],
    spacingMm: g.spacingMm.map((v) => round(v, 6)),
    originLps: g.originLps.map((v) => round(v, 4)),
    directionLps: g.directionLps.map((v) => round(v, 6)),
    orientation: orientationCode(g),
    voxelType: voxels.constructor.name.replace('Array', '').toLowerCase(),
    valueRange: range,
  }
}

/** NIfTI carries no modality: guess from the name, then from the values (and say it is a guess). */
function guessRole(file: string, range: [number, number]): ImageSummary['role'] | undefined {
  const name = file.toLowerCase()
  if (/(seg|mask|label|gtv)[^/\\]*$/.test(name)) return 'mask'
  if (/(suv|pet|_0001)[^/\\]*$/.test(name)) return 'PET'
  if (/(ct|_0000)[^/\\]*$/.test(name)) return 'CT'
  if (range[0] <= -500) return 'CT'
  return undefined
}

/** The patient direction each voxel axis points to most, e.g. "LPS" or "RAS" (ITK's convention). */
export function orientationCode(g: VolumeGeometry): string {
  const letters = [['L', 'R'], ['P', 'A'], ['S', 'I']]
  let code = ''
  for (let axis = 0; axis < 3; axis++) {
    const v = [g.directionLps[3 * axis], g.directionLps[3 * axis + 1], g.directionLps[3 * axis + 2]]
    const main = [0, 1, 2].reduce((best, i) => (Math.abs(v[i]) > Math.abs(v[best]) ? i : best), 0)
    code += letters[main][v[main] >= 0 ? 0 : 1]
  }
  return code
}

function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f || 0
}

function formatText(result: { study?: { name: string; layout: string; tracer: string }; images: ImageSummary[]; dicom?: DicomInfo }): string {
  const lines: string[] = []
  for (const st of result.dicom?.studies ?? []) {
    lines.push(`DICOM study ${st.studyInstanceUid} (patient ${st.patientId ?? '?'}, ${st.studyDate ?? 'no date'})`)
    for (const se of st.series) lines.push(`  ${se.modality.padEnd(8)} ${String(se.slices).padStart(4)} slices  ${se.description}  ${se.seriesInstanceUid}`)
    lines.push('')
  }
  if (result.study) lines.push(`Study ${result.study.name} (${result.study.layout}), tracer ${result.study.tracer}`, '')
  for (const im of result.images) {
    lines.push(
      `${im.role ? `${im.role}: ` : ''}${im.file}`,
      `  modality     ${im.modality}${im.role ? '' : ' (guessed)'}, units ${im.units}`,
      `  dimensions   ${im.dims.join(' x ')} (${im.voxelType})`,
      `  spacing      ${im.spacingMm.join(' x ')} mm`,
      `  origin       ${im.originLps.join(', ')} mm (LPS)`,
      `  direction    ${[0, 1, 2].map((a) => `[${im.directionLps.slice(3 * a, 3 * a + 3).join(', ')}]`).join(' ')} (${im.orientation})`,
      `  values       ${im.valueRange[0]} .. ${im.valueRange[1]}`,
      '',
    )
  }
  return lines.join('\n').trimEnd()
}
