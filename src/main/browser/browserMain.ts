import { existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join, resolve } from 'node:path'
import { createAppServices } from '../api/createAppServices'
import { startBrowserServer } from '../api/websocketServer'

/**
 * Browser mode: the main-process services in plain Node, the renderer in any browser. How the app
 * runs where no Electron binary exists, and how a lab serves it from a GPU machine.
 *
 *   node bin/lesionlab-browser.mjs [study path] [--port N] [--host ADDR] [--open]
 */
export async function runBrowserMode(argv: string[]): Promise<void> {
  const args = parseArgs(argv)
  const rendererDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../out/renderer')
  if (!existsSync(join(rendererDir, 'index.html'))) {
    console.error(`The renderer is not built (${rendererDir} is missing). Run "npm run build" first, or "npm start".`)
    process.exit(1)
  }
  const services = createAppServices({
    transport: 'websocket',
    startupStudyPath: args.studyPath ? resolve(args.studyPath) : undefined,
    browseRoot: args.studyPath ? dirname(resolve(args.studyPath)) : process.cwd(),
  })
  const server = await startBrowserServer({
    dispatch: services.dispatch,
    staticDir: rendererDir,
    host: args.host,
    port: args.port,
    token: process.env.LESIONLAB_TOKEN,
  })
  services.setEventSink((event, payload) => server.broadcast(event, payload))
  if (args.host && args.host !== '127.0.0.1' && args.host !== 'localhost') {
    console.warn(`Warning: serving on ${args.host}; anyone who can reach it and has the address below can open studies on this machine.`)
  }
  console.log(`LesionLab (browser mode) is running. Open this address in Chromium, Chrome, Edge or Firefox:\n\n  ${server.url}\n`)
  console.log('Press Ctrl+C to stop.')
  if (args.open) openInBrowser(server.url)
  const stop = (): void => {
    void server.close().then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

function parseArgs(argv: string[]): { studyPath?: string; port?: number; host?: string; open: boolean } {
  const out: { studyPath?: string; port?: number; host?: string; open: boolean } = { open: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--open') out.open = true
    else if (a === '--port') out.port = Number(argv[++i])
    else if (a === '--host') out.host = argv[++i]
    else if (a.startsWith('--')) {
      console.error(`Unknown option ${a}. Usage: lesionlab-browser [study path] [--port N] [--host ADDR] [--open]`)
      process.exit(2)
    } else out.studyPath = a
  }
  if (out.port !== undefined && !(Number.isInteger(out.port) && out.port >= 0 && out.port < 65536)) {
    console.error('--port needs a number between 0 and 65535')
    process.exit(2)
  }
  return out
}

function openInBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open'
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url]
  try {
    spawn(command, args, { detached: true, stdio: 'ignore' })
      .on('error', () => console.log(`Could not open a browser (${command}); open the address above yourself.`))
      .unref()
  } catch {
    console.log('Could not open a browser; open the address above yourself.')
  }
}
