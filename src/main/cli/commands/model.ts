import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { InputError } from '../../io/InputError'
import { writeFileAtomic } from '../../io/atomicWrite'
import { buildResUnetOnnx, DEFAULT_OPSET, RANDOM_INIT_MARK } from '../../inference/network/buildOnnx'
import { blockParameterCounts, describeResUnet, parameterCount, type LayerDescription } from '../../inference/network/layerDescription'
import { describeOnnxModel } from '../../inference/network/modelInfo'
import { resUnetConfig, type ResUnetConfig } from '../../inference/network/resUnetConfig'
import { validateWeights } from '../../inference/network/validateWeights'
import { parseArgs, rejectUnknown, UsageError, type ParsedArgs } from '../args'
import type { Command } from '../main'
import { ADD_USAGE, LIST_USAGE, addModelSetCommand, listModelSetsCommand } from './modelSets'

const BUILD_USAGE =
  'lesionlab model build --arch resunet-paper [--channels 32,64,128,256,512] [--res-units 2] [--norm batch|instance] ' +
  '[--convtranspose native|subpixel] [--opset 17] [--weights CKPT | --seed N] --out MODEL.onnx'
const INFO_USAGE = 'lesionlab model info (--arch resunet-paper [--channels ...] [--res-units N] [--norm batch|instance] | MODEL.onnx) [--json]'


export const modelCommand: Command = {
  name: 'model',
  summary: 'Build a ResUNet as ONNX (from a PyTorch checkpoint), describe one, add or list model sets',
  usage: `${BUILD_USAGE}\n       ${INFO_USAGE}\n       ${ADD_USAGE}\n       ${LIST_USAGE}`,
  async run(argv) {
    const [sub, ...rest] = argv
    if (sub === 'build') return build(rest)
    if (sub === 'info') return info(rest)
    if (sub === 'add') return addModelSetCommand(rest)
    if (sub === 'list') return listModelSetsCommand(rest)
    throw new UsageError(`${sub ? `unknown subcommand "${sub}"` : 'a subcommand is needed'}\nUsage: ${this.usage}`)
  },
}

const ARCH_OPTIONS = ['arch', 'channels', 'res-units', 'norm']

async function build(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [...ARCH_OPTIONS, 'convtranspose', 'weights', 'out', 'opset', 'seed'])
  rejectUnknown(args, [], BUILD_USAGE)
  if (args.positionals.length) throw new UsageError(`unexpected argument ${args.positionals[0]}\nUsage: ${BUILD_USAGE}`)
  const out = args.options.get('out')
  if (!out) throw new UsageError(`--out MODEL.onnx is needed\nUsage: ${BUILD_USAGE}`)
  const config = configFromArgs(args, BUILD_USAGE)
  const convTranspose = args.options.get('convtranspose') ?? 'native'
  if (convTranspose !== 'native' && convTranspose !== 'subpixel') throw new UsageError(`--convtranspose ${convTranspose}: native or subpixel`)
  const opset = args.options.has('opset') ? integerOption(args, 'opset') : DEFAULT_OPSET
  const weightsPath = args.options.get('weights')
  if (weightsPath && args.options.has('seed')) throw new UsageError('--seed is for random weights; it cannot go with --weights')
  const seed = args.options.has('seed') ? integerOption(args, 'seed') : 0
  const desc = describeResUnet(config)

  let weights: Map<string, Float32Array> | undefined
  if (weightsPath) {
    await stat(weightsPath).catch(() => {
      throw new InputError(weightsPath, 'no such file')
    })
    // The checkpoint reader (PyTorch .pt/.pth, .safetensors) is loaded only when needed.
    const { loadCheckpointFile } = await import('../../inference/checkpoint/loadCheckpoint')
    const loaded = await loadCheckpointFile(weightsPath)
    try {
      weights = validateWeights(desc, loaded)
    } catch (e) {
      throw new InputError(weightsPath, (e as Error).message)
    }
  } else {
    console.error(`lesionlab model build: no --weights, so the weights are random (seed ${seed}): ${RANDOM_INIT_MARK}`)
  }
  const { APP_VERSION } = await import('../../appVersion')
  // Provenance: the checkpoint's file name and SHA-256 (not its full path, which may name a user's folders).
  const metadata = weightsPath ? { weights_sha256: createHash('sha256').update(await readFile(weightsPath)).digest('hex') } : undefined
  const bytes = buildResUnetOnnx(desc, {
    weights,
    seed,
    opset,
    convTranspose,
    batchNormMode: 'inference',
    weightsSource: weightsPath ? basename(weightsPath) : undefined,
    producerVersion: APP_VERSION,
    metadata,
  })
  await writeFileAtomic(out, bytes)
  console.log(
    `${out}: ${(bytes.length / 1e6).toFixed(1)} MB, monai-resunet (${config.channels.join(',')}; ${config.numResUnits} res units; ${config.norm} norm), ` +
      `${parameterCount(desc).toLocaleString('en-US')} parameters, opset ${opset}, transposed convolutions ${convTranspose}, ` +
      `weights ${weightsPath ?? `random (seed ${seed}), NOT A TRAINED MODEL`}; spatial sizes must be multiples of ${desc.spatialMultiple}`,
  )
  return 0
}

async function info(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ARCH_OPTIONS)
  rejectUnknown(args, ['json'], INFO_USAGE)
  const json = args.flags.has('json')
  const hasArch = ARCH_OPTIONS.some((o) => args.options.has(o))
  if (hasArch === (args.positionals.length === 1) || args.positionals.length > 1) throw new UsageError(`give either --arch or one ONNX file\nUsage: ${INFO_USAGE}`)
  const result = hasArch ? architectureInfo(describeResUnet(configFromArgs(args, INFO_USAGE))) : await fileInfo(args.positionals[0])
  console.log(json ? JSON.stringify(result, null, 2) : formatInfo(result))
  return 0
}

interface ModelInfo {
  file?: string
  architecture: string
  config?: ResUnetConfig
  parameters: number
  buffers: number
  inputs: { name: string; shape: (number | string)[] }[]
  outputs: { name: string; shape: (number | string)[] }[]
  opset: number
  spatialMultiple?: number
  stateDictEntries?: number
  blocks?: { id: string; prefix: string; inChannels: number; outChannels: number; parameters: number }[]
  convTranspose?: string
  weights?: string
  nodeCount?: number
  opTypes?: Record<string, number>
  metadata?: Record<string, string>
}

function architectureInfo(desc: LayerDescription): ModelInfo {
  const dims = (c: number): (number | string)[] => ['N', c, 'D', 'H', 'W']
  return {
    architecture: 'monai-resunet',
    config: desc.config,
    parameters: parameterCount(desc),
    buffers: desc.tensors.filter((t) => !t.trainable && t.dtype === 'float32').reduce((n, t) => n + t.shape.reduce((a, d) => a * d, 1), 0),
    inputs: [{ name: desc.input.name, shape: dims(desc.input.channels) }],
    outputs: [{ name: desc.output.name, shape: dims(desc.output.channels) }],
    opset: DEFAULT_OPSET,
    spatialMultiple: desc.spatialMultiple,
    stateDictEntries: desc.tensors.length,
    blocks: blockParameterCounts(desc).map((b) => ({ id: b.id, prefix: b.prefix, inChannels: b.inChannels, outChannels: b.outChannels, parameters: b.parameters })),
  }
}

async function fileInfo(path: string): Promise<ModelInfo> {
  const bytes = await readFile(path).catch(() => {
    throw new InputError(path, 'no such file')
  })
  let s: ReturnType<typeof describeOnnxModel>
  try {
    s = describeOnnxModel(bytes)
  } catch (e) {
    throw new InputError(path, (e as Error).message)
  }
  let config: ResUnetConfig | undefined
  try {
    config = s.metadata.config ? (JSON.parse(s.metadata.config) as ResUnetConfig) : undefined
  } catch {
    config = undefined
  }
  const strip = ({ name, shape }: { name: string; shape: (number | string)[] }): { name: string; shape: (number | string)[] } => ({ name, shape })
  return {
    file: path,
    architecture: s.metadata.architecture ?? 'unknown',
    ...(config ? { config } : {}),
    parameters: s.parameterCount,
    buffers: s.bufferCount,
    inputs: s.inputs.map(strip),
    outputs: s.outputs.map(strip),
    opset: s.opset,
    ...(s.metadata.spatial_multiple ? { spatialMultiple: Number(s.metadata.spatial_multiple) } : {}),
    ...(s.metadata.convtranspose ? { convTranspose: s.metadata.convtranspose } : {}),
    ...(s.metadata.weights ? { weights: s.metadata.weights_source ? `${s.metadata.weights} ${s.metadata.weights_source}` : s.metadata.weights } : {}),
    nodeCount: s.nodeCount,
    opTypes: s.opTypes,
    metadata: s.metadata,
  }
}

function formatInfo(r: ModelInfo): string {
  const shape = (t: { name: string; shape: (number | string)[] }): string => `${t.name} [${t.shape.join(', ')}]`
  const lines = [
    ...(r.file ? [r.file] : []),
    `  architecture  ${r.architecture}${r.config ? ` (channels ${r.config.channels.join(',')}, strides ${r.config.strides.join(',')}, ${r.config.numResUnits} res units, ${r.config.norm} norm)` : ''}`,
    `  parameters    ${r.parameters.toLocaleString('en-US')}${r.buffers ? ` (+ ${r.buffers.toLocaleString('en-US')} BatchNorm running statistics)` : ''}`,
    `  inputs        ${r.inputs.map(shape).join('; ')}`,
    `  outputs       ${r.outputs.map(shape).join('; ')}`,
    `  opset         ${r.opset}`,
  ]
  if (r.spatialMultiple) lines.push(`  spatial sizes multiples of ${r.spatialMultiple}`)
  if (r.convTranspose) lines.push(`  transposed convolutions ${r.convTranspose}`)
  if (r.weights) lines.push(`  weights       ${r.weights}`)
  if (r.nodeCount !== undefined) lines.push(`  nodes         ${r.nodeCount} (${Object.entries(r.opTypes ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})`)
  for (const b of r.blocks ?? []) lines.push(`  ${b.id.padEnd(8)} ${b.prefix.padEnd(56)} ${String(b.inChannels).padStart(4)} -> ${String(b.outChannels).padEnd(4)} ${b.parameters.toLocaleString('en-US').padStart(12)}`)
  return lines.join('\n')
}

/** --arch resunet-paper with optional --channels, --res-units, --norm. */
function configFromArgs(args: ParsedArgs, usage: string): ResUnetConfig {
  const arch = args.options.get('arch')
  if (arch !== 'resunet-paper') throw new UsageError(`${arch ? `unknown --arch ${arch}` : '--arch is needed'} (known: resunet-paper)\nUsage: ${usage}`)
  const overrides: Parameters<typeof resUnetConfig>[0] = {}
  const channels = args.options.get('channels')
  if (channels !== undefined) {
    const list = channels.split(',').map((v) => Number(v.trim()))
    if (list.length < 2 || !list.every((v) => Number.isInteger(v) && v > 0)) throw new UsageError(`--channels ${channels}: at least two positive integers, comma separated`)
    overrides.channels = list
  }
  if (args.options.has('res-units')) overrides.numResUnits = integerOption(args, 'res-units')
  const norm = args.options.get('norm')
  if (norm !== undefined) {
    if (norm !== 'batch' && norm !== 'instance') throw new UsageError(`--norm ${norm}: batch or instance`)
    overrides.norm = norm
  }
  try {
    return resUnetConfig(overrides)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

function integerOption(args: ParsedArgs, name: string): number {
  const raw = args.options.get(name) ?? ''
  const v = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(v)) throw new UsageError(`--${name} ${raw}: an integer is needed`)
  return v
}
