/**
 * The constructor arguments of MONAI 1.3's `monai.networks.nets.UNet` that LesionLab supports: residual
 * units, PReLU, norm-dropout-act order, no dropout, biases on (method.md §3). Only the values MONAI lets
 * vary here are free; the rest are literal types so a description cannot silently drift from the paper.
 */
export interface ResUnetConfig {
  spatialDims: 3
  inChannels: number
  outChannels: number
  /** Feature channels per level, top to bottom; the last one is the bottom block's. */
  channels: number[]
  /** Down-sampling stride per level; one fewer than `channels`. */
  strides: number[]
  /** Conv units per down residual unit (0: plain convolutions, no residual units, as MONAI allows). */
  numResUnits: number
  /** 'instance' is MONAI's InstanceNorm3d default: affine=False, no running statistics (no parameters). */
  norm: 'batch' | 'instance'
  kernelSize: 3
  upKernelSize: 3
  act: 'prelu'
  dropout: 0
  bias: true
}

/** The paper's network: UNet(3, 2, 2, (32, 64, 128, 256, 512), (2, 2, 2, 2), num_res_units=2, norm=BATCH). */
export const PAPER_RESUNET: ResUnetConfig = Object.freeze({
  spatialDims: 3,
  inChannels: 2,
  outChannels: 2,
  channels: Object.freeze([32, 64, 128, 256, 512]) as number[],
  strides: Object.freeze([2, 2, 2, 2]) as number[],
  numResUnits: 2,
  norm: 'batch',
  kernelSize: 3,
  upKernelSize: 3,
  act: 'prelu',
  dropout: 0,
  bias: true,
}) as ResUnetConfig

/** Trainable parameters of PAPER_RESUNET (method.md §3). */
export const PAPER_RESUNET_PARAMETERS = 19_223_525

/** A copy of PAPER_RESUNET with some values replaced, checked. */
export function resUnetConfig(overrides: Partial<Pick<ResUnetConfig, 'inChannels' | 'outChannels' | 'channels' | 'strides' | 'numResUnits' | 'norm'>> = {}): ResUnetConfig {
  const config: ResUnetConfig = {
    ...PAPER_RESUNET,
    channels: [...PAPER_RESUNET.channels],
    strides: [...PAPER_RESUNET.strides],
    ...overrides,
  }
  if (overrides.channels && !overrides.strides) config.strides = overrides.channels.slice(1).map(() => 2)
  checkResUnetConfig(config)
  return config
}

/** Throws on a configuration MONAI's UNet would reject or that LesionLab cannot express. */
export function checkResUnetConfig(c: ResUnetConfig): void {
  const positiveInt = (v: number): boolean => Number.isInteger(v) && v > 0
  const problems: string[] = []
  if (c.spatialDims !== 3) problems.push('spatialDims must be 3')
  if (!positiveInt(c.inChannels)) problems.push(`inChannels ${c.inChannels} is not a positive integer`)
  if (!positiveInt(c.outChannels)) problems.push(`outChannels ${c.outChannels} is not a positive integer`)
  if (c.channels.length < 2) problems.push('channels needs at least 2 levels')
  if (!c.channels.every(positiveInt)) problems.push(`channels ${c.channels.join(',')} must be positive integers`)
  if (c.strides.length !== c.channels.length - 1) problems.push(`strides needs ${c.channels.length - 1} entries (one fewer than channels), got ${c.strides.length}`)
  // Only stride 2 is supported: the sub-pixel decomposition and the "multiple of 2^levels" size rule assume it.
  if (!c.strides.every((s) => s === 2)) problems.push(`strides ${c.strides.join(',')}: only 2 is supported`)
  if (!Number.isInteger(c.numResUnits) || c.numResUnits < 0) problems.push(`numResUnits ${c.numResUnits} must be an integer >= 0`)
  if (c.norm !== 'batch' && c.norm !== 'instance') problems.push(`norm ${String(c.norm)} must be batch or instance`)
  if (c.kernelSize !== 3 || c.upKernelSize !== 3) problems.push('kernel sizes must be 3')
  if (c.act !== 'prelu' || c.dropout !== 0 || c.bias !== true) problems.push('act must be prelu, dropout 0, bias true')
  if (problems.length) throw new Error(`invalid ResUNet configuration: ${problems.join('; ')}`)
}

/** Spatial sizes must be multiples of this (the product of the strides: 16 for the paper network). */
export function spatialMultiple(c: ResUnetConfig): number {
  return c.strides.reduce((a, s) => a * s, 1)
}
