// `npm start`: build what is stale, then run LesionLab in Electron if its binary is installed,
// otherwise in browser mode (printing the address). Extra arguments go to the app, e.g.
//   npm start -- /path/to/study --open
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync, statSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const forceBrowser = args.includes('--browser')
const appArgs = args.filter((a) => a !== '--browser')

function newestMtime(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

const built = join(root, 'out/renderer/index.html')
if (!existsSync(built) || newestMtime(join(root, 'src')) > statSync(built).mtimeMs) {
  console.log('Building LesionLab…')
  const r = spawnSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { stdio: 'inherit', cwd: root })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

function electronBinary() {
  try {
    // The electron package exports the binary's path, and throws if the binary was never downloaded.
    const path = createRequire(import.meta.url)('electron')
    return typeof path === 'string' && existsSync(path) ? path : null
  } catch {
    return null
  }
}

const electron = forceBrowser ? null : electronBinary()
if (electron) {
  const child = spawn(electron, [root, ...appArgs], { stdio: 'inherit' })
  child.on('exit', (code) => process.exit(code ?? 0))
} else {
  if (!forceBrowser) console.log('No Electron binary installed (see README, "Desktop app"); starting browser mode.')
  const { register } = await import('tsx/esm/api')
  register()
  const { runBrowserMode } = await import('../src/main/browser/browserMain.ts')
  await runBrowserMode(appArgs)
}
