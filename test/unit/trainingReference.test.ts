import { readFileSync } from 'node:fs'
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { describeResUnet } from '../../src/main/inference/network/layerDescription'
import { resUnetConfig } from '../../src/main/inference/network/resUnetConfig'
import { buildTrainingStep, gradientOutputName } from '../../src/main/training/graph/buildTrainingStep'
import { TrainingStepRunner } from '../../src/main/training/engine/trainingStepRunner'

/**
 * The whole training step (forward, loss, backward, AdamW) against an independent reference: a plain
 * PyTorch MONAI UNet, loss and torch.optim.AdamW, computed in float64 by
 * scripts/reference/train_step_reference.py (see test/fixtures/training/README.md).
 */

const FIXTURE = new URL('../fixtures/training/reference-step.safetensors', import.meta.url)

interface Fixture {
  tensors: Map<string, Float32Array>
  metadata: Record<string, string>
}

/** safetensors read directly: the names here are not state_dict keys, so not the checkpoint reader. */
function readFixture(): Fixture {
  const bytes = readFileSync(FIXTURE)
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] } | Record<string, string>>
  const data = bytes.subarray(8 + headerLength)
  const tensors = new Map<string, Float32Array>()
  let metadata: Record<string, string> = {}
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>
      continue
    }
    const { dtype, data_offsets: [begin, end] } = entry as { dtype: string; data_offsets: [number, number] }
    expect(dtype).toBe('F32')
    const copy = new Uint8Array(data.subarray(begin, end))
    tensors.set(name, new Float32Array(copy.buffer))
  }
  return { tensors, metadata }
}

const fixture = readFixture()
const config = JSON.parse(fixture.metadata.config)
const desc = describeResUnet(resUnetConfig({ channels: config.channels, strides: config.strides, numResUnits: config.numResUnits, norm: config.norm }))
const optimizer = JSON.parse(fixture.metadata.optimizer) as { lr: number; betas: [number, number]; eps: number; weightDecay: number }
const scenarios = JSON.parse(fixture.metadata.scenarios) as Record<'all' | 'decoder', { trainable: string[] }>
const get = (name: string): Float32Array => {
  const t = fixture.tensors.get(name)
  if (!t) throw new Error(`fixture lacks ${name}`)
  return t
}
const initialWeights = new Map(desc.tensors.filter((t) => t.dtype === 'float32').map((t) => [t.key, get(`init/${t.key}`)]))
const image = get('input/image')
const label = get('input/label')

function maxAbs(a: Float32Array): number {
  let m = 0
  for (const v of a) m = Math.max(m, Math.abs(v))
  return m
}

describe('training step against the PyTorch reference', () => {
  it.each([
    ['all', 'native'],
    ['decoder', 'native'],
    ['all', 'subpixel'],
  ] as const)('gradients at step 1 match (%s parameters, %s ConvTranspose graph)', async (scenario, convTranspose) => {
    const trainable = scenarios[scenario].trainable
    const graph = buildTrainingStep(desc, { batch: 2, patch: [16, 16, 16], trainable, output: 'gradients', convTranspose })
    const session = await ort.InferenceSession.create(graph.bytes, { intraOpNumThreads: 1 })
    const feeds: Record<string, ort.Tensor> = {
      image: new ort.Tensor('float32', image, graph.imageShape),
      label: new ort.Tensor('float32', label, graph.labelShape),
    }
    for (const t of graph.stateInputs) feeds[t.key] = new ort.Tensor('float32', initialWeights.get(t.key)!, t.shape)
    const out = await session.run(feeds)
    await session.release()
    expect((out.loss.data as Float32Array)[0]).toBeCloseTo(get(`${scenario}/step1/loss`)[0], 3)
    expect((out.loss_dice.data as Float32Array)[0]).toBeCloseTo(get(`${scenario}/step1/loss_dice`)[0], 5)
    for (const key of trainable) {
      const ours = out[gradientOutputName(key)].data as Float32Array
      const ref = get(`${scenario}/grad1/${key}`)
      const scale = maxAbs(ref)
      expect(scale, key).toBeGreaterThan(0)
      for (let i = 0; i < ref.length; i++) expect(Math.abs(ours[i] - ref[i]), `${key}[${i}]`).toBeLessThan(1e-3 * scale + 1e-7)
    }
  })

  it.each(['all', 'decoder'] as const)('two AdamW steps give the reference losses and weights (%s)', async (scenario) => {
    const trainable = scenarios[scenario].trainable
    const runner = await TrainingStepRunner.create(desc, initialWeights, {
      batch: 2,
      patch: [16, 16, 16],
      trainable,
      adamW: { betas: optimizer.betas, eps: optimizer.eps, weightDecay: optimizer.weightDecay },
    })
    for (const step of [1, 2]) {
      const losses = await runner.step(image, label, optimizer.lr)
      expect(losses.loss).toBeCloseTo(get(`${scenario}/step${step}/loss`)[0], 3)
      expect(losses.dice).toBeCloseTo(get(`${scenario}/step${step}/loss_dice`)[0], 5)
      expect(losses.focal).toBeCloseTo(get(`${scenario}/step${step}/loss_focal`)[0], 3)
      const weights = runner.weights()
      for (const key of trainable) {
        const ours = weights.get(key)!
        const ref = get(`${scenario}/step${step}/${key}`)
        const grad = get(`${scenario}/grad1/${key}`)
        const gradScale = maxAbs(grad)
        for (let i = 0; i < ref.length; i++) {
          // Adam normalises each step to about lr whatever the gradient's size, so where the gradient is
          // ~0 float32 rounding can flip its sign; elsewhere the weights agree to float32 precision.
          if (Math.abs(grad[i]) < 1e-3 * gradScale) continue
          expect(Math.abs(ours[i] - ref[i]), `${key}[${i}] after step ${step}`).toBeLessThan(2e-6 + 1e-5 * Math.abs(ref[i]))
        }
      }
      // Everything not trained is exactly the initial value.
      for (const [key, value] of weights) if (!trainable.includes(key)) expect(value, key).toEqual(initialWeights.get(key))
    }
    await runner.release()
  })
})
