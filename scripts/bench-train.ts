// npm run bench:train — the training engine on this machine: seconds per AdamW step (forward, §5 loss,
// backward, update) at 64³ and 128³ patches, batch 1, on 1 and 2 ONNX Runtime threads, for the paper
// network and the demo configuration, with the peak memory of each run (each in its own process, so
// the peaks do not mix). Random weights and data: speed only.
//   tsx scripts/bench-train.ts [--quick]    (--quick: 64³ only)
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describeResUnet } from '../src/main/inference/network/layerDescription'
import { PAPER_RESUNET } from '../src/main/inference/network/resUnetConfig'
import { seededInitWeights } from '../src/main/inference/network/seededInit'
import { TrainingStepRunner } from '../src/main/training/engine/trainingStepRunner'
import { trainableKeys } from '../src/main/training/graph/buildTrainingStep'
import { DEMO_MODEL_SET } from '../src/main/training/demoModelSet'

const NETWORKS = { paper: PAPER_RESUNET, demo: DEMO_MODEL_SET.config }
const STEPS = 3

if (process.argv[2] === '--one') {
  // Child: one configuration; prints a JSON line.
  const [, , , net, patchArg, threadsArg] = process.argv
  const desc = describeResUnet(NETWORKS[net as keyof typeof NETWORKS])
  const patch = Number(patchArg)
  const runner = await TrainingStepRunner.create(desc, seededInitWeights(desc, 1), {
    batch: 1,
    patch: [patch, patch, patch],
    trainable: trainableKeys(desc, { layers: 'all', normAffine: true }),
    threads: Number(threadsArg),
  })
  const image = Float32Array.from({ length: 2 * patch ** 3 }, (_, i) => Math.sin(i * 1e-3) + 0.5)
  const label = Float32Array.from({ length: patch ** 3 }, (_, i) => (i % 997 < 40 ? 1 : 0))
  await runner.step(image, label, 1e-4) // warm-up: session allocations
  const t = performance.now()
  for (let s = 0; s < STEPS; s++) await runner.step(image, label, 1e-4)
  const seconds = (performance.now() - t) / 1000 / STEPS
  console.log(JSON.stringify({ seconds, peakMb: process.resourceUsage().maxRSS / 1024 }))
  process.exit(0)
}

const patches = process.argv.includes('--quick') ? [64] : [64, 128]
const self = fileURLToPath(import.meta.url)
console.log(`training step, batch 1, all layers trainable; ${STEPS} timed steps after one warm-up\n`)
console.log('network  patch  threads   s/step   voxels/s    peak MB')
for (const net of Object.keys(NETWORKS)) {
  for (const patch of patches) {
    const perThreads: Record<number, number> = {}
    for (const threads of [1, 2]) {
      const child = spawnSync(process.execPath, [...process.execArgv, self, '--one', net, String(patch), String(threads)], { encoding: 'utf8' })
      const line = child.stdout.trim().split('\n').pop() ?? ''
      if (child.status !== 0 || !line.startsWith('{')) {
        console.log(`${net.padEnd(8)} ${String(patch).padStart(5)}  ${String(threads).padStart(7)}   failed: ${(child.stderr || line).split('\n').slice(-3).join(' ')}`)
        continue
      }
      const { seconds, peakMb } = JSON.parse(line) as { seconds: number; peakMb: number }
      perThreads[threads] = seconds
      console.log(`${net.padEnd(8)} ${String(patch).padStart(5)}  ${String(threads).padStart(7)}  ${seconds.toFixed(2).padStart(7)}  ${(patch ** 3 / seconds).toExponential(2).padStart(9)}  ${peakMb.toFixed(0).padStart(9)}`)
    }
    if (perThreads[1] && perThreads[2]) console.log(`${''.padEnd(8)} ${String(patch).padStart(5)}  2 vs 1 threads: ${(perThreads[1] / perThreads[2]).toFixed(2)}x`)
  }
}

// The data side of a step: one 128³ two-channel patch through all four §5 augmentations.
{
  const { augmentPatch, SEED_AUGMENTATION } = await import('../src/main/training/data/augmentPatch')
  const { uniformRandom } = await import('../src/main/imaging/seededRandom')
  const n = 128 ** 3
  const sample = { image: Float32Array.from({ length: 2 * n }, (_, i) => Math.sin(i * 1e-3)), channels: 2, dims: [128, 128, 128] as [number, number, number], label: new Uint8Array(n) }
  const always = { affine: { ...SEED_AUGMENTATION.affine, p: 1 }, elastic: { ...SEED_AUGMENTATION.elastic, p: 1 }, contrast: { ...SEED_AUGMENTATION.contrast, p: 1 }, noise: { ...SEED_AUGMENTATION.noise, p: 1 } }
  const t = performance.now()
  augmentPatch(sample, uniformRandom(1), always)
  console.log(`\naugmentation (affine + elastic + contrast + noise) of one 128³ two-channel patch: ${((performance.now() - t) / 1000).toFixed(2)} s`)
}
