import { readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { InputError } from '../../io/InputError'
import { loadCheckpointFile } from '../checkpoint/loadCheckpoint'
import { buildResUnetOnnx, RANDOM_INIT_MARK } from '../network/buildOnnx'
import { describeResUnet, parameterCount } from '../network/layerDescription'
import { describeOnnxModel } from '../network/modelInfo'
import { PAPER_RESUNET, type ResUnetConfig } from '../network/resUnetConfig'
import { validateWeights } from '../network/validateWeights'
import { APP_VERSION } from '../../appVersion'
import { MODEL_SET_FORMAT, SEED_INFERENCE, SEED_PREPROCESSING, type ModelSetManifest } from './manifest'
import { installModelSet } from './installModelSet'
import { modelSetLocations, sha256Of, type InstalledModelSet } from './modelSetRegistry'

export interface AddModelSetOptions {
  name: string
  version?: string
  description?: string
  tracers?: ('FDG' | 'PSMA')[]
  intendedUse?: 'research' | 'demonstration'
  config?: ResUnetConfig
  /** Also write the ConvTranspose-free graph of every fold, for WebGPU. */
  webgpu?: boolean
  /** Where to create the set (default: the user's model folder). */
  root?: string
  /** Tests only: accept randomly initialised graphs, which are never offered as models otherwise. */
  allowUntrained?: boolean
  onProgress?: (message: string) => void
}

/**
 * A new model set from fold checkpoints (PyTorch .pt/.pth or .safetensors state_dicts: converted to
 * ONNX by our own graph builder) or ready ONNX files. Written to a temporary folder and renamed into
 * place, so a failure never leaves a half set behind; an existing set is never replaced.
 */
export async function addModelSetFromFiles(files: string[], options: AddModelSetOptions): Promise<InstalledModelSet> {
  if (files.length === 0) throw new InputError(options.name, 'give at least one checkpoint or ONNX file (one per fold)')
  const config = options.config ?? PAPER_RESUNET
  const desc = describeResUnet(config)
  const root = options.root ?? modelSetLocations().user
  return installModelSet(root, options.name, async (tempDir) => {
    const folds: ModelSetManifest['folds'] = []
    for (let f = 0; f < files.length; f++) {
      const file = files[f]
      options.onProgress?.(`Fold ${f + 1} of ${files.length}: ${basename(file)}`)
      const variants: ('native' | 'subpixel')[] = options.webgpu ? ['native', 'subpixel'] : ['native']
      let onnxBytes: Partial<Record<'native' | 'subpixel', Uint8Array>>
      if (/\.onnx$/i.test(file)) {
        const bytes = new Uint8Array(await readFile(file))
        const summary = describeOnnxModel(bytes)
        if (!summary.inputs.some((i) => i.name === 'image') || !summary.outputs.some((o) => o.name === 'logits')) {
          throw new InputError(file, 'is not a LesionLab ResUNet graph (needs input "image" and output "logits")')
        }
        if (summary.metadata.weights?.startsWith(RANDOM_INIT_MARK) && !options.allowUntrained) {
          throw new InputError(file, 'has randomly initialised weights: it is not a trained model and cannot be installed as one')
        }
        onnxBytes = { [summary.opTypes.ConvTranspose ? 'native' : 'subpixel']: bytes }
      } else {
        const tensors = await loadCheckpointFile(file)
        let weights: Map<string, Float32Array>
        try {
          weights = validateWeights(desc, tensors)
        } catch (e) {
          throw new InputError(file, (e as Error).message)
        }
        onnxBytes = {}
        for (const v of variants) {
          onnxBytes[v] = buildResUnetOnnx(desc, { weights, convTranspose: v, batchNormMode: 'inference', weightsSource: basename(file), producerVersion: APP_VERSION })
        }
      }
      for (const [variant, bytes] of Object.entries(onnxBytes) as ['native' | 'subpixel', Uint8Array][]) {
        const name = `fold${f}${variant === 'subpixel' ? '-subpixel' : ''}`
        await writeFile(join(tempDir, `${name}.onnx`), bytes)
        folds.push({ name, file: `${name}.onnx`, sha256: sha256Of(bytes), convTranspose: variant })
      }
    }
    const manifest: ModelSetManifest = {
      format: MODEL_SET_FORMAT,
      name: options.name,
      version: options.version ?? '1.0.0',
      description: options.description ?? `${files.length}-fold ResUNet ensemble added from ${files.map((f) => basename(f)).join(', ')}`,
      intendedUse: options.intendedUse ?? 'research',
      tracers: options.tracers ?? ['FDG', 'PSMA'],
      architecture: { kind: 'monai-resunet', ...pickArchitecture(config), parameters: parameterCount(desc) },
      preprocessing: SEED_PREPROCESSING,
      inference: SEED_INFERENCE,
      folds,
      provenance: { createdAt: new Date().toISOString(), createdBy: `LesionLab ${APP_VERSION}`, source: files.map((f) => basename(f)).join(', ') },
    }
    return manifest
  })
}

export function pickArchitecture(c: ResUnetConfig) {
  return { spatialDims: c.spatialDims, inChannels: c.inChannels, outChannels: c.outChannels, channels: [...c.channels], strides: [...c.strides], numResUnits: c.numResUnits, norm: c.norm }
}
