import { Worker } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { ITK_WORKER_SOURCE } from './itkWorkerSource'

/** Image header fields as the worker sends them (itk-wasm's Image, flattened to plain arrays). */
export interface WireHeader {
  dimension: number
  componentType: string
  pixelType: string
  components: number
  size: number[]
  spacing: number[]
  origin: number[]
  /** Row-major dimension x dimension matrix; column N is voxel axis N (ITK convention). */
  direction: number[]
  metadata: [string, string][]
}

export interface WireImage extends WireHeader {
  /** Backed by a SharedArrayBuffer (itk-wasm copies out of wasm memory into one), so it crosses threads uncopied. */
  data: ArrayLike<number | bigint> & ArrayBufferView
  /** The checksum asked for, over data's bytes. */
  checksum?: number
}

export interface WireWriteImage {
  componentType: string
  size: number[]
  spacing: number[]
  origin: number[]
  direction: number[]
  data: ArrayBufferView
}

export type ItkRequest =
  | { op: 'read'; path: string; checksum?: 'adler32' | 'crc32' }
  | { op: 'write'; path: string; image: WireWriteImage; compress: boolean }

type ItkReply =
  | { id: number; ok: true; image?: WireImage; log: string }
  | { id: number; ok: false; error: string; unavailable: boolean; log: string }

/**
 * itk-wasm failed: `reason` is its message, `log` what ITK printed while it ran. kind: 'error' (it
 * refused the input), 'timeout', 'crash' (the thread died), 'unavailable' (itk-wasm could not be loaded:
 * an installation problem, not the file's).
 */
export class ItkFailure extends Error {
  constructor(
    readonly reason: string,
    readonly log: string,
    readonly kind: 'error' | 'timeout' | 'crash' | 'unavailable' = 'error',
  ) {
    super(reason)
    this.name = 'ItkFailure'
  }
}

const RECYCLE_AFTER_BYTES = 64 * 1024 * 1024

interface Job {
  id: number
  request: ItkRequest
  timeoutMs: number
  resolve: (reply: { image?: WireImage; log: string }) => void
  reject: (e: Error) => void
}

/**
 * One itk-wasm worker thread, reused between calls and replaced when a call times out or the thread
 * dies. Calls run one at a time (each itk-wasm pipeline is single-threaded anyway).
 */
class ItkWorkerClient {
  private worker: Worker | null = null
  private current: Job | null = null
  private timer: NodeJS.Timeout | null = null
  private queue: Job[] = []
  private nextId = 1

  run(request: ItkRequest, timeoutMs: number): Promise<{ image?: WireImage; log: string }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, request, timeoutMs, resolve, reject })
      this.dispatch()
    })
  }

  async close(): Promise<void> {
    const pending = this.queue.splice(0)
    const worker = this.worker
    this.worker = null
    this.finish(new ItkFailure('the image reader was closed', '', 'crash'))
    for (const job of pending) job.reject(new ItkFailure('the image reader was closed', '', 'crash'))
    if (worker) await worker.terminate()
  }

  private dispatch(): void {
    if (this.current || this.queue.length === 0) return
    const job = this.queue.shift()!
    let worker: Worker
    try {
      worker = this.worker ?? this.spawn()
    } catch (e) {
      job.reject(new ItkFailure(`cannot start the itk-wasm thread (${(e as Error).message})`, '', 'unavailable'))
      this.dispatch()
      return
    }
    this.current = job
    worker.ref()
    this.timer = setTimeout(() => {
      // A pipeline stuck in a loop never yields: only terminating the thread stops it.
      this.discard(worker)
      this.finish(new ItkFailure(`gave up after ${(job.timeoutMs / 1000).toFixed(job.timeoutMs < 10_000 ? 1 : 0)} s`, '', 'timeout'))
    }, job.timeoutMs)
    worker.postMessage({ id: job.id, ...job.request })
  }

  private spawn(): Worker {
    const imageIoUrl = pathToFileURL(createRequire(import.meta.url).resolve('@itk-wasm/image-io')).href
    const worker = new Worker(ITK_WORKER_SOURCE, { eval: true, workerData: { imageIoUrl }, stdout: true, stderr: true })
    // Anything the thread prints directly (not through console) is dropped: errors come back as replies.
    worker.stdout.resume()
    worker.stderr.resume()
    worker.on('message', (reply: ItkReply) => {
      const job = this.current
      if (worker !== this.worker || !job || reply.id !== job.id) return
      // Each itk-wasm call leaves a wasm memory as large as the image for the GC to find some time later;
      // after a big image, a fresh thread is cheaper than holding gigabytes until then.
      const bytes = reply.ok ? reply.image?.data.byteLength ?? 0 : 0
      const written = job.request.op === 'write' ? job.request.image.data.byteLength : 0
      if (Math.max(bytes, written) > RECYCLE_AFTER_BYTES) this.discard(worker)
      if (reply.ok) this.finish(null, { image: reply.image, log: reply.log })
      else this.finish(new ItkFailure(reply.error, reply.log, reply.unavailable ? 'unavailable' : 'error'))
    })
    worker.on('error', (e) => {
      if (worker !== this.worker) return
      this.discard(worker)
      this.finish(new ItkFailure(`the image reader stopped (${e.message})`, '', 'crash'))
    })
    worker.on('exit', (code) => {
      if (worker !== this.worker) return
      this.worker = null
      this.finish(new ItkFailure(`the image reader stopped (exit code ${code})`, '', 'crash'))
    })
    this.worker = worker
    return worker
  }

  private discard(worker: Worker): void {
    if (this.worker === worker) this.worker = null
    void worker.terminate()
  }

  private finish(error: Error | null, reply?: { image?: WireImage; log: string }): void {
    const job = this.current
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.current = null
    this.worker?.unref() // an idle reader must not keep a CLI run alive
    if (job) {
      if (error) job.reject(error)
      else job.resolve(reply!)
    }
    this.dispatch()
  }
}

const client = new ItkWorkerClient()

/** Run one itk-wasm operation in the shared worker thread; rejects with ItkFailure. */
export function runItk(request: ItkRequest, timeoutMs: number): Promise<{ image?: WireImage; log: string }> {
  return client.run(request, timeoutMs)
}

/** Stop the itk-wasm worker thread (tests, shutdown). A later call starts a fresh one. */
export function closeItkWorker(): Promise<void> {
  return client.close()
}
