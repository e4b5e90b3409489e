import type { ApiErrorPayload } from '../shared/api/contract'

/** What the preload script exposes on `window.lesionlabIpc`. */
export interface LesionLabIpcBridge {
  call(method: string, args: unknown): Promise<{ ok: true; result: unknown } | { ok: false; error: ApiErrorPayload }>
  on(listener: (event: string, payload: unknown) => void): () => void
}
