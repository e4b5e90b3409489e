import type { LayerOp } from '../../inference/network/layerDescription'

/** [N, C, D, H, W] of every activation of a fixed-size training step. */
export type Shape5 = [number, number, number, number, number]

/**
 * Static shapes of every activation for one batch size and patch size. The training graph is built for
 * fixed sizes (a fine-tuning run never changes them), so the backward pass can use literal shapes for
 * its reshapes and paddings instead of Shape arithmetic in the graph.
 */
export function activationShapes(ops: readonly LayerOp[], input: { name: string; shape: Shape5 }): Map<string, Shape5> {
  const shapes = new Map<string, Shape5>([[input.name, input.shape]])
  const get = (name: string, module: string): Shape5 => {
    const s = shapes.get(name)
    if (!s) throw new Error(`internal: ${module} reads ${name} before it is produced`)
    return s
  }
  for (const op of ops) {
    switch (op.op) {
      case 'conv3d': {
        const [n, , ...spatial] = get(op.input, op.module)
        const out = spatial.map((d) => Math.floor((d + 2 * op.padding - op.kernel) / op.stride) + 1)
        shapes.set(op.output, [n, op.outChannels, out[0], out[1], out[2]])
        break
      }
      case 'convTranspose3d': {
        const [n, , d, h, w] = get(op.input, op.module)
        shapes.set(op.output, [n, op.outChannels, 2 * d, 2 * h, 2 * w])
        break
      }
      case 'batchNorm':
      case 'instanceNorm':
      case 'prelu':
        shapes.set(op.output, get(op.input, op.module))
        break
      case 'add':
        shapes.set(op.output, get(op.inputs[0], op.module))
        break
      case 'concat': {
        const a = get(op.inputs[0], op.module)
        const b = get(op.inputs[1], op.module)
        shapes.set(op.output, [a[0], a[1] + b[1], a[2], a[3], a[4]])
        break
      }
    }
  }
  return shapes
}
