import { stat } from 'node:fs/promises'
import { sameGrid, type VolumeGeometry } from '../../../shared/geometry'
import type { VoxelArray } from '../../../shared/volume'
import { writeFileAtomic } from '../../io/atomicWrite'
import { pickPetAndCt, readDicomImageSeries, scanDicom } from '../../io/dicom'
import { readDicomSegFile, type SegSegmentInfo } from '../../io/dicom/seg/readSeg'
import { InputError } from '../../io/InputError'
import { readImageFile } from '../../io/readImage'
import { labelComponents, lesionsFromSegments, type ComponentLabels, type Connectivity } from '../../metrics/connectedComponents'
import { num, toCsv } from '../../metrics/csv'
import { measureLesions, SUVPEAK_RULE, type LesionMeasureResult } from '../../metrics/lesionStats'
import { computePetSuv } from '../../study/petSuv'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'

const IMAGE_FILE = /\.(nii\.gz|nii|mha|mhd|nrrd|nhdr)$/i

export const statsCommand: Command = {
  name: 'stats',
  summary: 'Lesion and patient measures (MTV, SUVmax, SUVmean, SUVpeak, TLG; TMTV, Dmax) of a mask on a PET',
  usage:
    'lesionlab stats --pet PET --mask MASK [--json] [--csv FILE] [--connectivity 6|18|26] [--lesions auto|components|segments] [--sul-ratio R]\n' +
    '  PET: a NIfTI/MHA/NRRD image in SUV, or a DICOM folder (converted to SUVbw).\n' +
    '  MASK: an image on the PET grid, or a DICOM SEG (file or folder), placed on the PET grid.\n' +
    '  --lesions: components = connected components of the nonzero voxels; segments = one lesion per label value;\n' +
    '             auto (default) = segments when the mask holds more than one label value.\n' +
    '  --sul-ratio: SUL/SUVbw of the patient (adds SULpeak); taken from the DICOM header when it allows.',
  async run(argv) {
    const args = parseArgs(argv, ['pet', 'mask', 'csv', 'connectivity', 'lesions', 'sul-ratio'])
    rejectUnknown(args, ['json'], this.usage)
    const petPath = args.options.get('pet')
    const maskPath = args.options.get('mask')
    if (!petPath || !maskPath || args.positionals.length) throw new UsageError(`--pet and --mask are needed\nUsage: ${this.usage}`)
    const connectivity = Number(args.options.get('connectivity') ?? 18)
    if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) throw new UsageError('--connectivity must be 6, 18 or 26')
    const definition = args.options.get('lesions') ?? 'auto'
    if (!['auto', 'components', 'segments'].includes(definition)) throw new UsageError('--lesions must be auto, components or segments')
    const sulOption = args.options.get('sul-ratio')
    if (sulOption !== undefined && !(Number(sulOption) > 0)) throw new UsageError('--sul-ratio must be a positive number')

    const pet = await readPet(petPath)
    const mask = await readMask(maskPath, pet)
    const multiValued = hasSeveralValues(mask.voxels)
    const bySegment = definition === 'segments' || (definition === 'auto' && multiValued)
    const regions: ComponentLabels & { segmentValues?: Int32Array } = bySegment
      ? lesionsFromSegments(mask.voxels, pet.geometry.dims)
      : labelComponents(mask.voxels, pet.geometry.dims, connectivity as Connectivity)
    const sulPerSuvbw = sulOption !== undefined ? Number(sulOption) : pet.sulPerSuvbw
    const result = measureLesions(regions, pet.geometry, pet.voxels, { sulPerSuvbw })
    const lesionDefinition = bySegment
      ? 'one lesion per label value of the mask (segment), connected or not'
      : `${connectivity}-connected components of the nonzero mask voxels`
    const segmentOf = (id: number): { value: number; label?: string } | undefined => {
      if (!regions.segmentValues) return undefined
      const value = regions.segmentValues[id]
      return { value, label: mask.segments?.find((s) => s.number === value)?.label }
    }
    const report = {
      pet: { path: petPath, source: pet.source, dims: pet.geometry.dims, spacing_mm: pet.geometry.spacingMm, suv: pet.suvNote },
      mask: { path: maskPath, source: mask.source },
      lesion_definition: lesionDefinition,
      connectivity: bySegment ? null : connectivity,
      suv_peak_rule: SUVPEAK_RULE,
      sul_per_suvbw: num(sulPerSuvbw),
      sul_source: sulOption !== undefined ? 'option --sul-ratio' : sulPerSuvbw !== undefined ? 'DICOM header (lean body mass, Janmahasatian)' : null,
      lesions: result.lesions.map((l) => ({
        id: l.id,
        segment: segmentOf(l.id),
        voxels: l.voxelCount,
        mtv_ml: l.mtvMl,
        suv_max: num(l.suvMax),
        suv_max_voxel: l.suvMaxVoxel,
        suv_max_lps: l.suvMaxLps,
        suv_mean: num(l.suvMean),
        suv_peak: num(l.suvPeak),
        suv_peak_voxel: l.suvPeakVoxel,
        suv_peak_lps: l.suvPeakLps,
        sul_peak: l.sulPeak === undefined ? undefined : num(l.sulPeak),
        tlg: num(l.tlgMlSuv),
        box_min_voxel: l.boxMinVoxel,
        box_max_voxel: l.boxMaxVoxel,
        centroid_lps: l.centroidLps,
      })),
      patient: { tmtv_ml: result.patient.tmtvMl, tlg: num(result.patient.tlgMlSuv), lesion_count: result.patient.lesionCount, dmax_mm: result.patient.dmaxMm },
      units: { mtv_ml: 'ml', tlg: 'ml x SUVbw', positions: 'LPS mm', voxels: 'index (i, j, k), axis 0 fastest' },
      warnings: [...pet.warnings, ...mask.warnings],
    }
    const csvPath = args.options.get('csv')
    if (csvPath) await writeFileAtomic(csvPath, new TextEncoder().encode(csvText(result, report.lesion_definition, petPath, maskPath, sulPerSuvbw, segmentOf)))
    if (args.flags.has('json')) console.log(JSON.stringify(report, null, 2))
    else console.log(text(result, report.lesion_definition, report.warnings, csvPath, segmentOf))
    return 0
  },
}

interface PetInput {
  source: string
  geometry: VolumeGeometry
  voxels: ArrayLike<number>
  frameOfReferenceUid?: string
  sulPerSuvbw?: number
  suvNote?: Record<string, unknown>
  warnings: string[]
}

async function readPet(path: string): Promise<PetInput> {
  const s = await stat(path).catch(() => {
    throw new InputError(path, 'no such file or folder')
  })
  if (!s.isDirectory()) {
    const image = await readImageFile(path)
    const warnings = [...image.warnings]
    let max = -Infinity
    for (let i = 0; i < image.voxels.length; i++) if (image.voxels[i] > max) max = image.voxels[i]
    if (max > 500) warnings.push(`the PET's largest value is ${max.toFixed(0)}: it looks like Bq/ml rather than SUV (convert it first, e.g. from DICOM)`)
    return { source: 'image (values taken as SUVbw)', geometry: image.geometry, voxels: image.voxels, warnings }
  }
  const { studies } = await scanDicom([path])
  const series = studies.map((st) => pickPetAndCt(st).pet).find(Boolean)
  if (!series) throw new InputError(path, 'no DICOM PET series found')
  const image = await readDicomImageSeries(series)
  const suv = computePetSuv(image, {})
  if (!suv.summary.public.ok) {
    throw new InputError(path, `the PET cannot be converted to SUV (${suv.summary.public.problems.join('; ') || 'incomplete header'}); see "lesionlab suv"`)
  }
  const p = suv.summary.public
  return {
    source: `DICOM series ${series.seriesInstanceUid} (${series.seriesDescription}), converted to SUVbw`,
    geometry: image.geometry,
    voxels: suv.voxels,
    frameOfReferenceUid: series.frameOfReferenceUid,
    sulPerSuvbw: p.alternatives?.sulJanmahasatianPerSuvbw,
    suvNote: { method: p.method, stored_units: p.storedUnits, decay_correction: p.decayCorrection, factor_range: p.factorRange, parameters: p.parameters },
    warnings: [...image.warnings, ...suv.warnings],
  }
}

interface MaskInput {
  source: string
  voxels: VoxelArray
  segments?: SegSegmentInfo[]
  warnings: string[]
}

async function readMask(path: string, pet: PetInput): Promise<MaskInput> {
  const s = await stat(path).catch(() => {
    throw new InputError(path, 'no such file or folder')
  })
  if (!s.isDirectory() && IMAGE_FILE.test(path)) {
    const image = await readImageFile(path)
    if (!sameGrid(image.geometry, pet.geometry, 0.01)) {
      throw new InputError(path, `the mask's grid (${image.geometry.dims.join('x')}, ${image.geometry.spacingMm.map((v) => v.toFixed(3)).join(' x ')} mm) is not the PET's (${pet.geometry.dims.join('x')}, ${pet.geometry.spacingMm.map((v) => v.toFixed(3)).join(' x ')} mm)`)
    }
    return { source: 'image', voxels: image.voxels, warnings: image.warnings }
  }
  let segFile = path
  if (s.isDirectory()) {
    const { studies } = await scanDicom([path])
    const seg = studies.flatMap((st) => st.series).find((se) => se.modality === 'SEG')
    if (!seg) throw new InputError(path, 'no DICOM SEG found in the folder')
    segFile = seg.files[0]
  }
  const seg = await readDicomSegFile(segFile, { geometry: pet.geometry, frameOfReferenceUid: pet.frameOfReferenceUid })
  return { source: `DICOM SEG ${segFile} (${seg.segments.length} segments)`, voxels: seg.labels, segments: seg.segments, warnings: seg.warnings }
}

function hasSeveralValues(v: ArrayLike<number>): boolean {
  let first = 0
  for (let i = 0; i < v.length; i++) {
    const x = v[i]
    if (x === 0) continue
    if (first === 0) first = x
    else if (x !== first) return true
  }
  return false
}

function csvText(
  r: LesionMeasureResult,
  definition: string,
  petPath: string,
  maskPath: string,
  sul: number | undefined,
  segmentOf: (id: number) => { value: number; label?: string } | undefined,
): string {
  const header = ['lesion', 'segment_value', 'segment_label', 'voxels', 'mtv_ml', 'suv_max', 'suv_mean', 'suv_peak', 'sul_peak', 'tlg', 'suv_max_lps', 'suv_peak_lps', 'centroid_lps']
  const rows = r.lesions.map((l) => [
    l.id, segmentOf(l.id)?.value, segmentOf(l.id)?.label, l.voxelCount, l.mtvMl, l.suvMax, l.suvMean, l.suvPeak, l.sulPeak, l.tlgMlSuv,
    l.suvMaxLps.map((v) => v.toFixed(2)), l.suvPeakLps.map((v) => v.toFixed(2)), l.centroidLps.map((v) => v.toFixed(2)),
  ])
  const p = r.patient
  return toCsv(
    [
      `PET: ${petPath}; mask: ${maskPath}`,
      `lesions: ${definition}`,
      r.suvPeakRule,
      `SUL/SUVbw: ${sul ?? 'not known'}`,
      `patient: TMTV ${p.tmtvMl} ml; TLG ${p.tlgMlSuv} ml x SUV; ${p.lesionCount} lesions; Dmax ${p.dmaxMm} mm`,
    ],
    header,
    rows,
  )
}

function text(
  r: LesionMeasureResult,
  definition: string,
  warnings: string[],
  csvPath: string | undefined,
  segmentOf: (id: number) => { value: number; label?: string } | undefined,
): string {
  const f = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
  const lines = [`Lesions: ${definition}`, '', `${'lesion'.padEnd(24)} ${'MTV ml'.padStart(9)} ${'SUVmax'.padStart(8)} ${'SUVmean'.padStart(8)} ${'SUVpeak'.padStart(8)} ${'TLG'.padStart(10)}`]
  for (const l of r.lesions) {
    const seg = segmentOf(l.id)
    const name = seg ? `${l.id} (${seg.label ?? `segment ${seg.value}`})` : String(l.id)
    lines.push(`${name.slice(0, 24).padEnd(24)} ${f(l.mtvMl, 3).padStart(9)} ${f(l.suvMax).padStart(8)} ${f(l.suvMean).padStart(8)} ${f(l.suvPeak).padStart(8)} ${f(l.tlgMlSuv).padStart(10)}`)
  }
  const p = r.patient
  lines.push('', `Patient: TMTV ${f(p.tmtvMl, 3)} ml, TLG ${f(p.tlgMlSuv)} ml·SUV, ${p.lesionCount} lesions, Dmax ${f(p.dmaxMm, 1)} mm`, '', r.suvPeakRule)
  for (const w of warnings) lines.push(`warning: ${w}`)
  if (csvPath) lines.push(`CSV: ${csvPath}`)
  return lines.join('\n')
}
