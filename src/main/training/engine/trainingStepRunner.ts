import * as ort from 'onnxruntime-node'
import type { Vec3 } from '../../../shared/geometry'
import type { LayerDescription } from '../../inference/network/layerDescription'
import type { ProviderName } from '../../inference/segment/executionProvider'
import { adamMomentName, adamWStepScalars, SEED_ADAMW, updatedName, type AdamWSettings } from '../graph/adamW'
import { buildTrainingStep, type TrainingStepGraph } from '../graph/buildTrainingStep'

export interface TrainingStepRunnerOptions {
  batch: number
  patch: Vec3
  trainable: readonly string[]
  adamW?: AdamWSettings
  provider?: ProviderName
  threads?: number
}

export interface StepLosses {
  loss: number
  dice: number
  focal: number
}

/**
 * Runs the generated training-step graph in an ONNX Runtime session and owns the training state:
 * weights, AdamW moments and the step count. Each step feeds the state in and takes the updated state
 * out (the graph is a pure function), so a cancelled or failed step leaves the last good state intact.
 */
export class TrainingStepRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly graph: TrainingStepGraph,
    private readonly state: Map<string, ort.Tensor>,
    private readonly adamW: AdamWSettings,
    /** Number of optimizer steps taken (PyTorch's `step` in the bias correction). */
    public stepsTaken = 0,
  ) {}

  static async create(desc: LayerDescription, weights: ReadonlyMap<string, Float32Array>, options: TrainingStepRunnerOptions): Promise<TrainingStepRunner> {
    const provider = options.provider ?? 'cpu'
    const adamW = options.adamW ?? SEED_ADAMW
    const graph = buildTrainingStep(desc, {
      batch: options.batch,
      patch: options.patch,
      trainable: options.trainable,
      output: 'adamw',
      adamW,
      convTranspose: provider === 'webgpu' ? 'subpixel' : 'native',
    })
    const state = new Map<string, ort.Tensor>()
    for (const t of graph.stateInputs) {
      const data = weights.get(t.key)
      if (!data) throw new Error(`the weights lack ${t.key}`)
      if (data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`${t.key} has ${data.length} values, expected shape ${t.shape.join('x')}`)
      state.set(t.key, new ort.Tensor('float32', Float32Array.from(data), t.shape))
    }
    for (const key of graph.trainable) {
      const shape = state.get(key)!.dims as number[]
      for (const moment of ['m', 'v'] as const) {
        state.set(adamMomentName(key, moment), new ort.Tensor('float32', new Float32Array(state.get(key)!.size), shape))
      }
    }
    const session = await ort.InferenceSession.create(graph.bytes, {
      executionProviders: [provider],
      intraOpNumThreads: options.threads ?? 1,
      graphOptimizationLevel: 'all',
    })
    return new TrainingStepRunner(session, graph, state, adamW)
  }

  get imageShape(): readonly number[] {
    return this.graph.imageShape
  }

  /** One AdamW step on a batch: image [N, Cin, D, H, W] and label [N, 1, D, H, W] (0/1), NCDHW. */
  async step(image: Float32Array, label: Float32Array, lr: number): Promise<StepLosses> {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`learning rate ${lr} must be a finite number >= 0`)
    const t = this.stepsTaken + 1
    const feeds: Record<string, ort.Tensor> = Object.fromEntries(this.state)
    feeds.image = new ort.Tensor('float32', image, this.graph.imageShape)
    feeds.label = new ort.Tensor('float32', label, this.graph.labelShape)
    for (const [name, value] of Object.entries(adamWStepScalars(lr, t, this.adamW))) feeds[name] = new ort.Tensor('float32', new Float32Array([value]), [1])
    const out = await this.session.run(feeds)
    const losses = { loss: scalar(out.loss), dice: scalar(out.loss_dice), focal: scalar(out.loss_focal) }
    if (!Number.isFinite(losses.loss)) throw new Error(`the loss became ${losses.loss} at step ${t}: lower the learning rate`)
    for (const key of this.graph.trainable) {
      for (const name of [key, adamMomentName(key, 'm'), adamMomentName(key, 'v')]) this.state.set(name, out[updatedName(name)])
    }
    this.stepsTaken = t
    return losses
  }

  /** A copy of the current weights (every float state tensor the network reads). */
  weights(): Map<string, Float32Array> {
    return new Map(this.graph.stateInputs.map((t) => [t.key, Float32Array.from(this.state.get(t.key)!.data as Float32Array)]))
  }

  async release(): Promise<void> {
    await this.session.release()
  }
}

function scalar(t: ort.Tensor): number {
  return (t.data as Float32Array)[0]
}
