import type { BatchNormOp, Conv3dOp, ConvTranspose3dOp, LayerOp, PreluOp } from '../../inference/network/layerDescription'
import type { GraphWriter } from '../../inference/network/onnxGraph'
import type { Shape5 } from './activationShapes'

/**
 * The backward pass of a ResUNet, derived by hand per operator and written as standard ONNX operators
 * (no training domain, no ConvTranspose), so every execution provider that runs the inference graph
 * runs this too. Recipes, with x the op input, y its output, dy = ∂L/∂y:
 *
 * Conv3d (weight [Co, Ci, k, k, k], stride s, padding p), y[o] = Σ_k x[s·o + k − p] w[k] per axis:
 *   - ∂L/∂x = Conv(dy', flip(w)ᵀ) with pads (k−1−p) before and after, where flip reverses the three
 *     kernel axes and ᵀ swaps (Co, Ci). For s = 2, dy' is dy with a zero inserted after every element
 *     on each spatial axis ("dilated" to x's size); for s = 1, dy' = dy. (A 3-D ConvTranspose would do
 *     the same, several times slower on CPU, and WebGPU has none.)
 *   - ∂L/∂w = Conv(xᵀ, dyᵀ, dilation = s)ᵀ: batch and channel axes swapped so the batch is summed by
 *     the convolution's channel reduction; dyᵀ acts as a kernel as large as the output. The end padding
 *     is chosen so the result is exactly k wide.
 *   - ∂L/∂b = Σ dy over N, D, H, W.
 * ConvTranspose3d (weight [Ci, Co, 3, 3, 3], stride 2, padding 1, output_padding 1) is the adjoint of a
 * stride-2 Conv with the same weight read as [Ci, Co]:
 *   - ∂L/∂x = Conv(dy, w, stride 2, pads 1);
 *   - ∂L/∂w = Conv(dyᵀ, xᵀ, dilation 2, pads 1 before, 0 after)ᵀ.
 * BatchNorm with its stored statistics (fine-tuning on tiny batches must not re-estimate them):
 *   y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε):  ∂L/∂x = dy·γ/√(σ²+ε);  ∂L/∂γ = Σ dy·x̂;  ∂L/∂β = Σ dy.
 * PReLU with one shared slope a: ∂L/∂x = dy where x > 0 else a·dy (PyTorch's choice at 0);
 *   ∂L/∂a = Σ dy·min(x, 0).
 * Add passes dy to both inputs; Concat splits dy along the channel axis.
 */

export interface BackwardPassInput {
  g: GraphWriter
  ops: readonly LayerOp[]
  shapes: ReadonlyMap<string, Shape5>
  /** State tensor keys whose gradients are wanted. */
  trainable: ReadonlySet<string>
  /** Gradient tensor names of the outputs that start the pass (e.g. logits -> ∂L/∂logits). */
  seeds: ReadonlyMap<string, string>
  /** Graph inputs whose gradient is wanted too (gradient checks); returned in `inputGrads`. */
  inputsRequiringGrad?: readonly string[]
}

export interface BackwardPassOutput {
  /** Gradient tensor name of every trainable state tensor. */
  paramGrads: Map<string, string>
  inputGrads: Map<string, string>
}

/** Emits the backward pass. */
export function emitBackwardPass({ g, ops, shapes, trainable, seeds, inputsRequiringGrad = [] }: BackwardPassInput): BackwardPassOutput {
  const requiresGrad = activationsRequiringGrad(ops, trainable, inputsRequiringGrad)
  const contributions = new Map<string, string[]>()
  for (const [name, grad] of seeds) contributions.set(name, [grad])
  const grads = new Map<string, string>()
  const names = new UniqueNames()
  const transposes = new Map<string, string>()
  const ctx: OpContext = {
    g,
    names,
    shapeOf: (name) => {
      const s = shapes.get(name)
      if (!s) throw new Error(`internal: no shape for ${name}`)
      return s
    },
    isTrainable: (key) => trainable.has(key),
    needsGrad: (name) => requiresGrad.has(name),
    addGrad: (name, grad) => {
      const list = contributions.get(name) ?? []
      list.push(grad)
      contributions.set(name, list)
    },
    setParamGrad: (key, grad) => grads.set(key, grad),
    batchChannelSwap: (name) => {
      let t = transposes.get(name)
      if (!t) {
        t = names.next(`${name}/T`)
        g.node('Transpose', [name], [t], { perm: [1, 0, 2, 3, 4] })
        transposes.set(name, t)
      }
      return t
    },
  }

  /** A tensor read by several ops gets the sum of their gradients. */
  const sumOf = (parts: string[], name: string): string => {
    const sum = names.next(`grad/${name}`)
    g.node('Sum', parts, [sum])
    return sum
  }

  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]
    const parts = contributions.get(op.output)
    if (!parts || !requiresGrad.has(op.output)) continue
    const dy = parts.length === 1 ? parts[0] : sumOf(parts, op.output)
    switch (op.op) {
      case 'conv3d':
        conv3dBackward(ctx, op, dy)
        break
      case 'convTranspose3d':
        convTranspose3dBackward(ctx, op, dy)
        break
      case 'batchNorm':
        batchNormBackward(ctx, op, dy)
        break
      case 'prelu':
        preluBackward(ctx, op, dy)
        break
      case 'add':
        for (const input of op.inputs) if (ctx.needsGrad(input)) ctx.addGrad(input, dy)
        break
      case 'concat': {
        const [a, b] = op.inputs
        const ga = names.next(`grad/${a}`)
        const gb = names.next(`grad/${b}`)
        const split = g.int64Constant(`split/${ctx.shapeOf(a)[1]}_${ctx.shapeOf(b)[1]}`, [ctx.shapeOf(a)[1], ctx.shapeOf(b)[1]])
        g.node('Split', [dy, split], [ga, gb], { axis: 1 })
        if (ctx.needsGrad(a)) ctx.addGrad(a, ga)
        if (ctx.needsGrad(b)) ctx.addGrad(b, gb)
        break
      }
      case 'instanceNorm':
        throw new Error(`${op.module}: the training graph supports BatchNorm networks only (instance norm has no backward here)`)
    }
  }
  for (const key of trainable) if (!grads.has(key)) throw new Error(`internal: no gradient reaches ${key}`)
  const inputGrads = new Map<string, string>()
  for (const name of inputsRequiringGrad) {
    const parts = contributions.get(name)
    if (!parts) throw new Error(`internal: no gradient reaches ${name}`)
    inputGrads.set(name, sumOf(parts, name))
  }
  return { paramGrads: grads, inputGrads }
}

/**
 * Activations whose gradient is needed: outputs of ops that read a trainable tensor, and everything
 * computed from them. With a frozen encoder the backward pass stops at the decoder.
 */
function activationsRequiringGrad(ops: readonly LayerOp[], trainable: ReadonlySet<string>, inputs: readonly string[] = []): Set<string> {
  const out = new Set<string>(inputs)
  for (const op of ops) {
    const inputs = op.op === 'add' || op.op === 'concat' ? op.inputs : [op.input]
    if (inputs.some((x) => out.has(x)) || stateKeysOf(op).some((k) => trainable.has(k))) out.add(op.output)
  }
  return out
}

/** The float state tensors an op reads. */
function stateKeysOf(op: LayerOp): string[] {
  switch (op.op) {
    case 'conv3d':
    case 'convTranspose3d':
      return [op.weight, op.bias]
    case 'batchNorm':
      return [op.weight, op.bias, op.runningMean, op.runningVar]
    case 'prelu':
      return [op.slope]
    default:
      return []
  }
}

interface OpContext {
  g: GraphWriter
  names: UniqueNames
  shapeOf(name: string): Shape5
  isTrainable(key: string): boolean
  needsGrad(name: string): boolean
  addGrad(name: string, grad: string): void
  setParamGrad(key: string, grad: string): void
  /** [N, C, ...] -> [C, N, ...], emitted once per tensor. */
  batchChannelSwap(name: string): string
}

const SPATIAL_AND_BATCH = [0, 2, 3, 4]

function reduceOverChannels(ctx: OpContext, x: string, out: string): void {
  ctx.g.node('ReduceSum', [x, ctx.g.int64Constant('axes/0234', SPATIAL_AND_BATCH)], [out], { keepdims: 0 })
}

function conv3dBackward(ctx: OpContext, op: Conv3dOp, dy: string): void {
  const { g, names } = ctx
  const xShape = ctx.shapeOf(op.input)
  const yShape = ctx.shapeOf(op.output)
  const { kernel: k, stride: s, padding: p } = op
  if (ctx.isTrainable(op.bias)) {
    const db = names.next(`grad/${op.bias}`)
    reduceOverChannels(ctx, dy, db)
    ctx.setParamGrad(op.bias, db)
  }
  if (ctx.isTrainable(op.weight)) {
    const dwT = names.next(`grad/${op.weight}/T`)
    const ends = [2, 3, 4].map((a) => k + s * (yShape[a] - 1) - xShape[a] - p)
    g.node('Conv', [ctx.batchChannelSwap(op.input), ctx.batchChannelSwap(dy)], [dwT], {
      dilations: [s, s, s],
      strides: [1, 1, 1],
      pads: [p, p, p, ...ends],
      group: 1,
    })
    const dw = names.next(`grad/${op.weight}`)
    g.node('Transpose', [dwT], [dw], { perm: [1, 0, 2, 3, 4] })
    ctx.setParamGrad(op.weight, dw)
  }
  if (ctx.needsGrad(op.input)) {
    let source = dy
    if (s !== 1) {
      if (s !== 2 || [2, 3, 4].some((a) => xShape[a] !== 2 * yShape[a])) throw new Error(`${op.module}: only stride 2 on even sizes has a backward`)
      source = zeroInsert(ctx, dy, yShape)
    }
    const w = flippedTransposedKernel(ctx, op.weight, k)
    const dx = names.next(`grad/${op.input}`)
    const before = k - 1 - p
    // The result must be exactly as large as x: sourceSize + before + end - k + 1 = xSize.
    const ends = [2, 3, 4].map((a) => xShape[a] - s * yShape[a] - before + k - 1)
    g.node('Conv', [source, w], [dx], { strides: [1, 1, 1], pads: [before, before, before, ...ends], dilations: [1, 1, 1], group: 1 })
    ctx.addGrad(op.input, dx)
  }
}

function convTranspose3dBackward(ctx: OpContext, op: ConvTranspose3dOp, dy: string): void {
  const { g, names } = ctx
  // The recipes below are derived for MONAI's up-sampling convolution only.
  if (op.kernel !== 3 || op.stride !== 2 || op.padding !== 1 || op.outputPadding !== 1) {
    throw new Error(`${op.module}: only ConvTranspose3d k3 s2 p1 output_padding 1 has a backward`)
  }
  if (ctx.isTrainable(op.bias)) {
    const db = names.next(`grad/${op.bias}`)
    reduceOverChannels(ctx, dy, db)
    ctx.setParamGrad(op.bias, db)
  }
  if (ctx.isTrainable(op.weight)) {
    const dwT = names.next(`grad/${op.weight}/T`)
    g.node('Conv', [ctx.batchChannelSwap(dy), ctx.batchChannelSwap(op.input)], [dwT], {
      dilations: [2, 2, 2],
      strides: [1, 1, 1],
      pads: [1, 1, 1, 0, 0, 0],
      group: 1,
    })
    const dw = names.next(`grad/${op.weight}`)
    g.node('Transpose', [dwT], [dw], { perm: [1, 0, 2, 3, 4] })
    ctx.setParamGrad(op.weight, dw)
  }
  if (ctx.needsGrad(op.input)) {
    const dx = names.next(`grad/${op.input}`)
    g.node('Conv', [dy, op.weight], [dx], { strides: [2, 2, 2], pads: [1, 1, 1, 1, 1, 1], dilations: [1, 1, 1], group: 1 })
    ctx.addGrad(op.input, dx)
  }
}

function batchNormBackward(ctx: OpContext, op: BatchNormOp, dy: string): void {
  const { g, names } = ctx
  const channelShape = g.int64Constant(`shape/1_${op.channels}_1_1_1`, [1, op.channels, 1, 1, 1])
  const invStd = names.next(`${op.module}/inv_std`)
  const varEps = names.next(`${op.module}/var_eps`)
  const std = names.next(`${op.module}/std`)
  g.node('Add', [op.runningVar, g.floatConstant(`const/eps_${op.eps}`, [], new Float32Array([op.eps]))], [varEps])
  g.node('Sqrt', [varEps], [std])
  g.node('Reciprocal', [std], [invStd])
  const invStdC = names.next(`${op.module}/inv_std_c`)
  g.node('Reshape', [invStd, channelShape], [invStdC])
  if (ctx.needsGrad(op.input)) {
    const scale = names.next(`${op.module}/scale`)
    const scaleC = names.next(`${op.module}/scale_c`)
    g.node('Mul', [op.weight, invStd], [scale])
    g.node('Reshape', [scale, channelShape], [scaleC])
    const dx = names.next(`grad/${op.input}`)
    g.node('Mul', [dy, scaleC], [dx])
    ctx.addGrad(op.input, dx)
  }
  if (ctx.isTrainable(op.weight)) {
    const meanC = names.next(`${op.module}/mean_c`)
    const centred = names.next(`${op.module}/centred`)
    const xhat = names.next(`${op.module}/xhat`)
    const prod = names.next(`${op.module}/dy_xhat`)
    g.node('Reshape', [op.runningMean, channelShape], [meanC])
    g.node('Sub', [op.input, meanC], [centred])
    g.node('Mul', [centred, invStdC], [xhat])
    g.node('Mul', [dy, xhat], [prod])
    const dGamma = names.next(`grad/${op.weight}`)
    reduceOverChannels(ctx, prod, dGamma)
    ctx.setParamGrad(op.weight, dGamma)
  }
  if (ctx.isTrainable(op.bias)) {
    const dBeta = names.next(`grad/${op.bias}`)
    reduceOverChannels(ctx, dy, dBeta)
    ctx.setParamGrad(op.bias, dBeta)
  }
  for (const buffer of [op.runningMean, op.runningVar]) {
    if (ctx.isTrainable(buffer)) throw new Error(`${buffer}: running statistics are not trainable`)
  }
}

function preluBackward(ctx: OpContext, op: PreluOp, dy: string): void {
  const { g, names } = ctx
  const zero = g.floatConstant('const/zero', [], new Float32Array([0]))
  if (ctx.needsGrad(op.input)) {
    const positive = names.next(`${op.module}/positive`)
    const scaled = names.next(`${op.module}/dy_slope`)
    const dx = names.next(`grad/${op.input}`)
    g.node('Greater', [op.input, zero], [positive])
    g.node('Mul', [dy, op.slope], [scaled])
    g.node('Where', [positive, dy, scaled], [dx])
    ctx.addGrad(op.input, dx)
  }
  if (ctx.isTrainable(op.slope)) {
    const negative = names.next(`${op.module}/negative_part`)
    const prod = names.next(`${op.module}/dy_neg`)
    const sum = names.next(`${op.module}/dslope_scalar`)
    const da = names.next(`grad/${op.slope}`)
    g.node('Min', [op.input, zero], [negative])
    g.node('Mul', [dy, negative], [prod])
    g.node('ReduceSum', [prod], [sum], { keepdims: 0 })
    g.node('Reshape', [sum, g.int64Constant('shape/1', [1])], [da])
    ctx.setParamGrad(op.slope, da)
  }
}

/** [N, C, d, h, w] -> [N, C, 2d, 2h, 2w] with dy at even positions and zeros between. */
function zeroInsert(ctx: OpContext, dy: string, [n, c, d, h, w]: Shape5): string {
  const { g, names } = ctx
  const spread = names.next(`${dy}/spread`)
  const padded = names.next(`${dy}/padded`)
  const out = names.next(`${dy}/zero_inserted`)
  g.node('Reshape', [dy, g.int64Constant(`shape/${n}_${c}_${d}_1_${h}_1_${w}_1`, [n, c, d, 1, h, 1, w, 1])], [spread])
  g.node('Pad', [spread, g.int64Constant('pads/zero_insert', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1])], [padded], { mode: 'constant' })
  g.node('Reshape', [padded, g.int64Constant(`shape/${n}_${c}_${2 * d}_${2 * h}_${2 * w}`, [n, c, 2 * d, 2 * h, 2 * w])], [out])
  return out
}

/** flip(w) over the three kernel axes, then (Co, Ci) swapped: the kernel of the input gradient. */
function flippedTransposedKernel(ctx: OpContext, weight: string, k: number): string {
  const { g, names } = ctx
  let w = weight
  if (k > 1) {
    const reversed = g.int64Constant(`indices/reverse_${k}`, Array.from({ length: k }, (_, i) => k - 1 - i))
    for (const axis of [2, 3, 4]) {
      const flipped = names.next(`${weight}/flip${axis}`)
      g.node('Gather', [w, reversed], [flipped], { axis })
      w = flipped
    }
  }
  const out = names.next(`${weight}/flipT`)
  g.node('Transpose', [w], [out], { perm: [1, 0, 2, 3, 4] })
  return out
}

/** Tensor names unique within one graph. */
class UniqueNames {
  private readonly used = new Map<string, number>()
  next(base: string): string {
    const n = this.used.get(base) ?? 0
    this.used.set(base, n + 1)
    return n === 0 ? base : `${base}#${n}`
  }
}
