import { checkResUnetConfig, spatialMultiple, type ResUnetConfig } from './resUnetConfig'

/**
 * MONAI 1.3's UNet with residual units as plain data: the state_dict tensors (named exactly by their
 * PyTorch keys) and a flat list of operations in execution order, each naming its input and output
 * tensors and the state_dict tensors it uses. Graph builders (the ONNX inference graph now, a training
 * graph later) walk `ops`; nothing here knows about ONNX.
 *
 * MONAI's module tree (monai/networks/nets/unet.py, 1.3.x), which fixes the key names:
 *   UNet.model = Sequential(down_0, SkipConnection(Sequential(down_1, SkipConnection(...), up_1)), up_0)
 *   - `model.0` is the first down block, `model.1.submodule` the next level's Sequential, `model.2` the last
 *     up block; the deepest SkipConnection holds the bottom block directly (`...1.submodule.conv.unit0`).
 *   - down/bottom block = ResidualUnit(in, out, stride, subunits=numResUnits):
 *       `conv.unit{i}` = Convolution(conv, adn: N=norm, D=dropout (no tensors), A=PReLU), stride on unit0;
 *       `residual` = Conv3d k3 with the stride (padding 1) when stride > 1, k1 when only channels change,
 *       absent (identity) otherwise. forward: conv(x) + residual(x), no activation after the sum.
 *   - up block = Sequential(`0`: transposed Convolution k3 s2 p1 output_padding 1 + N + A,
 *       `1`: ResidualUnit(out, out, stride 1, subunits=1, last_conv_only=is_top)) with identity residual.
 *   - SkipConnection: cat([x, submodule(x)], dim=1).
 *   With numResUnits = 0 the blocks are single Convolutions and the top up block is conv-only.
 */
export const LAYER_DESCRIPTION_FORMAT = 'lesionlab-layer-description/1'

export type StateTensorRole =
  | 'convWeight'
  | 'convBias'
  | 'convTransposeWeight'
  | 'convTransposeBias'
  | 'normWeight'
  | 'normBias'
  | 'runningMean'
  | 'runningVar'
  | 'numBatchesTracked'
  | 'preluSlope'

/** One state_dict entry. */
export interface StateTensor {
  key: string
  shape: number[]
  dtype: 'float32' | 'int64'
  role: StateTensorRole
  /** false for BatchNorm buffers (running statistics, num_batches_tracked). */
  trainable: boolean
  /** Conv weights and biases: PyTorch's fan-in for its default init (kaiming-uniform bound 1/sqrt(fanIn)). */
  fanIn?: number
  /** The block (see LayerDescription.blocks) this tensor belongs to. */
  block: string
}

interface OpBase {
  /** The PyTorch module path the operation comes from (for messages and debugging). */
  module: string
  output: string
}

export interface Conv3dOp extends OpBase {
  op: 'conv3d'
  input: string
  inChannels: number
  outChannels: number
  kernel: number
  stride: number
  padding: number
  weight: string
  bias: string
}

/** PyTorch ConvTranspose3d; weight shape (in, out, k, k, k). Output size = 2 x input size. */
export interface ConvTranspose3dOp extends OpBase {
  op: 'convTranspose3d'
  input: string
  inChannels: number
  outChannels: number
  kernel: 3
  stride: 2
  padding: 1
  outputPadding: 1
  weight: string
  bias: string
}

export interface BatchNormOp extends OpBase {
  op: 'batchNorm'
  input: string
  channels: number
  eps: number
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. */
  momentum: number
  weight: string
  bias: string
  runningMean: string
  runningVar: string
  numBatchesTracked: string
}

/** MONAI's InstanceNorm3d default: affine=False, track_running_stats=False, so no tensors. */
export interface InstanceNormOp extends OpBase {
  op: 'instanceNorm'
  input: string
  channels: number
  eps: number
  affine: false
}

/** PReLU with one slope shared by all channels (nn.PReLU(num_parameters=1)). */
export interface PreluOp extends OpBase {
  op: 'prelu'
  input: string
  slope: string
}

/** The residual sum `conv(x) + residual(x)`; with an identity residual `inputs[1]` is the unit's input. */
export interface AddOp extends OpBase {
  op: 'add'
  inputs: [string, string]
  residual: 'identity' | 'conv'
}

/** SkipConnection: cat([down output, deeper output], channel axis). */
export interface ConcatOp extends OpBase {
  op: 'concat'
  inputs: [string, string]
  axis: 1
  channels: number
}

export type LayerOp = Conv3dOp | ConvTranspose3dOp | BatchNormOp | InstanceNormOp | PreluOp | AddOp | ConcatOp

export interface BlockDescription {
  /** 'down0'..'down{n-1}', 'bottom', 'up{n-1}'..'up0' (level 0 is the full-resolution one). */
  id: string
  role: 'down' | 'bottom' | 'up'
  level: number
  /** The state_dict key prefix of the block's module. */
  prefix: string
  inChannels: number
  outChannels: number
  stride: number
}

export interface LayerDescription {
  format: typeof LAYER_DESCRIPTION_FORMAT
  config: ResUnetConfig
  input: { name: 'image'; channels: number }
  output: { name: 'logits'; channels: number }
  /** Every spatial size must be a multiple of this (product of the strides). */
  spatialMultiple: number
  /** All state_dict entries (parameters and buffers) in PyTorch's state_dict order. */
  tensors: StateTensor[]
  /** Operations in execution order; every input is `input.name` or an earlier op's output. */
  ops: LayerOp[]
  /** Blocks in state_dict order (down0.., bottom, deepest up .. up0). */
  blocks: BlockDescription[]
}

export const NORM_EPS = 1e-5
export const BATCH_NORM_MOMENTUM = 0.1

/** The layer description of a MONAI UNet with the given configuration. */
export function describeResUnet(config: ResUnetConfig): LayerDescription {
  checkResUnetConfig(config)
  const b = new DescriptionBuilder(config)
  const logits = b.level(0, 'image', config.inChannels, config.outChannels, 'model')
  b.renameLastOutput(logits, 'logits')
  return {
    format: LAYER_DESCRIPTION_FORMAT,
    config: { ...config, channels: [...config.channels], strides: [...config.strides] },
    input: { name: 'image', channels: config.inChannels },
    output: { name: 'logits', channels: config.outChannels },
    spatialMultiple: spatialMultiple(config),
    tensors: b.tensors,
    ops: b.ops,
    blocks: sortBlocks(b.blocks),
  }
}

/** Trainable parameters (buffers excluded). */
export function parameterCount(desc: LayerDescription): number {
  return desc.tensors.reduce((n, t) => (t.trainable ? n + elementCount(t.shape) : n), 0)
}

/** Trainable parameters per block, in state_dict order. */
export function blockParameterCounts(desc: LayerDescription): (BlockDescription & { parameters: number })[] {
  return desc.blocks.map((block) => ({
    ...block,
    parameters: desc.tensors.reduce((n, t) => (t.trainable && t.block === block.id ? n + elementCount(t.shape) : n), 0),
  }))
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1)
}

function sortBlocks(blocks: BlockDescription[]): BlockDescription[] {
  const rank = (bl: BlockDescription): number => (bl.role === 'down' ? bl.level : bl.role === 'bottom' ? 1000 : 2000 - bl.level)
  return [...blocks].sort((x, y) => rank(x) - rank(y))
}

/** Emits tensors and ops while recursing over MONAI's module tree; the recursion mirrors UNet._create_block. */
class DescriptionBuilder {
  readonly tensors: StateTensor[] = []
  readonly ops: LayerOp[] = []
  readonly blocks: BlockDescription[] = []
  private block = ''

  constructor(private readonly c: ResUnetConfig) {}

  /** UNet._create_block at `level`: Sequential(down, SkipConnection(deeper), up) at `prefix`. */
  level(level: number, x: string, inC: number, outC: number, prefix: string): string {
    const { channels, strides } = this.c
    const ch = channels[level]
    const stride = strides[level]
    const last = level === channels.length - 2
    const down = this.downLayer(`down${level}`, 'down', level, `${prefix}.0`, x, inC, ch, stride)
    let deeper: string
    let upIn: number
    if (last) {
      deeper = this.downLayer('bottom', 'bottom', level + 1, `${prefix}.1.submodule`, down, ch, channels[level + 1], 1)
      upIn = ch + channels[level + 1]
    } else {
      deeper = this.level(level + 1, down, ch, ch, `${prefix}.1.submodule`)
      upIn = ch * 2
    }
    const cat = `${prefix}.1/y`
    this.ops.push({ op: 'concat', module: `${prefix}.1`, inputs: [down, deeper], axis: 1, channels: upIn, output: cat })
    return this.upLayer(level, `${prefix}.2`, cat, upIn, outC, stride, level === 0)
  }

  /** UNet._get_down_layer (also the bottom layer, with stride 1). */
  private downLayer(id: string, role: 'down' | 'bottom', level: number, prefix: string, x: string, inC: number, outC: number, stride: number): string {
    this.startBlock({ id, role, level, prefix, inChannels: inC, outChannels: outC, stride })
    if (this.c.numResUnits === 0) return this.convolution(prefix, x, inC, outC, stride, false)
    return this.residualUnit(prefix, x, inC, outC, stride, this.c.numResUnits, false)
  }

  /** UNet._get_up_layer: transposed Convolution, then (with residual units) a one-unit ResidualUnit. */
  private upLayer(level: number, prefix: string, x: string, inC: number, outC: number, stride: number, isTop: boolean): string {
    this.startBlock({ id: `up${level}`, role: 'up', level, prefix, inChannels: inC, outChannels: outC, stride })
    if (this.c.numResUnits === 0) return this.transposedConvolution(prefix, x, inC, outC, isTop)
    const up = this.transposedConvolution(`${prefix}.0`, x, inC, outC, false)
    return this.residualUnit(`${prefix}.1`, up, outC, outC, 1, 1, isTop)
  }

  /** monai.networks.blocks.ResidualUnit. */
  private residualUnit(prefix: string, x: string, inC: number, outC: number, stride: number, subunits: number, lastConvOnly: boolean): string {
    let y = x
    let unitIn = inC
    let unitStride = stride
    for (let su = 0; su < Math.max(1, subunits); su++) {
      const convOnly = lastConvOnly && su === Math.max(1, subunits) - 1
      y = this.convolution(`${prefix}.conv.unit${su}`, y, unitIn, outC, unitStride, convOnly)
      unitIn = outC
      unitStride = 1
    }
    let residual = x
    let kind: AddOp['residual'] = 'identity'
    if (stride !== 1 || inC !== outC) {
      const k = stride === 1 ? 1 : this.c.kernelSize
      residual = this.conv(`${prefix}.residual`, `${prefix}.residual`, x, inC, outC, k, stride, stride === 1 ? 0 : (k - 1) / 2)
      kind = 'conv'
    }
    const out = `${prefix}/y`
    this.ops.push({ op: 'add', module: prefix, inputs: [y, residual], residual: kind, output: out })
    return out
  }

  /** monai.networks.blocks.Convolution (not transposed): `conv`, then `adn` (N, D, A) unless conv-only. */
  private convolution(prefix: string, x: string, inC: number, outC: number, stride: number, convOnly: boolean): string {
    const k = this.c.kernelSize
    const y = this.conv(`${prefix}.conv`, `${prefix}.conv`, x, inC, outC, k, stride, (k - 1) / 2)
    return convOnly ? y : this.adn(`${prefix}.adn`, y, outC)
  }

  private transposedConvolution(prefix: string, x: string, inC: number, outC: number, convOnly: boolean): string {
    const k = this.c.upKernelSize
    const weight = this.tensor(`${prefix}.conv.weight`, [inC, outC, k, k, k], 'convTransposeWeight', outC * k ** 3)
    const bias = this.tensor(`${prefix}.conv.bias`, [outC], 'convTransposeBias', outC * k ** 3)
    const y = `${prefix}.conv/y`
    this.ops.push({ op: 'convTranspose3d', module: `${prefix}.conv`, input: x, output: y, inChannels: inC, outChannels: outC, kernel: 3, stride: 2, padding: 1, outputPadding: 1, weight, bias })
    return convOnly ? y : this.adn(`${prefix}.adn`, y, outC)
  }

  private conv(module: string, keyPrefix: string, x: string, inC: number, outC: number, k: number, stride: number, padding: number): string {
    const weight = this.tensor(`${keyPrefix}.weight`, [outC, inC, k, k, k], 'convWeight', inC * k ** 3)
    const bias = this.tensor(`${keyPrefix}.bias`, [outC], 'convBias', inC * k ** 3)
    const y = `${module}/y`
    this.ops.push({ op: 'conv3d', module, input: x, output: y, inChannels: inC, outChannels: outC, kernel: k, stride, padding, weight, bias })
    return y
  }

  /** ADN with ordering "NDA": norm, dropout (p = 0: nothing), PReLU. */
  private adn(prefix: string, x: string, channels: number): string {
    const n = `${prefix}.N`
    const normed = `${n}/y`
    if (this.c.norm === 'batch') {
      this.ops.push({
        op: 'batchNorm',
        module: n,
        input: x,
        output: normed,
        channels,
        eps: NORM_EPS,
        momentum: BATCH_NORM_MOMENTUM,
        weight: this.tensor(`${n}.weight`, [channels], 'normWeight'),
        bias: this.tensor(`${n}.bias`, [channels], 'normBias'),
        runningMean: this.tensor(`${n}.running_mean`, [channels], 'runningMean'),
        runningVar: this.tensor(`${n}.running_var`, [channels], 'runningVar'),
        numBatchesTracked: this.tensor(`${n}.num_batches_tracked`, [], 'numBatchesTracked'),
      })
    } else {
      this.ops.push({ op: 'instanceNorm', module: n, input: x, output: normed, channels, eps: NORM_EPS, affine: false })
    }
    const a = `${prefix}.A`
    const y = `${a}/y`
    this.ops.push({ op: 'prelu', module: a, input: normed, output: y, slope: this.tensor(`${a}.weight`, [1], 'preluSlope') })
    return y
  }

  private tensor(key: string, shape: number[], role: StateTensorRole, fanIn?: number): string {
    const buffer = role === 'runningMean' || role === 'runningVar' || role === 'numBatchesTracked'
    this.tensors.push({
      key,
      shape,
      dtype: role === 'numBatchesTracked' ? 'int64' : 'float32',
      role,
      trainable: !buffer,
      ...(fanIn !== undefined ? { fanIn } : {}),
      block: this.block,
    })
    return key
  }

  private startBlock(block: BlockDescription): void {
    this.blocks.push(block)
    this.block = block.id
  }

  /** The network's last op writes the graph output name. */
  renameLastOutput(current: string, name: string): void {
    const last = this.ops[this.ops.length - 1]
    if (last.output !== current) throw new Error('internal: the last op does not produce the network output')
    last.output = name
  }
}
