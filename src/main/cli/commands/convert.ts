import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { InputError } from '../../io/InputError'
import { pickPetAndCt, readDicomImageSeries, scanDicom } from '../../io/dicom'
import type { DicomImageSeries } from '../../io/dicom/dicomTypes'
import { readDicomSegFile } from '../../io/dicom/seg/readSeg'
import { readRtstructFile } from '../../io/dicom/rtstruct/readRtstruct'
import { readImageFile, writeImageFile } from '../../io/readImage'
import { computePetSuv } from '../../study/petSuv'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'

const IMAGE = /\.(nii|nii\.gz|mha|mhd|nrrd|nhdr)$/i

export const convertCommand: Command = {
  name: 'convert',
  summary: 'Convert DICOM/MHA/NRRD/NIfTI images to NIfTI/MHA, and DICOM SEG/RTSTRUCT to a label map on the PET grid',
  usage: [
    'lesionlab convert <image> <out.nii.gz|out.mha|out.nrrd>',
    '       lesionlab convert <dicom-folder> <out> [--series pet|ct|UID]   (PET written as SUVbw)',
    '       lesionlab convert <seg-or-rtstruct.dcm> <out> [--ref <pet-dicom-folder>] [--roi NAME]',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, ['series', 'ref', 'roi'])
    rejectUnknown(args, [], this.usage)
    if (args.positionals.length !== 2) throw new UsageError(`Usage: ${this.usage}`)
    const [input, output] = args.positionals
    if (!IMAGE.test(output)) throw new UsageError(`${output}: the output must end in .nii, .nii.gz, .mha or .nrrd`)
    const s = await stat(input).catch(() => null)
    if (!s) throw new InputError(input, 'no such file or folder')

    if (s.isFile() && IMAGE.test(input)) {
      const image = await readImageFile(input)
      await writeImageFile(output, image.geometry, image.voxels, { protectedPaths: [input] })
      report(output, image.geometry.dims, image.warnings)
      return 0
    }

    const { studies } = await scanDicom([input])
    const all = studies.flatMap((st) => st.series)
    const segLike = all.find((se) => (se.modality === 'SEG' || se.modality === 'RTSTRUCT') && (s.isFile() ? se.files.includes(resolve(input)) : true))
    if (s.isFile() && segLike) {
      const refFolder = args.options.get('ref') ?? dirname(dirname(input))
      const pet = await readReference(refFolder)
      const target = { geometry: pet.geometry, frameOfReferenceUid: pet.summary.frameOfReferenceUid }
      const roiNames = args.options.has('roi') ? [args.options.get('roi')!] : undefined
      const labels = segLike.modality === 'SEG' ? (await readDicomSegFile(input, target)).labels : (await readRtstructFile(input, { ...target, roiNames })).labels
      await writeImageFile(output, pet.geometry, labels, { protectedPaths: [input] })
      report(output, pet.geometry.dims, [])
      return 0
    }

    const which = args.options.get('series') ?? 'pet'
    const series =
      which === 'pet' ? studies.map((st) => pickPetAndCt(st).pet).find(Boolean)
      : which === 'ct' ? studies.map((st) => pickPetAndCt(st).ct).find(Boolean)
      : all.find((se) => se.seriesInstanceUid === which)
    if (!series) throw new InputError(input, `no ${which === 'pet' || which === 'ct' ? which.toUpperCase() : `series ${which}`} DICOM image series found`)
    const image = await readDicomImageSeries(series)
    if (series.modality === 'PT') {
      const suv = computePetSuv(image, {})
      if (!suv.summary.public.ok) {
        throw new InputError(input, `cannot convert the PET to SUV: ${suv.summary.public.problems.join('; ')} (lesionlab suv ${input} --weight KG --dose MBQ shows and fixes this)`)
      }
      await writeImageFile(output, image.geometry, suv.voxels, { protectedPaths: series.files })
    } else {
      await writeImageFile(output, image.geometry, image.voxels, { protectedPaths: series.files })
    }
    report(output, image.geometry.dims, image.warnings)
    return 0
  },
}

async function readReference(folder: string): Promise<DicomImageSeries> {
  const { studies } = await scanDicom([folder])
  const pet = studies.map((st) => pickPetAndCt(st).pet).find(Boolean)
  if (!pet) throw new InputError(folder, 'no PET series to place the segmentation on; give one with --ref <pet-dicom-folder>')
  return readDicomImageSeries(pet)
}

function report(output: string, dims: number[], warnings: string[]): void {
  for (const w of warnings) console.error(`warning: ${w}`)
  console.log(`wrote ${output} (${dims.join(' x ')})`)
}
