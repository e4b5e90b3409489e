// npm run bench:infer — the seed network on this machine: time per 192³ window and GFLOP/s (the paper
// net costs ~317 GFLOP per window), threads 1 vs 2, and the per-stage cost of a whole-body study
// (preprocess, network, blending, inverse, argmax) with peak memory. Random weights: speed only.
//   tsx scripts/bench-infer.ts [--full]   (--full runs every window instead of extrapolating from one)
import * as ort from 'onnxruntime-node'
import { buildResUnetOnnx } from '../src/main/inference/network/buildOnnx'
import { describeResUnet } from '../src/main/inference/network/layerDescription'
import { PAPER_RESUNET } from '../src/main/inference/network/resUnetConfig'
import { argmaxToMask, invertToPetGrid, preprocessForInference } from '../src/main/inference/preprocess/pipeline'
import { planWindows } from '../src/main/inference/slidingWindow/windows'
import { slidingWindowInference } from '../src/main/inference/slidingWindow/slidingWindow'
import { makePhantomStudy } from '../src/main/demo/phantom'
import { resampleTrilinear } from '../src/main/imaging/resample/resampleTrilinear'
import type { VolumeGeometry } from '../src/shared/geometry'

const GFLOP_PER_WINDOW = 317
const full = process.argv.includes('--full')
let peakRssMb = 0
const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, process.memoryUsage().rss / 2 ** 20)), 50)

const model = buildResUnetOnnx(describeResUnet(PAPER_RESUNET), { convTranspose: 'native', batchNormMode: 'inference', seed: 1 })
const roi = 192
const window = new Float32Array(2 * roi ** 3).map((_, i) => Math.sin(i * 1e-3))
const perWindowS: Record<number, number> = {}
for (const threads of [1, 2]) {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all' })
  const t = performance.now()
  await session.run({ image: new ort.Tensor('float32', window, [1, 2, roi, roi, roi]) })
  perWindowS[threads] = (performance.now() - t) / 1000
  await session.release()
  console.log(`one 192³ window, ${threads} thread(s): ${perWindowS[threads].toFixed(1)} s, ${(GFLOP_PER_WINDOW / perWindowS[threads]).toFixed(1)} GFLOP/s`)
}
console.log(`threads 2 vs 1: ${(perWindowS[1] / perWindowS[2]).toFixed(2)}x`)
const threads = perWindowS[2] < perWindowS[1] ? 2 : 1

// A whole-body study the size of an autoPET case: PET 400x400x326 at 2.036x2.036x3 mm, CT on it.
const phantom = makePhantomStudy({ tracer: 'FDG', scale: 'demo' })
const pet: VolumeGeometry = { dims: [400, 400, 326], spacingMm: [2.036, 2.036, 3], originLps: [-406, -406, -878], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
const petVoxels = resampleTrilinear(phantom.pet, pet, { outsideValue: 0 })
const ctVoxels = resampleTrilinear(phantom.ct, pet, { outsideValue: -1024 })
const stages: Record<string, number> = {}
let t = performance.now()
const lap = (name: string): void => {
  stages[name] = (performance.now() - t) / 1000
  t = performance.now()
}
const prepared = preprocessForInference({ geometry: pet, voxels: ctVoxels }, { geometry: pet, voxels: petVoxels })
lap('preprocess')
const plan = planWindows(prepared.dims, { roiSize: roi, overlap: 0.5 })
console.log(`network grid ${prepared.dims.join('x')}: ${plan.windows.length} windows per fold`)
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: threads })
let networkS = 0
const logits = await slidingWindowInference(
  prepared.input,
  prepared.dims,
  async (patch) => {
    if (!full && networkS > 0) return new Float32Array(2 * roi ** 3) // extrapolate from the first window
    const w = performance.now()
    const out = await session.run({ image: new ort.Tensor('float32', patch, [1, 2, roi, roi, roi]) })
    networkS += (performance.now() - w) / 1000
    return out.logits.data as Float32Array
  },
  { roiSize: roi, overlap: 0.5, mode: 'constant' },
)
lap('sliding window')
const networkPerFold = full ? networkS : networkS * plan.windows.length
stages['blending + window copies'] = Math.max(0, stages['sliding window'] - networkS)
delete stages['sliding window']
stages[`network (${full ? 'measured' : 'extrapolated'}, 1 fold)`] = networkPerFold
t = performance.now()
for (let i = 0; i < logits.length; i++) logits[i] = 1 / (1 + Math.exp(-logits[i]))
lap('sigmoid')
const [p0, p1] = invertToPetGrid(logits, prepared.record)
lap('inverse')
argmaxToMask(p0, p1)
lap('argmax')
await session.release()
clearInterval(sampler)
console.log('\nwhole-body study, per stage (s):')
for (const [k, v] of Object.entries(stages)) console.log(`  ${k.padEnd(36)} ${v.toFixed(2)}`)
console.log(`  five folds, network alone: ${(5 * networkPerFold / 60).toFixed(1)} min on ${threads} CPU thread(s) (the challenge allowed 5 min on its GPU)`)
console.log(`peak memory (RSS): ${peakRssMb.toFixed(0)} MB`)
