import { spawn, type ChildProcess } from 'node:child_process'
import { join, resolve } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
export const dataDir = resolve(repoRoot, '../shared/data')

export interface RunningServer {
  url: string
  process: ChildProcess
  output: () => string
  stop(): Promise<void>
}

/**
 * Start LesionLab exactly as a user does without Electron (`npm start` → browser mode), in a child
 * process, and wait for the address it prints.
 */
export async function startBrowserMode(args: string[] = [], env: Record<string, string> = {}): Promise<RunningServer> {
  // Each run keeps its per-study settings in a fresh folder, so runs never see each other's state.
  const dataDir = mkdtempSync(join(tmpdir(), 'lesionlab-e2e-data-'))
  const child = spawn(process.execPath, [resolve(repoRoot, 'scripts/start.mjs'), '--browser', ...args], {
    cwd: repoRoot,
    env: { ...process.env, FORCE_COLOR: '0', LESIONLAB_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let log = ''
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not print its address within 120 s:\n${log}`)), 120_000)
    const check = (): void => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        resolveUrl(m[1])
      }
    }
    child.stdout!.on('data', check)
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`browser mode exited with code ${code} before printing its address:\n${log}`))
    })
  })
  return {
    url,
    process: child,
    output: () => log,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done()
        child.once('exit', () => done())
        child.kill('SIGTERM')
      }),
  }
}
