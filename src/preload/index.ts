import { contextBridge, ipcRenderer } from 'electron'
import type { LesionLabIpcBridge } from './bridge'

/**
 * The only thing the sandboxed renderer gets from Electron: a call channel to the API contract and
 * an event subscription. No Node, no file system.
 */
const bridge: LesionLabIpcBridge = {
  call: (method, args) => ipcRenderer.invoke('lesionlab:call', method, args),
  on: (listener) => {
    const wrapped = (_e: Electron.IpcRendererEvent, event: string, payload: unknown): void => listener(event, payload)
    ipcRenderer.on('lesionlab:event', wrapped)
    return () => ipcRenderer.removeListener('lesionlab:event', wrapped)
  },
}

contextBridge.exposeInMainWorld('lesionlabIpc', bridge)
