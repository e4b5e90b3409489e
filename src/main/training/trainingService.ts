import { resolve } from 'node:path'
import type { ApiEvents, FineTuneResult, FineTuneStartArgs, TrainingProgress, TrainingStatus } from '../../shared/api/contract'
import { InputError } from '../io/InputError'
import { requireInstalledModelSet } from '../inference/modelSet/modelSetRegistry'
import type { StudySession } from '../study/StudySession'
import { TaskCancelledError, workerPool } from '../workers/WorkerPool'
import type { TrainingCaseSource } from './data/prepareTrainingCase'
import { DEFAULT_FINE_TUNE, type FineTuneSettings } from './fineTuneFold'
import type { FineTuneRunProgress } from './fineTuneModelSet'

type Emit = <E extends keyof ApiEvents>(event: E, payload: ApiEvents[E]) => void

interface RunningTraining {
  taskId: string
  abort: AbortController
  /** Int32Array on a SharedArrayBuffer the worker polls between steps: 1 = paused. */
  pauseFlag: Int32Array
  last: TrainingProgress | null
}

/**
 * Fine-tuning for the app: one run at a time, in a worker thread, with progress events, pause and
 * cancel. The new model set is installed only when the run completes; a cancel, a crash or an error
 * leaves every existing set as it was.
 */
export class TrainingService {
  private running: RunningTraining | null = null

  constructor(
    private readonly session: StudySession,
    private readonly emit: Emit,
  ) {}

  async start(args: FineTuneStartArgs): Promise<FineTuneResult> {
    // Claimed before the first await, so two quick calls can never both start a run.
    if (this.running) throw new Error('a fine-tuning run is already going; cancel it or wait for it to finish')
    const taskId = args.taskId ?? `fine-tune-${Date.now()}`
    const running: RunningTraining = { taskId, abort: new AbortController(), pauseFlag: new Int32Array(new SharedArrayBuffer(4)), last: null }
    this.running = running
    let label = 'Fine-tuning'
    try {
      const base = await requireInstalledModelSet(args.baseModelSetId)
      label = `Fine-tuning ${base.manifest.name}`
      const cancelled = (): void => {
        if (running.abort.signal.aborted) throw new TaskCancelledError('fine-tuning')
      }
      this.emit('progress', { taskId, label: 'Reading the training cases', fraction: 0, done: false })
      const cases: TrainingCaseSource[] = []
      if (args.useCurrentStudy) {
        const current = await this.session.trainingSource()
        if (current.reviewState !== 'done' && !args.includeUnreviewed) {
          throw new InputError(current.name, `its review is "${current.reviewState}", not done: finish the review (or tick "use it anyway")`)
        }
        cases.push(current)
      }
      // Study folders are read by the worker, one at a time (a cohort never sits here at full resolution).
      const casePaths = args.casePaths.map((p) => resolve(p))
      if (cases.length + casePaths.length === 0) throw new Error('choose at least one case to learn from')
      cancelled()
      const validation = !args.validationPath && args.validateOnCurrentStudy ? await this.session.trainingSource() : undefined
      const settings: FineTuneSettings = { ...DEFAULT_FINE_TUNE, ...args.settings, trainable: { ...DEFAULT_FINE_TUNE.trainable, ...args.settings.trainable } }
      const outcome = await workerPool.run(
        'fineTune',
        {
          base,
          outName: args.outName,
          cases,
          casePaths,
          validation,
          validationPath: args.validationPath ? resolve(args.validationPath) : undefined,
          settings,
          folds: args.folds,
          device: args.device,
          pauseFlag: running.pauseFlag,
        },
        {
          signal: running.abort.signal,
          onProgress: (fraction, message, detail) => {
            const p = detail as FineTuneRunProgress | undefined
            this.emit('progress', { taskId, label: message ?? label, fraction, done: false })
            if (p) {
              running.last = { taskId, paused: Atomics.load(running.pauseFlag, 0) === 1, ...p }
              this.emit('training.progress', running.last)
            }
          },
        },
      )
      this.emit('training.progress', { taskId, paused: false, fraction: 1, message: 'ended', outcome: { modelSetId: outcome.set.id } })
      return {
        modelSetId: outcome.set.id,
        provider: outcome.provider,
        folds: outcome.folds.map((f) => ({ fold: f.fold, stepsRun: f.stepsRun, bestStep: f.bestStep, stoppedEarly: f.stoppedEarly, diceBefore: f.diceBefore ?? null, diceAfter: f.diceAfter ?? null, losses: f.losses })),
      }
    } catch (e) {
      // Also told as an event: a window reloaded during the run has no call waiting for this error.
      const outcome = e instanceof TaskCancelledError ? { cancelled: true } : { error: (e as Error).message }
      this.emit('training.progress', { taskId, paused: false, fraction: 1, message: 'ended', outcome })
      throw e
    } finally {
      this.running = null
      this.emit('progress', { taskId, label, fraction: 1, done: true })
    }
  }

  /** The run going now, if any (a reloaded window finds its run again). */
  status(): TrainingStatus {
    const r = this.running
    return r ? { taskId: r.taskId, paused: Atomics.load(r.pauseFlag, 0) === 1, last: r.last } : null
  }

  setPaused(taskId: string, paused: boolean): { paused: boolean } {
    const running = this.requireRun(taskId)
    Atomics.store(running.pauseFlag, 0, paused ? 1 : 0)
    return { paused }
  }

  /** true when a run with this id was going and has been asked to stop. */
  cancel(taskId: string): boolean {
    if (this.running?.taskId !== taskId) return false
    Atomics.store(this.running.pauseFlag, 0, 0)
    this.running.abort.abort()
    return true
  }

  private requireRun(taskId: string): RunningTraining {
    if (!this.running || this.running.taskId !== taskId) throw new Error(`no fine-tuning run ${taskId} is going`)
    return this.running
  }
}
