import * as ort from 'onnxruntime-node'
import { describeResUnet } from '../../inference/network/layerDescription'
import { resUnetConfig } from '../../inference/network/resUnetConfig'
import { seededInitWeights } from '../../inference/network/seededInit'
import { chooseExecutionProvider, type DeviceRequest, type ProviderChoice, type ProviderName } from '../../inference/segment/executionProvider'
import { buildTrainingStep, gradientOutputName, trainableKeys } from '../graph/buildTrainingStep'

/**
 * The provider for training: a GPU provider is used only after a tiny gradient graph gives the same
 * loss and gradients on it as on the CPU (a wrong gradient would silently spoil a model set).
 */
export function chooseTrainingProvider(request: DeviceRequest, threads: number): Promise<ProviderChoice> {
  return chooseExecutionProvider(request, threads, gradientDisagreement)
}

async function gradientDisagreement(provider: ProviderName, threads: number): Promise<string | undefined> {
  const desc = describeResUnet(resUnetConfig({ channels: [4, 8], strides: [2], numResUnits: 1 }))
  const trainable = trainableKeys(desc, { layers: 'all', normAffine: true })
  const weights = seededInitWeights(desc, 3)
  const run = async (p: ProviderName): Promise<Float32Array[]> => {
    const graph = buildTrainingStep(desc, { batch: 1, patch: [16, 16, 16], trainable, output: 'gradients', convTranspose: p === 'webgpu' ? 'subpixel' : 'native' })
    const session = await ort.InferenceSession.create(graph.bytes, { executionProviders: [p], intraOpNumThreads: threads })
    try {
      const feeds: Record<string, ort.Tensor> = {
        image: new ort.Tensor('float32', Float32Array.from({ length: 2 * 16 ** 3 }, (_, i) => Math.sin(i * 0.37) + 0.5), graph.imageShape),
        label: new ort.Tensor('float32', Float32Array.from({ length: 16 ** 3 }, (_, i) => (Math.sin(i * 0.11) > 0.8 ? 1 : 0)), graph.labelShape),
      }
      for (const t of graph.stateInputs) feeds[t.key] = new ort.Tensor('float32', weights.get(t.key)!, t.shape)
      const out = await session.run(feeds)
      return [out.loss.data as Float32Array, ...trainable.map((k) => out[gradientOutputName(k)].data as Float32Array)]
    } finally {
      await session.release()
    }
  }
  try {
    const [onDevice, onCpu] = await Promise.all([run(provider), run('cpu')])
    for (let t = 0; t < onCpu.length; t++) {
      let scale = 1e-6
      let worst = 0
      for (let i = 0; i < onCpu[t].length; i++) {
        scale = Math.max(scale, Math.abs(onCpu[t][i]))
        worst = Math.max(worst, Math.abs(onDevice[t][i] - onCpu[t][i]))
      }
      if (!(worst <= 1e-3 * scale)) return `its gradients differ from the CPU's (${t === 0 ? 'loss' : trainable[t - 1]}: max difference ${worst.toExponential(2)})`
    }
    return undefined
  } catch (e) {
    return `not available for training (${(e as Error).message.split('\n')[0]})`
  }
}
