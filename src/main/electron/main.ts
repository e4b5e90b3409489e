import { app, BrowserWindow, ipcMain, shell } from 'electron'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAppServices } from '../api/createAppServices'
import { toErrorPayload } from '../api/dispatch'
import { setWorkerScript } from '../workers/WorkerPool'
import { copySharedBuffers } from './ipcSafe'

/**
 * The Electron main process: the same services as browser mode, served over IPC to a hardened window.
 */
const here = dirname(fileURLToPath(import.meta.url))
setWorkerScript(join(here, 'taskWorker.js'))
// Model sets that ship with the app: electron-builder copies resources/models beside the app.
process.env.LESIONLAB_SHIPPED_MODELS ??= app.isPackaged ? join(process.resourcesPath, 'models') : join(here, '../../resources/models')

const studyArg = process.argv.slice(app.isPackaged ? 1 : 2).find((a) => !a.startsWith('-') && a !== '.')
const services = createAppServices({
  transport: 'ipc',
  startupStudyPath: studyArg ? resolve(studyArg) : undefined,
  browseRoot: studyArg ? dirname(resolve(studyArg)) : app.getPath('home'),
})

ipcMain.handle('lesionlab:call', async (_event, method: unknown, args: unknown) => {
  try {
    return { ok: true, result: copySharedBuffers(await services.dispatch(method, args)) }
  } catch (e) {
    return { ok: false, error: toErrorPayload(e) }
  }
})

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1600,
    height: 1000,
    title: 'LesionLab',
    backgroundColor: '#111418',
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  })
  services.setEventSink((event, payload) => {
    if (!win.isDestroyed()) win.webContents.send('lesionlab:event', event, copySharedBuffers(payload))
  })
  // The window shows our renderer only: no navigation away, no new windows (links open outside).
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  void win.loadFile(join(here, '../renderer/index.html'))
}

app.whenReady().then(() => {
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
