import { InputError } from '../../io/InputError'
import { addModelSetFromFiles } from '../../inference/modelSet/addModelSet'
import { listModelSetInfos } from '../../inference/modelSet/modelSetInfo'
import { parseArgs, rejectUnknown, UsageError } from '../args'

export const ADD_USAGE =
  'lesionlab model add --name NAME [--version V] [--tracers FDG,PSMA] [--webgpu] FOLD.pth|FOLD.safetensors|FOLD.onnx ...'
export const LIST_USAGE = 'lesionlab model list [--json]'

/** `model add`: a new model set in the user's model folder from fold checkpoints or ONNX files. */
export async function addModelSetCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['name', 'version', 'tracers', 'description'])
  rejectUnknown(args, ['webgpu', 'json'], ADD_USAGE)
  const name = args.options.get('name')
  if (!name) throw new UsageError(`--name is needed\nUsage: ${ADD_USAGE}`)
  if (args.positionals.length === 0) throw new UsageError(`give the fold files\nUsage: ${ADD_USAGE}`)
  const tracers = (args.options.get('tracers') ?? 'FDG,PSMA').split(',').map((t) => t.trim().toUpperCase())
  if (!tracers.every((t) => t === 'FDG' || t === 'PSMA')) throw new UsageError('--tracers takes FDG, PSMA or FDG,PSMA')
  const set = await addModelSetFromFiles(args.positionals, {
    name,
    version: args.options.get('version'),
    description: args.options.get('description'),
    tracers: tracers as ('FDG' | 'PSMA')[],
    webgpu: args.flags.has('webgpu'),
    onProgress: (m) => console.error(m),
  })
  if (set.problem) throw new InputError(set.dir, set.problem)
  if (args.flags.has('json')) console.log(JSON.stringify({ id: set.id, dir: set.dir, manifest: set.manifest }, null, 2))
  else console.log(`Added model set "${set.id}" (${set.manifest?.folds.length} graphs) in ${set.dir}`)
  return 0
}

/** `model list`: installed model sets, and how to add one when there is none. */
export async function listModelSetsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [])
  rejectUnknown(args, ['json'], LIST_USAGE)
  const listing = await listModelSetInfos()
  if (args.flags.has('json')) {
    console.log(JSON.stringify(listing, null, 2))
    return 0
  }
  if (listing.sets.length === 0) console.log(listing.howToAdd)
  for (const s of listing.sets) {
    console.log(`${s.id.padEnd(24)} ${s.problem ? `BROKEN: ${s.problem}` : `${s.name} ${s.version}, ${s.folds} graph(s), ${s.intendedUse}${s.intendedUse === 'demonstration' ? ' (not for clinical use)' : ''}`}  [${s.location}: ${s.dir}]`)
  }
  console.log(`\nYour model folder: ${listing.userDir}`)
  return 0
}
