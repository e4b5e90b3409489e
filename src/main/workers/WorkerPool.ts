import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { TaskInput, TaskName, TaskOutput } from './tasks'
import { InputError } from '../io/InputError'

export interface TaskOptions {
  /** `detail`: task-specific structured progress (e.g. a training step's loss). */
  onProgress?: (fraction: number, message?: string, detail?: unknown) => void
  signal?: AbortSignal
}

export class TaskCancelledError extends Error {
  constructor(task: string) {
    super(`${task} was cancelled`)
    this.name = 'TaskCancelledError'
  }
}

/**
 * How to start the worker script. From source (CLI, browser mode, tests) a small .mjs bootstrap
 * registers tsx and loads the .ts worker; a bundled build (Electron) sets its compiled entry.
 */
let workerScript: string = fileURLToPath(new URL('./taskWorkerFromSource.mjs', import.meta.url))

export function setWorkerScript(path: string): void {
  workerScript = path
}

interface Job {
  id: number
  task: TaskName
  input: unknown
  options: TaskOptions
  resolve: (v: unknown) => void
  reject: (e: Error) => void
}

/**
 * A small pool of worker threads for heavy numeric work. Workers are started lazily and reused;
 * cancelling a running task terminates its worker (the only way to stop a tight loop) and a fresh
 * one is started for the next task.
 */
export class WorkerPool {
  private idle: Worker[] = []
  private busy = new Map<Worker, Job>()
  private queue: Job[] = []
  private nextId = 1

  constructor(readonly size = Math.max(1, Math.min(2, availableParallelism()))) {}

  run<T extends TaskName>(task: T, input: TaskInput<T>, options: TaskOptions = {}): Promise<TaskOutput<T>> {
    return new Promise<TaskOutput<T>>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new TaskCancelledError(task))
      const job: Job = { id: this.nextId++, task, input, options, resolve: resolve as (v: unknown) => void, reject }
      options.signal?.addEventListener('abort', () => this.cancel(job), { once: true })
      this.queue.push(job)
      this.dispatch()
    })
  }

  async close(): Promise<void> {
    const all = [...this.idle, ...this.busy.keys()]
    this.idle = []
    for (const [, job] of this.busy) job.reject(new Error('worker pool closed'))
    this.busy.clear()
    await Promise.all(all.map((w) => w.terminate()))
  }

  private dispatch(): void {
    while (this.queue.length > 0 && (this.idle.length > 0 || this.busy.size < this.size)) {
      const job = this.queue.shift()!
      const worker = this.idle.pop() ?? this.spawn()
      this.busy.set(worker, job)
      worker.ref() // keep the process alive while work is pending
      worker.postMessage({ id: job.id, task: job.task, input: job.input })
    }
  }

  private spawn(): Worker {
    const worker = new Worker(workerScript)
    worker.on('message', (msg: { id: number; kind: string; fraction?: number; message?: string; detail?: unknown; result?: unknown; name?: string; filePath?: string }) => {
      const job = this.busy.get(worker)
      if (!job || job.id !== msg.id) return
      if (msg.kind === 'progress') {
        job.options.onProgress?.(msg.fraction ?? 0, msg.message, msg.detail)
        return
      }
      this.busy.delete(worker)
      this.idle.push(worker)
      worker.unref() // an idle worker must not keep a CLI run from exiting
      if (msg.kind === 'result') job.resolve(msg.result)
      else job.reject(rebuildError(msg))
      this.dispatch()
    })
    worker.on('error', (err) => this.fail(worker, err))
    worker.on('exit', (code) => {
      if (this.busy.has(worker)) this.fail(worker, new Error(`worker stopped unexpectedly (exit code ${code})`))
      this.idle = this.idle.filter((w) => w !== worker)
    })
    return worker
  }

  private fail(worker: Worker, err: Error): void {
    const job = this.busy.get(worker)
    this.busy.delete(worker)
    this.idle = this.idle.filter((w) => w !== worker)
    job?.reject(err)
    void worker.terminate()
    this.dispatch()
  }

  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      job.reject(new TaskCancelledError(job.task))
      return
    }
    for (const [worker, running] of this.busy) {
      if (running === job) {
        if (COOPERATIVE_TASKS.has(job.task)) {
          // Native code (ONNX Runtime) must not be torn down mid-call: ask the task to stop at its next
          // check; its error reply settles the job.
          worker.postMessage({ id: job.id, kind: 'cancel' })
          return
        }
        this.busy.delete(worker)
        job.reject(new TaskCancelledError(job.task))
        void worker.terminate()
        this.dispatch()
        return
      }
    }
  }
}

/**
 * Errors cross the thread boundary as plain data; an InputError must stay an InputError so the
 * user is told about their file, not about a bug.
 */
function rebuildError(msg: { message?: string; name?: string; filePath?: string }): Error {
  if (msg.name === 'TaskCancelledError') {
    const e = new TaskCancelledError('task')
    e.message = msg.message ?? e.message
    return e
  }
  if (msg.name === 'InputError' && msg.filePath !== undefined) {
    const e = new InputError(msg.filePath, '')
    e.message = msg.message ?? e.message
    return e
  }
  return new Error(msg.message)
}

/** Tasks that stop when asked (between windows or training steps) instead of having their thread terminated. */
const COOPERATIVE_TASKS = new Set<TaskName>(['segment', 'fineTune'])

/** The process-wide pool. */
export const workerPool = new WorkerPool()
