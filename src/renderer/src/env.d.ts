/// <reference types="vite/client" />
import type { LesionLabIpcBridge } from '../../preload/bridge'

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

declare global {
  interface Window {
    /** Present only in Electron (set by the preload script). */
    lesionlabIpc?: LesionLabIpcBridge
  }
}
