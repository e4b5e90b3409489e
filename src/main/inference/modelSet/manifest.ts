import { z } from 'zod'

/**
 * A model set's `model.json`: everything that shaped its results, written down so a segmentation can
 * be reproduced years later (nnU-Net's plans file plays this role there). Inference reads it; nothing
 * about preprocessing or the window is hard-coded elsewhere.
 */
export const MODEL_SET_FORMAT = 'lesionlab-model-set/1'

const resUnetArchitecture = z
  .object({
    kind: z.literal('monai-resunet'),
    spatialDims: z.literal(3),
    inChannels: z.number().int().positive(),
    outChannels: z.number().int().positive(),
    channels: z.array(z.number().int().positive()).min(2),
    strides: z.array(z.number().int().positive()).min(1),
    numResUnits: z.number().int().min(0),
    norm: z.enum(['batch', 'instance']),
    parameters: z.number().int().positive(),
  })
  .strict()

export const modelSetManifestSchema = z
  .object({
    format: z.literal(MODEL_SET_FORMAT),
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string(),
    /** A demonstration (e.g. trained on synthetic phantoms) is labelled as such wherever it is offered. */
    intendedUse: z.enum(['research', 'demonstration']),
    tracers: z.array(z.enum(['FDG', 'PSMA'])).min(1),
    architecture: resUnetArchitecture,
    preprocessing: z
      .object({
        inputs: z.tuple([z.literal('CT'), z.literal('PET')]),
        ctClipHu: z.tuple([z.number(), z.number()]),
        cropForeground: z.literal('ct-above-min'),
        orientation: z.literal('RAS'),
        spacingMm: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
        interpolation: z.literal('trilinear'),
        petUnit: z.literal('SUVbw'),
      })
      .strict(),
    inference: z
      .object({
        roiSize: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
        overlap: z.number().min(0).max(0.95),
        blending: z.enum(['constant', 'gaussian']),
        ensemble: z.literal('mean-logits-sigmoid-argmax'),
      })
      .strict(),
    folds: z
      .array(
        z
          .object({
            name: z.string().min(1),
            file: z.string().regex(/^[\w.\-]+\.onnx$/, 'a file name inside the model set folder'),
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
            /** Graph variant: 'subpixel' has no 3-D ConvTranspose (for WebGPU). */
            convTranspose: z.enum(['native', 'subpixel']).default('native'),
          })
          .strict(),
      )
      .min(1),
    provenance: z
      .object({
        createdAt: z.string(),
        createdBy: z.string(),
        source: z.string(),
        baseModelSet: z.string().optional(),
        notes: z.string().optional(),
      })
      .passthrough(),
    /** e.g. validation Dice on held-out cases. */
    evaluation: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()

export type ModelSetManifest = z.infer<typeof modelSetManifestSchema>

/** The seed paper's preprocessing and inference settings (method.md §2, §4). */
export const SEED_PREPROCESSING: ModelSetManifest['preprocessing'] = {
  inputs: ['CT', 'PET'],
  ctClipHu: [-1024, 1024],
  cropForeground: 'ct-above-min',
  orientation: 'RAS',
  spacingMm: [2, 2, 2],
  interpolation: 'trilinear',
  petUnit: 'SUVbw',
}

export const SEED_INFERENCE: ModelSetManifest['inference'] = {
  roiSize: [192, 192, 192],
  overlap: 0.5,
  blending: 'constant',
  ensemble: 'mean-logits-sigmoid-argmax',
}
