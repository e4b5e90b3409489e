/**
 * Electron's IPC cannot clone SharedArrayBuffers between processes; the main process keeps voxels
 * in them (for zero-copy workers), so views on shared memory are copied to plain buffers here.
 */
export function copySharedBuffers(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer) {
    const view = value as unknown as Uint8Array
    const Ctor = view.constructor as new (b: ArrayBuffer) => Uint8Array
    const copy = new Uint8Array(view.byteLength)
    copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))
    return new Ctor(copy.buffer)
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value
  if (Array.isArray(value)) return value.map(copySharedBuffers)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = copySharedBuffers(v)
    return out
  }
  return value
}
