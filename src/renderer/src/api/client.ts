import { decodeMessage, encodeMessage } from '../../../shared/api/binaryCodec'
import {
  ApiError,
  type ApiArgs,
  type ApiErrorPayload,
  type ApiEventName,
  type ApiEvents,
  type ApiMethod,
  type ApiResults,
  type LesionLabApi,
} from '../../../shared/api/contract'

type Listener = (payload: unknown) => void

/**
 * The renderer's single way to reach the main process. It picks the transport itself: Electron IPC
 * when the preload bridge exists, otherwise the browser-mode WebSocket (token from the page URL).
 * Nothing above this file knows which one it got.
 */
export function createApiClient(): LesionLabApi {
  const listeners = new Map<string, Set<Listener>>()
  const emit = (event: string, payload: unknown): void => listeners.get(event)?.forEach((l) => l(payload))
  const on = <E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): (() => void) => {
    if (!listeners.has(event)) listeners.set(event, new Set())
    listeners.get(event)!.add(listener as Listener)
    return () => listeners.get(event)?.delete(listener as Listener)
  }
  const bridge = window.lesionlabIpc
  if (bridge) {
    bridge.on(emit)
    return {
      async call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]> {
        const reply = await bridge.call(method, args)
        if (!reply.ok) throw new ApiError(reply.error.message, reply.error.kind)
        return reply.result as ApiResults[M]
      },
      on,
    }
  }
  return createWebSocketClient(emit, on)
}

/** Calls that move bulk voxel data go over HTTP POST in browser mode (see websocketServer.ts). */
const BULK_METHODS = new Set<ApiMethod>(['volume.get', 'study.openUploaded'])

function createWebSocketClient(emit: (event: string, payload: unknown) => void, on: LesionLabApi['on']): LesionLabApi {
  const token = new URLSearchParams(location.search).get('token') ?? ''
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api?token=${encodeURIComponent(token)}`
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  let socket: Promise<WebSocket> | null = null

  const connect = (): Promise<WebSocket> => {
    socket ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.binaryType = 'arraybuffer'
      ws.onopen = () => resolve(ws)
      ws.onerror = () => reject(new ApiError('cannot reach the LesionLab server (is it running, and is the address complete with its token?)', 'internal'))
      ws.onclose = () => {
        socket = null
        for (const p of pending.values()) p.reject(new ApiError('the connection to the LesionLab server was lost', 'internal'))
        pending.clear()
        emit('connection.lost', {})
      }
      ws.onmessage = (ev) => {
        const msg = decodeMessage(ev.data as ArrayBuffer) as {
          id?: number | null
          result?: unknown
          error?: ApiErrorPayload
          event?: string
          payload?: unknown
        }
        if (msg.event) {
          emit(msg.event, msg.payload)
          return
        }
        const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined
        if (!p) return
        pending.delete(msg.id as number)
        if (msg.error) p.reject(new ApiError(msg.error.message, msg.error.kind))
        else p.resolve(msg.result)
      }
    })
    return socket
  }

  async function bulkCall<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]> {
    let response: Response
    try {
      response = await fetch('./api/call', {
        method: 'POST',
        headers: { 'x-lesionlab-token': token, 'content-type': 'application/octet-stream' },
        body: encodeMessage({ method, args }),
      })
    } catch {
      throw new ApiError('cannot reach the LesionLab server (is it still running?)', 'internal')
    }
    if (!response.ok) throw new ApiError(`the LesionLab server refused ${method} (${response.status} ${await response.text()})`, 'internal')
    const reply = decodeMessage(await response.arrayBuffer()) as { result?: unknown; error?: ApiErrorPayload }
    if (reply.error) throw new ApiError(reply.error.message, reply.error.kind)
    return reply.result as ApiResults[M]
  }

  return {
    async call<M extends ApiMethod>(method: M, args: ApiArgs<M>): Promise<ApiResults[M]> {
      if (BULK_METHODS.has(method)) return bulkCall(method, args)
      const ws = await connect()
      const id = nextId++
      return new Promise<ApiResults[M]>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        ws.send(encodeMessage({ id, method, args }))
      })
    },
    on,
  }
}
