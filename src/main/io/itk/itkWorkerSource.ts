/**
 * The worker-thread side of the itk-wasm bridge, as plain JavaScript run with `new Worker(src, { eval: true })`.
 *
 * Why a string and not a .ts entry: the worker must start the same way from source (tsx, vitest, CLI) and
 * from the bundled Electron main, and a string needs no extra build entry. It stays small on purpose:
 * all validation and conversion happens in the main thread (itkImage.ts).
 *
 * Why a worker at all: itk-wasm runs its wasm pipelines synchronously on the calling thread, so only a
 * thread we can terminate bounds a read that never ends; it sets `process.exitCode` when a pipeline
 * fails (in a worker that is the worker's own); and it prints ITK's messages with console.log/error,
 * which here are captured and sent back as the reason instead of reaching the terminal.
 *
 * Protocol: { id, op: 'read', path, checksum? } → { id, ok: true, image (+ checksum of its voxel bytes), log };
 * { id, op: 'write', path, image, compress } → { id, ok: true }; failures → { id, ok: false, error, unavailable, log }.
 */
export const ITK_WORKER_SOURCE = String.raw`
'use strict'
const { parentPort, workerData } = require('node:worker_threads')

let log = []
const capture = (...args) => { log.push(args.map((a) => (typeof a === 'string' ? a : String(a))).join(' ')) }
for (const name of ['log', 'error', 'warn', 'info', 'debug', 'trace']) console[name] = capture

let imageIo = null
async function loadImageIo() {
  if (!imageIo) {
    try {
      imageIo = await import(workerData.imageIoUrl)
    } catch (e) {
      throw Object.assign(new Error('cannot load @itk-wasm/image-io: ' + describeError(e)), { unavailable: true })
    }
  }
  return imageIo
}

function describeError(e) {
  if (e instanceof Error) return e.message
  if (typeof e === 'number') return 'native exception ' + e
  if (e && typeof e === 'object' && 'status' in e) return 'exit status ' + e.status
  return String(e)
}

function header(image) {
  return {
    dimension: image.imageType.dimension,
    componentType: image.imageType.componentType,
    pixelType: image.imageType.pixelType,
    components: image.imageType.components,
    size: Array.from(image.size),
    spacing: Array.from(image.spacing),
    origin: Array.from(image.origin),
    direction: Array.from(image.direction),
    metadata: Array.from(image.metadata instanceof Map ? image.metadata.entries() : [])
      .filter((entry) => typeof entry[1] === 'string' || typeof entry[1] === 'number')
      .map((entry) => [String(entry[0]), String(entry[1]).slice(0, 1000)]),
  }
}

function adler32(bytes) {
  let a = 1
  let b = 0
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + 5552, bytes.length)
    for (; i < end; i++) {
      a += bytes[i]
      b += a
    }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}

async function read(request) {
  const { readImageNode } = await loadImageIo()
  // No header-only pass first: itk-wasm's informationOnly still reads the whole file (measured: 70% of a
  // full read's time and memory), so header checks happen in the main thread before and after this.
  const image = await readImageNode(request.path)
  const h = header(image)
  h.data = image.data
  // The checksum of what ITK decoded, for the main thread to hold against the stream's own (ITK does not).
  const bytes = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength)
  if (request.checksum === 'adler32') h.checksum = adler32(bytes)
  if (request.checksum === 'crc32') h.checksum = require('node:zlib').crc32(bytes)
  return h
}

async function write(request) {
  const { writeImageNode } = await loadImageIo()
  const w = request.image
  let data = w.data
  // itk-wasm copies data.buffer whole into wasm memory, so the view must cover its buffer exactly.
  if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice()
  const image = {
    imageType: { dimension: 3, componentType: w.componentType, pixelType: 'Scalar', components: 1 },
    name: 'image',
    origin: w.origin,
    spacing: w.spacing,
    direction: new Float64Array(w.direction),
    size: w.size,
    metadata: new Map(),
    data,
  }
  await writeImageNode(image, request.path, { useCompression: request.compress })
}

parentPort.on('message', async (request) => {
  log = []
  try {
    if (request.op === 'read') {
      const image = await read(request)
      parentPort.postMessage({ id: request.id, ok: true, image, log: log.join('\n') })
    } else if (request.op === 'write') {
      await write(request)
      parentPort.postMessage({ id: request.id, ok: true, log: log.join('\n') })
    } else {
      throw new Error('unknown operation ' + request.op)
    }
  } catch (e) {
    parentPort.postMessage({ id: request.id, ok: false, error: describeError(e), unavailable: !!(e && e.unavailable), log: log.join('\n') })
  }
})
`
