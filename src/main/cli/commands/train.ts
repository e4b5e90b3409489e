import { resolve } from 'node:path'
import { findStudyFolders } from '../../training/data/studyCases'
import { DEFAULT_FINE_TUNE, type FineTuneSettings } from '../../training/fineTuneFold'
import type { FineTuneRunProgress } from '../../training/fineTuneModelSet'
import { workerPool } from '../../workers/WorkerPool'
import { parseArgs, rejectUnknown, UsageError } from '../args'
import type { Command } from '../main'
import { findModelSet } from '../findModelSet'

const DEVICES = ['auto', 'cpu', 'cuda', 'webgpu', 'dml'] as const

export const trainCommand: Command = {
  name: 'train',
  summary: 'Fine-tune a model set on corrected cases into a new model set (no Python; the original is never changed)',
  usage:
    'lesionlab train --models SET --cases PATH --out NEWSET [--validation CASE] [--steps 200] [--lr 2e-5] [--patch 64] [--batch 2] ' +
    '[--layers all|decoder] [--freeze-norm] [--folds 0,1] [--validate-every 50] [--patience 0] [--no-augment] [--constant-lr] [--seed 1] ' +
    '[--device auto|cpu|cuda|webgpu] [--threads 2] [--json]',
  async run(argv) {
    const args = parseArgs(argv, ['models', 'cases', 'out', 'validation', 'steps', 'lr', 'patch', 'batch', 'layers', 'folds', 'validate-every', 'patience', 'seed', 'device', 'threads'])
    rejectUnknown(args, ['freeze-norm', 'no-augment', 'constant-lr', 'json'], this.usage)
    for (const required of ['models', 'cases', 'out']) {
      if (!args.options.has(required)) throw new UsageError(`--${required} is needed\nUsage: ${this.usage}`)
    }
    const device = (args.options.get('device') ?? 'auto') as (typeof DEVICES)[number]
    if (!DEVICES.includes(device)) throw new UsageError(`--device ${device}: one of ${DEVICES.join(', ')}`)
    const int = (name: string, fallback: number, min: number): number => {
      if (!args.options.has(name)) return fallback
      const v = Number(args.options.get(name))
      if (!Number.isInteger(v) || v < min) throw new UsageError(`--${name} needs a whole number >= ${min}`)
      return v
    }
    const layers = args.options.get('layers') ?? 'all'
    if (layers !== 'all' && layers !== 'decoder') throw new UsageError('--layers is all or decoder')
    const lr = args.options.has('lr') ? Number(args.options.get('lr')) : DEFAULT_FINE_TUNE.learningRate
    if (!(lr > 0 && lr < 1)) throw new UsageError('--lr is a learning rate between 0 and 1, e.g. 2e-5')
    const patch = int('patch', DEFAULT_FINE_TUNE.patch, 16)
    if (patch % 16 !== 0) throw new UsageError('--patch is a multiple of 16')
    const settings: FineTuneSettings = {
      ...DEFAULT_FINE_TUNE,
      steps: int('steps', DEFAULT_FINE_TUNE.steps, 1),
      learningRate: lr,
      patch,
      batch: int('batch', DEFAULT_FINE_TUNE.batch, 1),
      trainable: { layers, normAffine: !args.flags.has('freeze-norm') },
      validateEvery: int('validate-every', DEFAULT_FINE_TUNE.validateEvery, 0),
      patience: int('patience', DEFAULT_FINE_TUNE.patience, 0),
      augment: !args.flags.has('no-augment'),
      schedule: args.flags.has('constant-lr') ? 'constant' : 'cosine',
      seed: int('seed', DEFAULT_FINE_TUNE.seed, 0),
      threads: int('threads', DEFAULT_FINE_TUNE.threads, 1),
    }
    const folds = args.options.has('folds') ? args.options.get('folds')!.split(',').map((f) => Number(f)) : undefined
    if (folds && !folds.every((f) => Number.isInteger(f) && f >= 0)) throw new UsageError('--folds is a comma-separated list of fold numbers, e.g. 0,2')

    const base = await findModelSet(args.options.get('models')!)
    const casePaths = await findStudyFolders(resolve(args.options.get('cases')!))
    process.stderr.write(`${casePaths.length} case(s)\n`)
    const validationPath = args.options.has('validation') ? resolve(args.options.get('validation')!) : undefined

    let last = ''
    const outcome = await workerPool.run(
      'fineTune',
      { base, outName: args.options.get('out')!, cases: [], casePaths, validationPath, settings, folds, device },
      {
        onProgress: (fraction, message, detail) => {
          const p = detail as FineTuneRunProgress | undefined
          const eta = p?.secondsLeft !== undefined ? `  ~${Math.ceil(p.secondsLeft)} s left` : ''
          const line = `${(fraction * 100).toFixed(0).padStart(3)}%  ${message ?? ''}${eta}`
          if (line !== last) process.stderr.write(`\r${line.padEnd(100)}`)
          last = line
        },
      },
    )
    process.stderr.write('\n')
    if (args.flags.has('json')) {
      console.log(JSON.stringify({ modelSet: outcome.set.id, dir: outcome.set.dir, provider: outcome.provider, folds: outcome.folds.map(({ losses: _l, ...f }) => f) }, null, 2))
    } else {
      console.log(`wrote model set ${outcome.set.id} (${outcome.set.dir}) on ${outcome.provider}; ${base.id} is unchanged`)
      for (const f of outcome.folds) {
        const dice = f.diceBefore !== undefined ? `, validation Dice ${f.diceBefore.toFixed(3)} -> ${(f.diceAfter ?? NaN).toFixed(3)} (best at step ${f.bestStep})` : ''
        console.log(`  ${f.fold}: ${f.stepsRun} steps, loss ${f.losses[0].toFixed(4)} -> ${f.losses[f.losses.length - 1].toFixed(4)}${dice}${f.stoppedEarly ? ', stopped early' : ''}`)
      }
    }
    return 0
  },
}
