import { parentPort } from 'node:worker_threads'
import { tasks, type TaskName } from './tasks'

/** Worker-thread side of the pool: runs one task at a time and reports progress. */
interface Request {
  id: number
  kind?: 'run' | 'cancel'
  task: TaskName
  input: unknown
}

/** Running tasks' abort controllers: native code (ONNX Runtime) cannot be killed mid-call, only asked to stop. */
const running = new Map<number, AbortController>()

const port = parentPort
if (!port) throw new Error('taskWorker must run in a worker thread')

port.on('message', async (request: Request) => {
  const { id, task, input } = request
  if (request.kind === 'cancel') {
    running.get(id)?.abort()
    return
  }
  const controller = new AbortController()
  running.set(id, controller)
  let lastReport = 0
  const progress = (fraction: number, message?: string, detail?: unknown, force = false): void => {
    // Throttle: a message per slice would flood the parent on a 500-slice volume (never a forced one).
    const now = Date.now()
    if (!force && fraction < 1 && now - lastReport < 100) return
    lastReport = now
    port.postMessage({ id, kind: 'progress', fraction, message, detail })
  }
  try {
    const run = tasks[task] as (input: unknown, progress: (f: number, m?: string, d?: unknown, force?: boolean) => void, signal: AbortSignal) => unknown
    if (!run) throw new Error(`unknown worker task "${task}"`)
    const result = await run(input, progress, controller.signal)
    port.postMessage({ id, kind: 'result', result })
  } catch (e) {
    port.postMessage({ id, kind: 'error', message: (e as Error).message, name: (e as Error).name, filePath: (e as { filePath?: string }).filePath })
  } finally {
    running.delete(id)
  }
})
