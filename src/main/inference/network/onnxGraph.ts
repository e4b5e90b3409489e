import type { onnx } from 'onnx-proto'
import { onnxProto } from './onnxProto'

/** Small helpers to write ONNX graphs with onnx-proto: nodes, attributes, tensors, constants. */

export type AttributeValue = number | number[] | string | { ints: number[] } | { float: number } | { tensor: onnx.ITensorProto }

/** Collects nodes and deduplicated Constant nodes of one graph. */
export class GraphWriter {
  readonly nodes: onnx.INodeProto[] = []
  private readonly constants = new Set<string>()
  private counter = 0

  node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}, name?: string): void {
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: name ?? `${opType}_${this.counter++}`,
      attribute: Object.entries(attributes).map(([key, v]) => attribute(key, v)),
    })
  }

  /** A Constant node (emitted once per name); returns the name. Non-parameter constants are nodes, not
   * initializers, so that a model's initializers are exactly its state_dict tensors. */
  constant(name: string, tensor: () => onnx.ITensorProto): string {
    if (!this.constants.has(name)) {
      this.constants.add(name)
      this.node('Constant', [], [name], { value: { tensor: { ...tensor(), name } } }, name)
    }
    return name
  }

  int64Constant(name: string, values: number[]): string {
    return this.constant(name, () => int64Tensor(name, [values.length], values))
  }

  floatConstant(name: string, dims: number[], values: Float32Array): string {
    return this.constant(name, () => floatTensor(name, dims, values))
  }
}

/** An attribute; a plain number is an INT (use `{ float }` for FLOAT), a number[] INTS. */
export function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  const T = onnxProto.AttributeProto.AttributeType
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; use { float }`)
    return { name, type: T.INT, i: v }
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v }
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float }
  return { name, type: T.TENSOR, t: v.tensor }
}

/** A float32 tensor stored as little-endian raw bytes (the compact ONNX form). */
export function floatTensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  return { name, dims, dataType: onnxProto.TensorProto.DataType.FLOAT, rawData: littleEndianBytes(data) }
}

export function int64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  const bytes = new Uint8Array(values.length * 8)
  const view = new DataView(bytes.buffer)
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true))
  return { name, dims, dataType: onnxProto.TensorProto.DataType.INT64, rawData: bytes }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function littleEndianBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const bytes = new Uint8Array(data.length * 4)
  const view = new DataView(bytes.buffer)
  data.forEach((v, i) => view.setFloat32(i * 4, v, true))
  return bytes
}

/** A float32 tensor type with fixed (number) and symbolic (string) dimensions. */
export function tensorValueInfo(name: string, dims: (number | string)[], docString?: string): onnx.IValueInfoProto {
  return {
    name,
    ...(docString ? { docString } : {}),
    type: {
      tensorType: {
        elemType: onnxProto.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  }
}
