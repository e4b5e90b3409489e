import * as onnxProtoModule from 'onnx-proto'
import type { onnx as OnnxNamespace } from 'onnx-proto'

/**
 * The protobufjs-generated ONNX classes. `onnx-proto` is CommonJS (`module.exports = { onnx }`), which
 * Node's ESM loader (tsx, the CLI) exposes only as the default export while bundlers also offer the
 * named one; take whichever is there. Types: `import type { onnx } from 'onnx-proto'`.
 */
const interop = onnxProtoModule as unknown as { onnx?: typeof OnnxNamespace; default?: { onnx?: typeof OnnxNamespace } }
export const onnxProto: typeof OnnxNamespace = (interop.onnx ?? interop.default?.onnx)!
if (!onnxProto?.ModelProto) throw new Error('onnx-proto: could not load the ONNX protobuf classes')

/** A protobuf int64 as decoded (number or Long) to a JS number. */
export function int64ToNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0
  return typeof v === 'number' ? v : v.toNumber()
}
