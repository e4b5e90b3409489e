/**
 * npm run train:demo [-- --steps N --threads N --out DIR --force]
 * Trains the shipped demo model set (src/main/training/demoModelSet.ts) into resources/models.
 */
import { mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DEMO_MODEL_SET, trainDemoModelSet } from '../src/main/training/demoModelSet'

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const root = resolve(option('out') ?? 'resources/models')
const target = join(root, DEMO_MODEL_SET.id)
if ((await stat(target).catch(() => null)) && !args.includes('--force')) {
  console.error(`${target} exists; add --force to train it again and replace it`)
  process.exit(1)
}
// Trained into a scratch folder and swapped in only at the end: a failed or interrupted run leaves the
// shipped set as it was.
const scratch = await mkdtemp(join(root, '.train-demo-'))
const started = Date.now()
try {
  const set = await trainDemoModelSet({
    root: scratch,
    steps: option('steps') ? Number(option('steps')) : undefined,
    threads: option('threads') ? Number(option('threads')) : undefined,
    onProgress: (p) => {
      if (!('step' in p)) console.log(p.message)
      else if (p.step % 50 === 0 || p.validationDice !== undefined) console.log(`${p.message}  (lr ${p.learningRate.toExponential(2)}, ~${Math.ceil(p.secondsLeft)} s left)`)
    },
  })
  await rm(target, { recursive: true, force: true })
  await rename(set.dir, target)
  console.log(`wrote ${target} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  console.log(JSON.stringify(set.manifest?.evaluation, null, 2))
} finally {
  await rm(scratch, { recursive: true, force: true })
}
