import type { onnx } from 'onnx-proto'
import type { LayerDescription, LayerOp } from './layerDescription'
import { parameterCount } from './layerDescription'
import { onnxProto } from './onnxProto'
import { floatTensor, GraphWriter, tensorValueInfo } from './onnxGraph'
import { seededInitTensor } from './seededInit'
import { emitSubpixelConvTranspose } from './subpixelConvTranspose'
import { validateWeights } from './validateWeights'

export interface BuildResUnetOnnxOptions {
  /** state_dict tensors by key (validated against the description). Absent: seeded random init, NOT A MODEL. */
  weights?: Map<string, Float32Array>
  /** Seed of the random init when `weights` is absent (default 0). */
  seed?: number
  /** ONNX opset, 15..21 (default 17). */
  opset?: number
  /** 'subpixel': no ConvTranspose node (for WebGPU), see subpixelConvTranspose.ts. */
  convTranspose: 'native' | 'subpixel'
  /** BatchNormalization with the running statistics (the only mode an inference graph has). */
  batchNormMode: 'inference'
  /** Recorded in the model's metadata, e.g. the checkpoint file the weights came from. */
  weightsSource?: string
  producerVersion?: string
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>
}

export const DEFAULT_OPSET = 17
/** The metadata value `weights` of a randomly initialised graph. */
export const RANDOM_INIT_MARK = 'random-init: NOT A TRAINED MODEL'

/**
 * The inference graph of a described ResUNet as ONNX bytes: input `image` (N, Cin, D, H, W) float32 and
 * output `logits` (N, Cout, D, H, W), N/D/H/W symbolic; D, H and W must be multiples of
 * `desc.spatialMultiple`. Initializers are exactly the state_dict tensors the graph reads, under their
 * PyTorch keys (num_batches_tracked is not read); other constants are Constant nodes.
 */
export function buildResUnetOnnx(desc: LayerDescription, options: BuildResUnetOnnxOptions): Uint8Array {
  const opset = options.opset ?? DEFAULT_OPSET
  // 15: BatchNormalization-15 and Shape(start, end); 21: the newest this writer was checked against.
  if (!Number.isInteger(opset) || opset < 15 || opset > 21) throw new Error(`opset ${opset}: supported are 15 to 21`)
  if (options.batchNormMode !== 'inference') throw new Error(`batchNormMode ${String(options.batchNormMode)}: only 'inference' is supported`)
  if (options.convTranspose !== 'native' && options.convTranspose !== 'subpixel') throw new Error(`convTranspose ${String(options.convTranspose)}: native or subpixel`)
  const weights = options.weights ? validateWeights(desc, options.weights) : undefined
  const seed = options.seed ?? 0

  const g = new GraphWriter()
  const used = emitResUnetForward(g, desc.ops, options.convTranspose)

  const initializers: onnx.ITensorProto[] = desc.tensors
    .filter((t) => used.has(t.key))
    .map((t) => floatTensor(t.key, t.shape, weights?.get(t.key) ?? seededInitTensor(t, seed)))

  const { config } = desc
  const m = desc.spatialMultiple
  const weightsNote = weights ? `checkpoint${options.weightsSource ? ` ${options.weightsSource}` : ''}` : `${RANDOM_INIT_MARK} (seed ${seed})`
  const docString = [
    `MONAI 1.3 UNet with residual units (channels ${config.channels.join(',')}, strides ${config.strides.join(',')}, ` +
      `${config.numResUnits} residual units, ${config.norm} norm, PReLU), written by LesionLab.`,
    `Input "image": float32 (N, ${config.inChannels}, D, H, W); output "logits": float32 (N, ${config.outChannels}, D, H, W).`,
    `D, H and W must be multiples of ${m}.`,
    `Transposed convolutions: ${options.convTranspose === 'subpixel' ? 'sub-pixel form (8 stride-1 convolutions + depth-to-space, no ConvTranspose)' : 'ConvTranspose'}. BatchNorm: inference (running statistics).`,
    `Initializers are named by the PyTorch state_dict keys. Weights: ${weightsNote}.`,
  ].join('\n')
  const metadata: Record<string, string> = {
    'lesionlab.format': 'lesionlab-resunet-onnx/1',
    architecture: 'monai-resunet',
    config: JSON.stringify(config),
    parameters: String(parameterCount(desc)),
    spatial_multiple: String(m),
    input_layout: 'NCDHW',
    convtranspose: options.convTranspose,
    batchnorm: options.batchNormMode,
    weights: weights ? 'checkpoint' : `${RANDOM_INIT_MARK} (seed ${seed})`,
    ...(options.weightsSource ? { weights_source: options.weightsSource } : {}),
    ...options.metadata,
  }

  const model: onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'lesionlab',
    producerVersion: options.producerVersion ?? '',
    docString,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'monai_resunet',
      docString: weights ? '' : RANDOM_INIT_MARK,
      node: g.nodes,
      initializer: initializers,
      input: [tensorValueInfo(desc.input.name, ['N', desc.input.channels, 'D', 'H', 'W'], `D, H, W multiples of ${m}`)],
      output: [tensorValueInfo(desc.output.name, ['N', desc.output.channels, 'D', 'H', 'W'])],
    },
  }
  return onnxProto.ModelProto.encode(model).finish()
}


/**
 * The forward pass of a described ResUNet's ops into `g`, reading every state tensor by its key (an
 * initializer in the inference graph, a graph input in the training graph). Returns the keys it read.
 */
export function emitResUnetForward(g: GraphWriter, ops: readonly LayerOp[], convTranspose: 'native' | 'subpixel'): Set<string> {
  const used = new Set<string>()
  const use = (key: string): string => (used.add(key), key)
  for (const op of ops) {
    switch (op.op) {
      case 'conv3d':
        g.node('Conv', [op.input, use(op.weight), use(op.bias)], [op.output], {
          kernel_shape: [op.kernel, op.kernel, op.kernel],
          strides: [op.stride, op.stride, op.stride],
          pads: Array(6).fill(op.padding),
          dilations: [1, 1, 1],
          group: 1,
        }, op.module)
        break
      case 'convTranspose3d':
        use(op.weight)
        use(op.bias)
        if (convTranspose === 'subpixel') {
          emitSubpixelConvTranspose(g, op)
        } else {
          g.node('ConvTranspose', [op.input, op.weight, op.bias], [op.output], {
            kernel_shape: [op.kernel, op.kernel, op.kernel],
            strides: [op.stride, op.stride, op.stride],
            pads: Array(6).fill(op.padding),
            output_padding: [op.outputPadding, op.outputPadding, op.outputPadding],
            dilations: [1, 1, 1],
            group: 1,
          }, op.module)
        }
        break
      case 'batchNorm':
        // ONNX momentum weights the running value (PyTorch's weights the batch); unused in inference mode.
        g.node('BatchNormalization', [op.input, use(op.weight), use(op.bias), use(op.runningMean), use(op.runningVar)], [op.output], {
          epsilon: { float: op.eps },
          momentum: { float: 1 - op.momentum },
        }, op.module)
        break
      case 'instanceNorm': {
        // affine=False: scale 1, bias 0 (constants, not parameters).
        const ones = g.floatConstant(`instancenorm/ones_c${op.channels}`, [op.channels], new Float32Array(op.channels).fill(1))
        const zeros = g.floatConstant(`instancenorm/zeros_c${op.channels}`, [op.channels], new Float32Array(op.channels))
        g.node('InstanceNormalization', [op.input, ones, zeros], [op.output], { epsilon: { float: op.eps } }, op.module)
        break
      }
      case 'prelu':
        g.node('PRelu', [op.input, use(op.slope)], [op.output], {}, op.module)
        break
      case 'add':
        g.node('Add', op.inputs, [op.output], {}, op.module)
        break
      case 'concat':
        g.node('Concat', op.inputs, [op.output], { axis: op.axis }, op.module)
        break
      default: {
        const never: never = op
        throw new Error(`unknown op ${(never as { op: string }).op}`)
      }
    }
  }

  return used
}

/** The ONNX IR version released with an opset (ONNX 1.12-1.16). */
export function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10
}
