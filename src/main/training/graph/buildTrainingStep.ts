import type { onnx } from 'onnx-proto'
import type { Vec3 } from '../../../shared/geometry'
import { DEFAULT_OPSET, emitResUnetForward, irVersionFor } from '../../inference/network/buildOnnx'
import type { LayerDescription, StateTensor } from '../../inference/network/layerDescription'
import { GraphWriter, tensorValueInfo } from '../../inference/network/onnxGraph'
import { onnxProto } from '../../inference/network/onnxProto'
import { activationShapes, type Shape5 } from './activationShapes'
import { ADAMW_STEP_INPUTS, adamMomentName, emitAdamW, SEED_ADAMW, updatedName, type AdamWSettings } from './adamW'
import { emitBackwardPass } from './backward'
import { emitGeneralizedDiceFocal } from './lossGraph'

export const TRAINING_STEP_FORMAT = 'lesionlab-training-step/1'

/** Which parameters a fine-tuning run changes. */
export interface TrainableSelection {
  /** 'decoder': the up blocks only (the encoder and bottom stay as they are). */
  layers: 'all' | 'decoder'
  /** BatchNorm scale and shift trained too (their running statistics never are). */
  normAffine: boolean
}

/** The state_dict keys a selection trains, in state_dict order. */
export function trainableKeys(desc: LayerDescription, selection: TrainableSelection): string[] {
  const upBlocks = new Set(desc.blocks.filter((b) => b.role === 'up').map((b) => b.id))
  return desc.tensors
    .filter((t) => t.trainable)
    .filter((t) => selection.layers === 'all' || upBlocks.has(t.block))
    .filter((t) => selection.normAffine || (t.role !== 'normWeight' && t.role !== 'normBias'))
    .map((t) => t.key)
}

export interface TrainingStepOptions {
  batch: number
  /** D, H, W of a patch; multiples of desc.spatialMultiple. */
  patch: Vec3
  trainable: readonly string[]
  /** 'adamw': one optimizer step; 'gradients': the gradients only (checks, provider probes). */
  output: 'adamw' | 'gradients'
  adamW?: AdamWSettings
  /** 'subpixel' for providers without 3-D ConvTranspose (WebGPU); the backward never needs one. */
  convTranspose: 'native' | 'subpixel'
  opset?: number
}

export interface TrainingStepGraph {
  bytes: Uint8Array
  /** Float state tensors the graph reads, as inputs named by their keys (trainable and frozen). */
  stateInputs: StateTensor[]
  trainable: string[]
  /** [N, Cin, D, H, W] and [N, 1, D, H, W]. */
  imageShape: Shape5
  labelShape: Shape5
}

export const gradientOutputName = (key: string): string => `gradient/${key}`

/**
 * One training step of a described ResUNet as an ONNX graph of standard operators: forward pass, §5
 * loss, hand-derived backward pass (backward.ts) and the AdamW update. Weights, moments and the step's
 * scalars come in as inputs and the updated ones go out, so the caller owns the state and can keep it
 * between steps. Inputs: `image` [N, Cin, D, H, W], `label` [N, 1, D, H, W] (0/1), every float state
 * tensor by its key, and for 'adamw' `adam.m/<key>`, `adam.v/<key>` and the ADAMW_STEP_INPUTS scalars.
 * Outputs: `loss`, `loss_dice`, `loss_focal` ([1]); then `new/<key>`, `new/adam.m/<key>`,
 * `new/adam.v/<key>` per trainable key ('adamw') or `gradient/<key>` ('gradients').
 */
export function buildTrainingStep(desc: LayerDescription, options: TrainingStepOptions): TrainingStepGraph {
  const opset = options.opset ?? DEFAULT_OPSET
  if (!Number.isInteger(opset) || opset < 15 || opset > 21) throw new Error(`opset ${opset}: supported are 15 to 21`)
  if (desc.config.norm !== 'batch') throw new Error('fine-tuning needs a BatchNorm network (this model set uses instance norm)')
  const { batch, patch } = options
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch ${batch} must be a positive integer`)
  for (const size of patch) {
    if (!Number.isInteger(size) || size < desc.spatialMultiple || size % desc.spatialMultiple !== 0) {
      throw new Error(`patch ${patch.join('x')}: every size must be a positive multiple of ${desc.spatialMultiple}`)
    }
  }
  const known = new Map(desc.tensors.map((t) => [t.key, t]))
  for (const key of options.trainable) {
    if (!known.get(key)?.trainable) throw new Error(`${key} is not a trainable tensor of this network`)
  }
  if (options.trainable.length === 0) throw new Error('nothing to train: the selection has no parameters')

  const g = new GraphWriter()
  const used = emitResUnetForward(g, desc.ops, options.convTranspose)
  const imageShape: Shape5 = [batch, desc.input.channels, patch[0], patch[1], patch[2]]
  const labelShape: Shape5 = [batch, 1, patch[0], patch[1], patch[2]]
  const shapes = activationShapes(desc.ops, { name: desc.input.name, shape: imageShape })
  const logitsShape = shapes.get(desc.output.name)
  if (!logitsShape) throw new Error('internal: the network has no logits')

  const lossOut = emitGeneralizedDiceFocal(g, desc.output.name, 'label', logitsShape)
  const trainable = new Set(options.trainable)
  const { paramGrads: grads } = emitBackwardPass({ g, ops: desc.ops, shapes, trainable, seeds: new Map([[desc.output.name, lossOut.gradLogits]]) })

  const stateInputs = desc.tensors.filter((t) => used.has(t.key))
  const inputs: onnx.IValueInfoProto[] = [
    tensorValueInfo(desc.input.name, imageShape, 'CT (scaled) and PET (SUV), NCDHW'),
    tensorValueInfo('label', labelShape, '0 background, 1 lesion'),
    ...stateInputs.map((t) => tensorValueInfo(t.key, t.shape)),
  ]
  const outputs: onnx.IValueInfoProto[] = [lossOut.loss, lossOut.dice, lossOut.focal].map((name) => tensorValueInfo(name, [1]))
  const trainableTensors = options.trainable.map((key) => known.get(key)!)
  if (options.output === 'adamw') {
    const settings = options.adamW ?? SEED_ADAMW
    emitAdamW(g, new Map(options.trainable.map((key) => [key, grads.get(key)!])), settings)
    for (const t of trainableTensors) {
      for (const moment of ['m', 'v'] as const) inputs.push(tensorValueInfo(adamMomentName(t.key, moment), t.shape))
    }
    for (const name of Object.values(ADAMW_STEP_INPUTS)) inputs.push(tensorValueInfo(name, [1]))
    for (const t of trainableTensors) {
      for (const name of [t.key, adamMomentName(t.key, 'm'), adamMomentName(t.key, 'v')]) outputs.push(tensorValueInfo(updatedName(name), t.shape))
    }
  } else {
    for (const t of trainableTensors) {
      g.node('Identity', [grads.get(t.key)!], [gradientOutputName(t.key)])
      outputs.push(tensorValueInfo(gradientOutputName(t.key), t.shape))
    }
  }

  const model: onnx.IModelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'lesionlab',
    docString: `LesionLab training step (${options.output}) of a MONAI ResUNet, batch ${batch}, patch ${patch.join('x')}, ${options.trainable.length} trainable tensors.`,
    metadataProps: [
      { key: 'lesionlab.format', value: TRAINING_STEP_FORMAT },
      { key: 'config', value: JSON.stringify(desc.config) },
    ],
    graph: { name: 'resunet_training_step', node: g.nodes, input: inputs, output: outputs },
  }
  return { bytes: onnxProto.ModelProto.encode(model).finish(), stateInputs, trainable: [...options.trainable], imageShape, labelShape }
}
