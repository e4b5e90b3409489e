import type { onnx } from 'onnx-proto'
import { int64ToNumber, onnxProto } from './onnxProto'

export interface OnnxTensorInfo {
  name: string
  /** Fixed sizes as numbers, symbolic ones by name ('?' when unnamed). */
  shape: (number | string)[]
  elemType: string
}

export interface OnnxModelSummary {
  irVersion: number
  /** The default-domain (ai.onnx) opset. */
  opset: number
  producer: string
  docString: string
  inputs: OnnxTensorInfo[]
  outputs: OnnxTensorInfo[]
  /** Elements of the float initializers except BatchNormalization running statistics. */
  parameterCount: number
  /** Elements of the BatchNormalization running statistics (buffers). */
  bufferCount: number
  initializerCount: number
  nodeCount: number
  opTypes: Record<string, number>
  metadata: Record<string, string>
}

const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE', 'FLOAT16', 'BFLOAT16'])

/** What an ONNX file holds, from its protobuf (no runtime needed). */
export function describeOnnxModel(bytes: Uint8Array): OnnxModelSummary {
  let model: onnx.ModelProto
  try {
    model = onnxProto.ModelProto.decode(bytes)
  } catch (e) {
    throw new Error(`not an ONNX model: ${(e as Error).message}`)
  }
  if (!model.graph) throw new Error('not an ONNX model: no graph')
  const graph = {
    node: model.graph.node ?? [],
    initializer: model.graph.initializer ?? [],
    input: model.graph.input ?? [],
    output: model.graph.output ?? [],
  }
  const dataTypeName = (t: number | null | undefined): string => onnxProto.TensorProto.DataType[t ?? 0] ?? String(t)
  const initializerNames = new Set(graph.initializer.map((t) => t.name))
  // Inputs 3 and 4 of BatchNormalization are the running mean and variance: buffers, not parameters.
  const buffers = new Set<string>()
  const opTypes: Record<string, number> = {}
  for (const node of graph.node) {
    const opType = node.opType ?? ''
    opTypes[opType] = (opTypes[opType] ?? 0) + 1
    if (opType === 'BatchNormalization') (node.input ?? []).slice(3, 5).forEach((n) => buffers.add(n))
  }
  let parameterCount = 0
  let bufferCount = 0
  for (const t of graph.initializer) {
    if (!FLOAT_TYPES.has(dataTypeName(t.dataType))) continue
    const n = (t.dims ?? []).reduce<number>((a, d) => a * int64ToNumber(d), 1)
    if (buffers.has(t.name ?? '')) bufferCount += n
    else parameterCount += n
  }
  const tensorInfo = (v: onnx.IValueInfoProto): OnnxTensorInfo => ({
    name: v.name ?? '',
    shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? int64ToNumber(d.dimValue) : '?')),
    elemType: dataTypeName(v.type?.tensorType?.elemType),
  })
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')
  return {
    irVersion: int64ToNumber(model.irVersion),
    opset: int64ToNumber(opset?.version),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    docString: model.docString ?? '',
    inputs: graph.input.filter((v) => !initializerNames.has(v.name ?? '')).map(tensorInfo),
    outputs: graph.output.map(tensorInfo),
    parameterCount,
    bufferCount,
    initializerCount: graph.initializer.length,
    nodeCount: graph.node.length,
    opTypes,
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value])),
  }
}
