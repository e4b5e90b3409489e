import { stat } from 'node:fs/promises'
import type { VolumeGeometry } from '../../../shared/geometry'
import { InputError } from '../../io/InputError'
import { pickPetAndCt, readDicomImageSeries, scanDicom } from '../../io/dicom'
import { readImageFile, writeImageFile } from '../../io/readImage'
import { CT_OUTSIDE_HU } from '../../study/StudySession'
import { computePetSuv } from '../../study/petSuv'
import { workerPool } from '../../workers/WorkerPool'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'
import { findModelSet } from '../findModelSet'

const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const

export const segmentCommand: Command = {
  name: 'segment',
  summary: 'Segment lesions with a model set (the seed ensemble): CT + PET in, a mask on the PET grid out',
  usage:
    'lesionlab segment --ct CT --pet PET --models DIR|ID --out MASK.nii.gz|.mha [--device auto|cpu|cuda|webgpu] [--threads N] [--overlap 0.5] [--window 192] [--gaussian] [--skip-empty]',
  async run(argv) {
    const args = parseArgs(argv, ['ct', 'pet', 'models', 'out', 'device', 'threads', 'overlap', 'window'])
    rejectUnknown(args, ['gaussian', 'skip-empty', 'json'], this.usage)
    for (const required of ['ct', 'pet', 'models', 'out']) {
      if (!args.options.has(required)) throw new UsageError(`--${required} is needed\nUsage: ${this.usage}`)
    }
    const device = (args.options.get('device') ?? 'auto') as (typeof DEVICES)[number]
    if (!DEVICES.includes(device)) throw new UsageError(`--device ${device}: one of ${DEVICES.join(', ')}`)
    const threads = args.options.has('threads') ? Number(args.options.get('threads')) : undefined
    if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError('--threads needs a positive whole number')
    const overlap = args.options.has('overlap') ? Number(args.options.get('overlap')) : undefined
    if (overlap !== undefined && !(overlap >= 0 && overlap < 1)) throw new UsageError('--overlap is between 0 and 1')
    const windowSize = args.options.has('window') ? Number(args.options.get('window')) : undefined
    if (windowSize !== undefined && !(Number.isInteger(windowSize) && windowSize >= 16 && windowSize % 16 === 0)) throw new UsageError('--window is a multiple of 16 (192 in the published method)')

    const set = await findModelSet(args.options.get('models')!)
    const [ct, pet] = await Promise.all([loadVolume(args.options.get('ct')!, 'CT'), loadVolume(args.options.get('pet')!, 'PET')])
    const started = performance.now()
    const ctOnPetGrid = await workerPool.run('resampleTrilinear', { source: ct, target: pet.geometry, outsideValue: CT_OUTSIDE_HU })
    let last = ''
    const outcome = await workerPool.run(
      'segment',
      {
        ctOnPetGrid: { geometry: pet.geometry, voxels: ctOnPetGrid },
        pet: { geometry: pet.geometry, voxels: pet.voxels as Float32Array },
        modelSet: { dir: set.dir, manifest: set.manifest! },
        device,
        threads,
        overlap,
        windowSize,
        blending: args.flags.has('gaussian') ? 'gaussian' : undefined,
        skipEmptyWindows: args.flags.has('skip-empty'),
      },
      {
        onProgress: (fraction, message) => {
          const line = `${(fraction * 100).toFixed(0).padStart(3)}%  ${message ?? ''}`
          if (line !== last) process.stderr.write(`\r${line.padEnd(60)}`)
          last = line
        },
      },
    )
    process.stderr.write('\n')
    const out = args.options.get('out')!
    await writeImageFile(out, pet.geometry, outcome.mask, { protectedPaths: [...ct.files, ...pet.files], description: `LesionLab ${set.manifest!.name} ${set.manifest!.version}` })
    let voxels = 0
    for (let i = 0; i < outcome.mask.length; i++) voxels += outcome.mask[i]
    const seconds = (performance.now() - started) / 1000
    const summary = { out, lesionVoxels: voxels, provider: outcome.provider, providerNote: outcome.providerNote, seconds, timings: outcome.timings, windowsPerFold: outcome.windowsPerFold, modelSet: set.id }
    if (args.flags.has('json')) console.log(JSON.stringify(summary, null, 2))
    else console.log(`wrote ${out}: ${voxels} lesion voxels, ${seconds.toFixed(1)} s on ${outcome.provider}${outcome.providerNote ? ` (${outcome.providerNote})` : ''}`)
    return 0
  },
}

/** A CT (HU) or PET (SUVbw) from an image file, or from a DICOM folder (PET converted to SUV exactly). */
async function loadVolume(path: string, role: 'CT' | 'PET'): Promise<{ geometry: VolumeGeometry; voxels: Float32Array | Int16Array | Uint8Array | Int8Array | Uint16Array | Int32Array; files: string[] }> {
  const s = await stat(path).catch(() => null)
  if (!s) throw new InputError(path, 'no such file or folder')
  if (s.isFile()) {
    const image = await readImageFile(path)
    for (const w of image.warnings) console.error(`warning: ${w}`)
    return { geometry: image.geometry, voxels: role === 'PET' && !(image.voxels instanceof Float32Array) ? Float32Array.from(image.voxels) : image.voxels, files: [path] }
  }
  const { studies } = await scanDicom([path])
  const series = studies.map((st) => (role === 'PET' ? pickPetAndCt(st).pet : pickPetAndCt(st).ct)).find(Boolean)
  if (!series) throw new InputError(path, `no DICOM ${role} series found`)
  const image = await readDicomImageSeries(series)
  for (const w of image.warnings) console.error(`warning: ${w}`)
  if (role === 'CT') return { geometry: image.geometry, voxels: image.voxels, files: series.files }
  const suv = computePetSuv(image, {})
  if (!suv.summary.public.ok) throw new InputError(path, `the PET cannot be converted to SUV: ${suv.summary.public.problems.join('; ')}`)
  return { geometry: image.geometry, voxels: suv.voxels, files: series.files }
}
