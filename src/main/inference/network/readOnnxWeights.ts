import { onnxProto } from './onnxProto'

/**
 * The float initializers of a LesionLab ResUNet graph by name. Both graph variants keep every weight as an
 * initializer under its PyTorch state_dict key (buildOnnx.ts), so this is the fold's state_dict back,
 * which fine-tuning starts from.
 */
export function readOnnxWeights(bytes: Uint8Array): Map<string, Float32Array> {
  const model = onnxProto.ModelProto.decode(bytes)
  const out = new Map<string, Float32Array>()
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== onnxProto.TensorProto.DataType.FLOAT || !t.name) continue
    const count = (t.dims ?? []).reduce((a, d) => a * Number(d), 1)
    let data: Float32Array
    if (t.rawData && t.rawData.length) {
      const raw = t.rawData
      const copy = new Uint8Array(raw.length)
      copy.set(raw)
      data = new Float32Array(copy.buffer)
    } else {
      data = Float32Array.from(t.floatData ?? [])
    }
    if (data.length !== count) throw new Error(`initializer ${t.name} holds ${data.length} values for shape ${(t.dims ?? []).join('x')}`)
    out.set(t.name, data)
  }
  return out
}
