import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { WebSocketServer, type WebSocket } from 'ws'
import { decodeMessage, encodeMessage, encodeMessageParts } from '../../shared/api/binaryCodec'
import type { ApiEventName, ApiEvents } from '../../shared/api/contract'
import { toErrorPayload, type Dispatch } from './dispatch'
import { CONTENT_SECURITY_POLICY } from './contentSecurityPolicy'

export interface BrowserServerOptions {
  dispatch: Dispatch
  /** The built renderer (index.html and assets). */
  staticDir: string
  host?: string
  port?: number
  /** Fixed token (tests); a random one per launch otherwise. */
  token?: string
}

export interface BrowserServer {
  /** The address to open, token included. */
  url: string
  port: number
  token: string
  broadcast<E extends ApiEventName>(event: E, payload: ApiEvents[E]): void
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
}

/**
 * Browser mode: serves the built renderer over HTTP and the API over a WebSocket at /api, bound to
 * 127.0.0.1 unless told otherwise. Every API connection must present the per-launch token; all
 * frames are binary (see binaryCodec) so volumes never travel as JSON numbers.
 */
export async function startBrowserServer(options: BrowserServerOptions): Promise<BrowserServer> {
  const host = options.host ?? '127.0.0.1'
  const token = options.token ?? randomBytes(24).toString('hex')
  const clients = new Set<WebSocket>()

  const http = createServer((req, res) => {
    const handle = req.url?.startsWith('/api/call') ? serveBulkCall(req, res) : serveStatic(options.staticDir, req, res)
    handle.catch((e: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`internal error: ${e.message}`)
    })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 ** 31 - 1 })

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/api' || !tokenMatches(url.searchParams.get('token'), token)) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n')
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })

  wss.on('connection', (ws) => {
    clients.add(ws)
    ws.on('close', () => clients.delete(ws))
    ws.on('message', (data, isBinary) => {
      void handleFrame(ws, data as Buffer, isBinary)
    })
  })

  async function handleFrame(ws: WebSocket, data: Buffer, isBinary: boolean): Promise<void> {
    let request: { id?: unknown; method?: unknown; args?: unknown }
    try {
      if (!isBinary) throw new Error('API frames must be binary')
      request = decodeMessage(data) as typeof request
      if (typeof request !== 'object' || request === null || typeof request.id !== 'number') {
        throw new Error('API frame lacks a numeric "id"')
      }
    } catch (e) {
      send(ws, { id: null, error: { kind: 'argument', message: `malformed API frame: ${(e as Error).message}` } })
      return
    }
    try {
      const result = await options.dispatch(request.method, request.args)
      send(ws, { id: request.id, result })
    } catch (e) {
      send(ws, { id: request.id, error: toErrorPayload(e) })
    }
  }

  /**
   * POST /api/call: the same dispatch as the socket, for calls that move hundreds of megabytes
   * (volumes, dropped files). Browsers assemble huge WebSocket messages several times slower than
   * an HTTP body, so the renderer's client sends those calls here. Same token, same binary frames.
   */
  async function serveBulkCall(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405).end()
      return
    }
    if (!tokenMatches(req.headers['x-lesionlab-token'] as string | undefined ?? null, token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('missing or wrong token')
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    let reply: unknown
    try {
      const request = decodeMessage(Buffer.concat(chunks)) as { method?: unknown; args?: unknown }
      reply = { result: await options.dispatch(request?.method, request?.args) }
    } catch (e) {
      reply = { error: toErrorPayload(e) }
    }
    const parts = encodeMessageParts(reply)
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(parts.reduce((n, p) => n + p.byteLength, 0)),
      'cache-control': 'no-store',
    })
    for (const part of parts) {
      if (!res.write(part)) await new Promise((r) => res.once('drain', r))
    }
    res.end()
  }

  function send(ws: WebSocket, message: unknown): void {
    if (ws.readyState !== ws.OPEN) return
    ws.send(encodeMessage(message), { binary: true })
  }

  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject)
    http.listen(options.port ?? 0, host, () => resolveListen())
  })
  const address = http.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const shownHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    broadcast(event, payload) {
      for (const ws of clients) send(ws, { event, payload })
    },
    async close() {
      for (const ws of clients) ws.terminate()
      wss.close()
      await new Promise<void>((r) => http.close(() => r()))
    },
  }
}

function tokenMatches(given: string | null, expected: string): boolean {
  if (!given) return false
  // Compare byte lengths, not string lengths: a non-ASCII token of the same length in characters has
  // more bytes, and timingSafeEqual would throw (uncaught, in the upgrade handler: a crash).
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end()
    return
  }
  const url = new URL(req.url ?? '/', 'http://localhost')
  let rel: string
  try {
    rel = decodeURIComponent(url.pathname)
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('malformed URL')
    return
  }
  if (rel === '/' || rel === '') rel = '/index.html'
  const base = resolve(root)
  const full = normalize(join(base, rel))
  if (!full.startsWith(base + sep)) {
    res.writeHead(403).end()
    return
  }
  try {
    const s = await stat(full)
    if (!s.isFile()) throw new Error('not a file')
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    return
  }
  const body = await readFile(full)
  res.writeHead(200, {
    'content-type': MIME[extname(full)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
