import * as ort from 'onnxruntime-node'
import { describeResUnet } from '../network/layerDescription'
import { buildResUnetOnnx } from '../network/buildOnnx'
import { resUnetConfig } from '../network/resUnetConfig'

export type DeviceRequest = 'auto' | 'cpu' | 'cuda' | 'webgpu' | 'dml' | 'coreml'
export type ProviderName = Exclude<DeviceRequest, 'auto'>

export interface ProviderChoice {
  provider: ProviderName
  /** Why this one (and why not a faster one). */
  note?: string
  /** WebGPU has no 3-D ConvTranspose: it needs the sub-pixel graph variant. */
  needsSubpixelGraph: boolean
}

/** The GPU providers to try for "auto", fastest first, per platform. */
function autoCandidates(): ProviderName[] {
  if (process.platform === 'win32') return ['cuda', 'dml', 'webgpu']
  if (process.platform === 'darwin') return ['coreml', 'webgpu']
  return ['cuda', 'webgpu']
}

/**
 * Pick the execution provider. A GPU provider is used only after a tiny ResUNet gives the same logits on
 * it as on the CPU (a driver or provider bug must never silently change a segmentation); otherwise the
 * next candidate is tried and, finally, the CPU, with the reason recorded.
 */
export async function chooseExecutionProvider(request: DeviceRequest, threads: number, probe: ProviderProbe = disagreementWithCpu): Promise<ProviderChoice> {
  const candidates: ProviderName[] = request === 'auto' ? autoCandidates() : request === 'cpu' ? [] : [request]
  const notes: string[] = []
  for (const candidate of candidates) {
    const problem = await probe(candidate, threads)
    if (!problem) return { provider: candidate, needsSubpixelGraph: candidate === 'webgpu', note: notes.join('; ') || undefined }
    notes.push(`${candidate}: ${problem}`)
  }
  return { provider: 'cpu', needsSubpixelGraph: false, note: notes.length ? `CPU used (${notes.join('; ')})` : undefined }
}

/** Runs a small graph on `provider` and on the CPU: undefined when they agree, else what went wrong. */
export type ProviderProbe = (provider: ProviderName, threads: number) => Promise<string | undefined>

/** The inference probe: a tiny ResUNet's logits. */
async function disagreementWithCpu(provider: ProviderName, threads: number): Promise<string | undefined> {
  const probe = buildResUnetOnnx(describeResUnet(resUnetConfig({ channels: [4, 8], strides: [2], numResUnits: 1 })), {
    convTranspose: provider === 'webgpu' ? 'subpixel' : 'native',
    batchNormMode: 'inference',
    seed: 7,
  })
  const input = new Float32Array(2 * 16 * 16 * 16)
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.37) + 0.5
  try {
    const [onDevice, onCpu] = await Promise.all([runProbe(probe, provider, threads, input), runProbe(probe, 'cpu', threads, input)])
    let worst = 0
    let scale = 1e-6
    for (let i = 0; i < onCpu.length; i++) {
      worst = Math.max(worst, Math.abs(onDevice[i] - onCpu[i]))
      scale = Math.max(scale, Math.abs(onCpu[i]))
    }
    return worst <= 1e-3 * scale ? undefined : `its results differ from the CPU's (max difference ${worst.toExponential(2)})`
  } catch (e) {
    return `not available (${(e as Error).message.split('\n')[0]})`
  }
}

async function runProbe(model: Uint8Array, provider: ProviderName, threads: number, input: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { executionProviders: [provider], intraOpNumThreads: threads })
  try {
    const out = await session.run({ image: new ort.Tensor('float32', input, [1, 2, 16, 16, 16]) })
    return out.logits.data as Float32Array
  } finally {
    await session.release()
  }
}
