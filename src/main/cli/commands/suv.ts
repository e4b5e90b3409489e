import { InputError } from '../../io/InputError'
import { pickPetAndCt, readDicomImageSeries, scanDicom } from '../../io/dicom'
import { computePetSuv } from '../../study/petSuv'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'

export const suvCommand: Command = {
  name: 'suv',
  summary: 'The SUVbw factor of a DICOM PET series, the method, and every tag value used',
  usage: 'lesionlab suv <pet-dicom-folder> [--series UID] [--weight KG] [--dose MBQ] [--json]',
  async run(argv) {
    const args = parseArgs(argv, ['series', 'weight', 'dose'])
    rejectUnknown(args, ['json'], this.usage)
    if (args.positionals.length !== 1) throw new UsageError(`Usage: ${this.usage}`)
    const folder = args.positionals[0]
    const { studies } = await scanDicom([folder])
    const series = studies.flatMap((s) => s.series).filter((s) => s.modality === 'PT')
    const chosen = args.options.has('series')
      ? series.find((s) => s.seriesInstanceUid === args.options.get('series'))
      : studies.map((s) => pickPetAndCt(s).pet).find(Boolean)
    if (!chosen) throw new InputError(folder, args.options.has('series') ? `no PET series ${args.options.get('series')} here` : 'no DICOM PET series found')
    const pet = await readDicomImageSeries(chosen)
    const overrides = {
      ...(args.options.has('weight') ? { weightKg: Number(args.options.get('weight')) } : {}),
      ...(args.options.has('dose') ? { injectedDoseBq: Number(args.options.get('dose')) * 1e6 } : {}),
    }
    const suv = computePetSuv(pet, overrides)
    const s = suv.summary.public
    const factors = suv.sliceFactors
    const constant = factors.every((f) => f === factors[0] || (Number.isNaN(f) && Number.isNaN(factors[0])))
    const result = {
      series: { seriesInstanceUid: chosen.seriesInstanceUid, description: chosen.seriesDescription, slices: factors.length },
      ok: s.ok,
      suvbw: s.ok ? (constant ? factors[0] : null) : null,
      suvbwPerSlice: constant ? undefined : factors,
      method: s.method,
      storedUnits: s.storedUnits,
      decayCorrection: s.decayCorrection,
      decayTimeS: s.decayTimeS,
      parameters: s.parameters,
      overrides: s.overrides,
      radiopharmaceutical: s.radiopharmaceutical,
      radionuclide: s.radionuclide,
      tracer: suv.summary.tracerKind,
      tagsUsed: suv.summary.tagsUsed,
      problems: s.problems,
    }
    if (args.flags.has('json')) {
      console.log(JSON.stringify(result, null, 2))
    } else {
      console.log(`${chosen.seriesDescription || chosen.seriesInstanceUid}: ${s.ok ? `SUVbw = stored value × ${constant ? factors[0] : `${s.factorRange?.join(' .. ')} (varies per slice)`}` : 'SUV cannot be computed'}`)
      console.log(`  method       ${s.method}`)
      console.log(`  tracer       ${suv.summary.tracerKind}${s.radionuclide ? ` (${s.radionuclide})` : ''}`)
      for (const [k, v] of Object.entries(suv.summary.tagsUsed)) console.log(`  ${k.padEnd(12)} ${String(v)}`)
      for (const p of s.problems) console.log(`  problem      ${p}`)
    }
    return s.ok ? 0 : 1
  },
}
