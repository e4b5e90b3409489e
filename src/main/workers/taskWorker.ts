import { parentPort } from 'node:worker_threads'
import { tasks, type TaskName } from './tasks'

/** Worker-thread side of the pool: runs one task at a time and reports progress. */
interface Request {
  id: number
  task: TaskName
  input: unknown
}

const port = parentPort
if (!port) throw new Error('taskWorker must run in a worker thread')

port.on('message', async (request: Request) => {
  const { id, task, input } = request
  let lastReport = 0
  const progress = (fraction: number, message?: string): void => {
    // Throttle: a message per slice would flood the parent on a 500-slice volume.
    const now = Date.now()
    if (fraction < 1 && now - lastReport < 100) return
    lastReport = now
    port.postMessage({ id, kind: 'progress', fraction, message })
  }
  try {
    const run = tasks[task] as (input: unknown, progress: (f: number, m?: string) => void) => unknown
    if (!run) throw new Error(`unknown worker task "${task}"`)
    const result = await run(input, progress)
    port.postMessage({ id, kind: 'result', result })
  } catch (e) {
    port.postMessage({ id, kind: 'error', message: (e as Error).message, name: (e as Error).name, filePath: (e as { filePath?: string }).filePath })
  }
})
