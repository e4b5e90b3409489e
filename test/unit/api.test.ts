import { mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { decodeMessage, encodeMessage } from '../../src/shared/api/binaryCodec'
import type { ApiErrorPayload, ApiEvents, VolumePayload } from '../../src/shared/api/contract'
import { sameGrid } from '../../src/shared/geometry'
import type { StudyInfo } from '../../src/shared/study'
import { createAppServices, type AppServices } from '../../src/main/api/createAppServices'
import { CONTENT_SECURITY_POLICY } from '../../src/main/api/contentSecurityPolicy'
import { startBrowserServer, type BrowserServer } from '../../src/main/api/websocketServer'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { resampleTrilinear } from '../../src/main/imaging/resample/resampleTrilinear'
import { workerPool } from '../../src/main/workers/WorkerPool'
import { bytesOf, makeTempDir, STS_001, STS_001_CT, STS_001_PET } from './helpers/data'

interface Reply {
  id: number | null
  result?: unknown
  error?: ApiErrorPayload
}

/** A minimal API client over the `ws` package, speaking the binary frames. */
class Client {
  private nextId = 1
  private pending = new Map<number, (r: Reply) => void>()
  private nullIdWaiters: ((r: Reply) => void)[] = []
  readonly events: { event: string; payload: unknown }[] = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error('the server sent a text frame')
      const msg = decodeMessage(data) as Reply & { event?: string; payload?: unknown }
      if (typeof msg.event === 'string') {
        this.events.push({ event: msg.event, payload: msg.payload })
      } else if (msg.id === null) {
        this.nullIdWaiters.shift()?.(msg)
      } else {
        this.pending.get(msg.id)?.(msg)
        this.pending.delete(msg.id)
      }
    })
  }

  static connect(url: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('open', () => resolve(new Client(ws)))
      ws.once('error', reject)
    })
  }

  call(method: unknown, args?: unknown): Promise<Reply> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.pending.set(id, resolve)
      this.ws.send(encodeMessage({ id, method, args }), { binary: true })
    })
  }

  /** Send raw data and wait for the server's reply with id null (a frame it could not read). */
  sendRaw(data: string | Uint8Array, binary: boolean): Promise<Reply> {
    return new Promise((resolve) => {
      this.nullIdWaiters.push(resolve)
      this.ws.send(data, { binary })
    })
  }

  close(): void {
    this.ws.terminate()
  }
}

/** Try to open a socket; 'open', the refusal's message, or 'no answer' after 5 s. */
function tryConnect(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => {
      ws.terminate()
      resolve('no answer')
    }, 5000)
    ws.once('open', () => {
      clearTimeout(timer)
      ws.terminate()
      resolve('open')
    })
    ws.once('error', (e) => {
      clearTimeout(timer)
      resolve(e.message)
    })
  })
}

function httpGet(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    // A raw path: no URL normalisation on the client side.
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.on('error', reject)
    req.end()
  })
}

const tmp = makeTempDir('lesionlab-api-')
const SECRET = 'top-secret-outside-the-static-folder'
let services: AppServices
let server: BrowserServer
let client: Client
let apiUrl: string

beforeAll(async () => {
  const staticDir = join(tmp.dir, 'static')
  mkdirSync(join(staticDir, 'assets'), { recursive: true })
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>LesionLab test</title><p>hello</p>')
  writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)')
  writeFileSync(join(tmp.dir, 'secret.txt'), SECRET)
  services = createAppServices({ transport: 'websocket' })
  server = await startBrowserServer({ dispatch: services.dispatch, staticDir })
  services.setEventSink((event, payload) => server.broadcast(event, payload))
  apiUrl = `ws://127.0.0.1:${server.port}/api?token=${server.token}`
  client = await Client.connect(apiUrl)
})

afterAll(async () => {
  client?.close()
  await server?.close()
  await workerPool.close()
  tmp.cleanup()
})

describe('WebSocket API: access', () => {
  it('the server is on 127.0.0.1 with a long random token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`)
    expect(server.token).toMatch(/^[0-9a-f]{48}$/)
  })

  it('a wrong, missing or empty token, or another path: refused with 401', async () => {
    const base = `ws://127.0.0.1:${server.port}`
    const wrong = server.token.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    for (const url of [`${base}/api?token=${wrong}`, `${base}/api`, `${base}/api?token=`, `${base}/api?token=${server.token}x`, `${base}/other?token=${server.token}`]) {
      expect(await tryConnect(url), url).toMatch(/401/)
    }
    expect(await tryConnect(apiUrl)).toBe('open')
  })

  it('a token with non-ASCII characters (same length in characters) is refused, not a crash', async () => {
    const base = `ws://127.0.0.1:${server.port}`
    const unicode = encodeURIComponent('é'.repeat(server.token.length))
    expect(await tryConnect(`${base}/api?token=${unicode}`)).toMatch(/401/)
    expect((await client.call('app.info', {})).result).toMatchObject({ name: 'LesionLab' })
  })
})

describe('WebSocket API: errors', () => {
  it('an unknown method: kind "unknown-method"', async () => {
    const r = await client.call('study.delete', {})
    expect(r.result).toBeUndefined()
    expect(r.error?.kind).toBe('unknown-method')
    expect(r.error?.message).toContain('study.delete')
    // Not fooled by Object.prototype names.
    expect((await client.call('toString', {})).error?.kind).toBe('unknown-method')
    expect((await client.call(42, {})).error?.kind).toBe('unknown-method')
  })

  it('malformed arguments: kind "argument", naming the method', async () => {
    const cases: [string, unknown][] = [
      ['study.open', {}],
      ['study.open', { path: 5 }],
      ['study.open', { path: '' }],
      ['study.open', { ctPath: '/a.nii.gz' }],
      ['volume.get', { volumeId: 'x', extra: 1 }],
      ['volume.get', {}],
      ['volume.get', 'not an object'],
      ['app.info', { unexpected: true }],
      ['study.openDemo', { tracer: 'FLT' }],
    ]
    for (const [method, args] of cases) {
      const r = await client.call(method, args)
      expect(r.error?.kind, `${method} ${JSON.stringify(args)}`).toBe('argument')
      expect(r.error?.message).toContain(method)
    }
    const noPath = await client.call('study.open', { path: 5 })
    expect(noPath.error?.message).toMatch(/path/)
    const extra = await client.call('volume.get', { volumeId: 'x', extra: 1 })
    expect(extra.error?.message).toMatch(/extra/)
  })

  it('a text frame, a garbage binary frame, a frame without an id: an error reply with id null', async () => {
    const text = await client.sendRaw(JSON.stringify({ id: 1, method: 'app.info', args: {} }), false)
    expect(text.id).toBeNull()
    expect(text.error?.kind).toBe('argument')
    expect(text.error?.message).toMatch(/binary/)

    const garbage = await client.sendRaw(new Uint8Array([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]), true)
    expect(garbage.id).toBeNull()
    expect(garbage.error?.message).toMatch(/malformed API frame/)

    const noId = await client.sendRaw(encodeMessage({ method: 'app.info', args: {} }), true)
    expect(noId.error?.message).toMatch(/id/)
  })

  it('opening a missing path: kind "input" with the path in the message', async () => {
    const missing = join(tmp.dir, 'no-such-study')
    const r = await client.call('study.open', { path: missing })
    expect(r.error?.kind).toBe('input')
    expect(r.error?.message).toContain(missing)
    const pair = await client.call('study.open', { ctPath: STS_001_CT, petPath: join(tmp.dir, 'missing-pet.nii.gz') })
    expect(pair.error?.kind).toBe('input')
    expect(pair.error?.message).toContain('missing-pet.nii.gz')
  })

  it('volume.get with no study open: kind "input"', async () => {
    const fresh = createAppServices({ transport: 'websocket' })
    await expect(fresh.dispatch('volume.get', { volumeId: 'nothing' })).rejects.toMatchObject({ payload: { kind: 'input' } })
  })

  it('keeps serving after all that', async () => {
    const r = await client.call('app.info', {})
    expect(r.error).toBeUndefined()
    expect(r.result).toMatchObject({ name: 'LesionLab', transport: 'websocket' })
  })
})

describe('WebSocket API: a real study', () => {
  let study: StudyInfo

  it('study.open on STS_001 returns its StudyInfo; study.current agrees', async () => {
    const r = await client.call('study.open', { path: STS_001 })
    expect(r.error).toBeUndefined()
    study = r.result as StudyInfo
    expect(study.name).toBe('STS_001')
    expect(study.layout).toBe('CT/ and PET/ folders')
    expect(study.ct!.geometry.dims).toEqual([198, 202, 59])
    expect(study.pet.geometry.dims).toEqual([41, 43, 59])
    expect(study.masks).toHaveLength(1)
    expect(study.pet.unit).toBe('SUVbw')
    const current = await client.call('study.current', {})
    expect((current.result as StudyInfo).id).toBe(study.id)
  })

  it('volume.get: the PET voxels as a Float32Array byte-identical to readNiftiFile', async () => {
    const [r, pet] = await Promise.all([client.call('volume.get', { volumeId: study.pet.id }), readNiftiFile(STS_001_PET)])
    expect(r.error).toBeUndefined()
    const payload = r.result as VolumePayload
    expect(payload.info).toEqual(study.pet)
    expect(payload.voxels).toBeInstanceOf(Float32Array)
    expect(payload.voxels.length).toBe(41 * 43 * 59)
    expect(bytesOf(payload.voxels).equals(bytesOf(pet.voxels))).toBe(true)
  })

  it('POST /api/call (the bulk path): same dispatch, same token, same binary frames', async () => {
    const post = async (body: Uint8Array<ArrayBuffer>, token?: string): Promise<{ status: number; body: Buffer }> => {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/call`, {
        method: 'POST',
        headers: token === undefined ? {} : { 'x-lesionlab-token': token },
        body,
      })
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()) }
    }
    const request = encodeMessage({ method: 'volume.get', args: { volumeId: study.pet.id } })
    expect((await post(request)).status).toBe(401)
    expect((await post(request, `${server.token.slice(0, -1)}${server.token.endsWith('0') ? '1' : '0'}`)).status).toBe(401)
    const ok = await post(request, server.token)
    expect(ok.status).toBe(200)
    const reply = decodeMessage(ok.body) as { result: VolumePayload }
    const pet = await readNiftiFile(STS_001_PET)
    expect(reply.result.voxels).toBeInstanceOf(Float32Array)
    expect(bytesOf(reply.result.voxels).equals(bytesOf(pet.voxels))).toBe(true)
    const bad = decodeMessage((await post(encodeMessage({ method: 'volume.get', args: { volumeId: 7 } }), server.token)).body) as { error: ApiErrorPayload }
    expect(bad.error.kind).toBe('argument')
    const unknown = decodeMessage((await post(encodeMessage({ method: 'fs.delete', args: {} }), server.token)).body) as { error: ApiErrorPayload }
    expect(unknown.error.kind).toBe('unknown-method')
  })

  it('volume.get of the mask: uint8 on the PET grid', async () => {
    const r = await client.call('volume.get', { volumeId: study.masks[0].id })
    const payload = r.result as VolumePayload
    expect(payload.voxels).toBeInstanceOf(Uint8Array)
    expect(sameGrid(payload.info.geometry, study.pet.geometry, 0)).toBe(true)
    let ones = 0
    for (let i = 0; i < payload.voxels.length; i++) if (payload.voxels[i] === 1) ones++
    expect(ones).toBeGreaterThan(0)
  })

  it('volume.get of an unknown id: kind "input"', async () => {
    const r = await client.call('volume.get', { volumeId: `${study.id}-nothing` })
    expect(r.error?.kind).toBe('input')
  })

  it('the CT on the PET grid: made in a worker with progress events; PET grid; CT values or -1024', async () => {
    // A fresh open, so the resample runs while we listen (study.open starts it at once).
    const before = client.events.length
    const opened = await client.call('study.open', { path: STS_001 })
    const id = (opened.result as StudyInfo).id
    const r = await client.call('volume.get', { volumeId: `${id}-ctOnPetGrid` })
    expect(r.error).toBeUndefined()
    const payload = r.result as VolumePayload
    expect(payload.info.role).toBe('ctOnPetGrid')
    expect(payload.info.unit).toBe('HU')
    expect(sameGrid(payload.info.geometry, study.pet.geometry, 1e-9)).toBe(true)
    expect(payload.voxels).toBeInstanceOf(Float32Array)

    const [ct, pet] = await Promise.all([readNiftiFile(STS_001_CT), readNiftiFile(STS_001_PET)])
    let lo = Infinity
    let hi = -Infinity
    for (let i = 0; i < ct.voxels.length; i++) {
      lo = Math.min(lo, ct.voxels[i])
      hi = Math.max(hi, ct.voxels[i])
    }
    let outOfRange = 0
    let outside = 0
    for (let i = 0; i < payload.voxels.length; i++) {
      const v = payload.voxels[i]
      if (v === -1024) outside++
      else if (!(v >= lo && v <= hi)) outOfRange++
    }
    expect(outOfRange).toBe(0)
    expect(outside).toBeGreaterThan(0) // the PET's last row lies beyond the CT
    const expected = resampleTrilinear(ct, pet.geometry, { outsideValue: -1024 })
    expect(bytesOf(payload.voxels).equals(bytesOf(expected))).toBe(true)

    // Progress for this study's resample: increasing fractions, then one "done" at 1 (sent before
    // the volume, on the same socket).
    const progress = client.events
      .slice(before)
      .filter((e) => e.event === 'progress')
      .map((e) => e.payload as ApiEvents['progress'])
      .filter((p) => p.taskId === `${id}-resample-ct`)
    expect(progress.length).toBeGreaterThanOrEqual(2)
    const running = progress.filter((p) => !p.done)
    expect(running.length).toBeGreaterThanOrEqual(1)
    expect(running.every((p, i) => p.fraction > 0 && p.fraction <= 1 && (i === 0 || p.fraction > running[i - 1].fraction))).toBe(true)
    const last = progress.at(-1)!
    expect(last).toMatchObject({ done: true, fraction: 1 })
    expect(last.error).toBeUndefined()
    expect(progress.filter((p) => p.done)).toHaveLength(1)
    expect(last.label).toMatch(/CT/)
  })
})

describe('static files', () => {
  it('GET / serves index.html with the content-security-policy header', async () => {
    const r = await httpGet(server.port, '/')
    expect(r.status).toBe(200)
    expect(r.body).toContain('LesionLab test')
    expect(r.headers['content-type']).toMatch(/text\/html/)
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY)
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    const js = await httpGet(server.port, '/assets/app.js')
    expect(js.status).toBe(200)
    expect(js.headers['content-type']).toMatch(/javascript/)
  })

  it('path traversal never reaches files outside the static folder', async () => {
    const attempts = [
      '/../secret.txt',
      '/../../secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt',
      '/assets/../../secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/../package.json',
      `/${'..%2f'.repeat(12)}etc%2fpasswd`,
    ]
    for (const path of attempts) {
      const r = await httpGet(server.port, path)
      expect([403, 404], path).toContain(r.status)
      expect(r.body).not.toContain(SECRET)
      expect(r.body).not.toContain('root:')
    }
  })

  it('missing files and folders: 404; other methods: 405; bad escapes: an error status, and still serving', async () => {
    expect((await httpGet(server.port, '/nope.js')).status).toBe(404)
    expect((await httpGet(server.port, '/assets')).status).toBe(404)
    expect((await httpGet(server.port, '/', 'POST')).status).toBe(405)
    const bad = await httpGet(server.port, '/%E0%A4%A')
    expect(bad.status).toBeGreaterThanOrEqual(400)
    expect((await httpGet(server.port, '/')).status).toBe(200)
  })
})
