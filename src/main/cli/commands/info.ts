import { stat } from 'node:fs/promises'
import type { VolumeGeometry } from '../../../shared/geometry'
import { readNiftiFile } from '../../io/nifti/readNifti'
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
    let result: { study?: { name: string; layout: string; tracer: string }; images: ImageSummary[] }
    if (s.isDirectory() || /_000[01]\.nii(\.gz)?$/i.test(path)) {
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

async function summarise(file: string, role?: ImageSummary['role']): Promise<ImageSummary> {
  const image = await readNiftiFile(file)
  const range = valueRange(image.voxels)
  const guessed = role ?? guessRole(file, range)
  const g = image.geometry
  return {
    file,
    role,
    modality: guessed === 'CT' ? 'CT' : guessed === 'PET' ? 'PT' : guessed === 'mask' ? 'SEG' : 'unknown',
    units: guessed === 'CT' ? 'HU' : guessed === 'PET' ? 'SUVbw (as stored)' : guessed === 'mask' ? 'label' : 'unknown',
    dims: [...g.dims],
    spacingMm: g.spacingMm.map((v) => round(v, 6)),
    originLps: g.originLps.map((v) => round(v, 4)),
    directionLps: g.directionLps.map((v) => round(v, 6)),
    orientation: orientationCode(g),
    voxelType: image.voxels.constructor.name.replace('Array', '').toLowerCase(),
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

function formatText(result: { study?: { name: string; layout: string; tracer: string }; images: ImageSummary[] }): string {
  const lines: string[] = []
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
