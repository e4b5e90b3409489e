import type { ConvTranspose3dOp } from './layerDescription'
import type { GraphWriter } from './onnxGraph'

/**
 * ConvTranspose3d(k 3, stride 2, padding 1, output_padding 1) without a ConvTranspose node (WebGPU has
 * no 3-D ConvTranspose): eight stride-1 convolutions, one per output parity (pd, ph, pw), interleaved
 * by a 3-D depth-to-space.
 *
 * Derivation, one axis (the 3-D kernel is the product of the per-axis cases). PyTorch's transposed
 * convolution scatters: y[o] += x[i] * W[k] for every o = s*i - p + k, here o = 2i - 1 + k, k in {0,1,2}.
 *   - even output o = 2m:   k = 2m + 1 - 2i must be odd, so k = 1, i = m:
 *       y[2m]     = x[m] * W[1]
 *   - odd output o = 2m+1:  k = 2m + 2 - 2i is 0 (i = m + 1) or 2 (i = m):
 *       y[2m + 1] = x[m] * W[2] + x[m + 1] * W[0]
 * ONNX Conv is a cross-correlation, y[m] = sum_j x[m + j - padBegin] * K[j], so
 *   - parity 0 is a 1-tap conv with K = [W1], no padding;
 *   - parity 1 is a 2-tap conv with K = [W2, W0], padding 0 before and 1 after: the last odd output
 *     2n - 1 reads x[n], which is outside the input and zero — exactly what output_padding 1 produces.
 * Every output voxel receives the bias once, so each sub-conv adds the full bias. The 27 taps split as
 * 1 + 3*2 + 3*4 + 8 over the 8 sub-kernels, and no multiply touches an inserted zero.
 *
 * The sub-kernels come from the transposed-conv weight initializer itself (Gather along each kernel
 * axis, then Transpose (in, out) -> (out, in)), so the initializer keeps its state_dict name and shape
 * in both graph variants; these nodes have only constant inputs and ONNX Runtime folds them when the
 * session is created.
 *
 * Interleave: Concat the 8 results (N, Co, D, H, W) on the channel axis in (pd, ph, pw) order
 * -> (N, 8Co, D, H, W); Reshape (N, 2, 2, 2, Co, D, H, W); Transpose to (N, Co, D, pd, H, ph, W, pw);
 * Reshape (N, Co, 2D, 2H, 2W), so y[.., 2d + pd, 2h + ph, 2w + pw] = Y_(pd,ph,pw)[.., d, h, w].
 * The target shapes are computed from Shape(x) so N, D, H, W stay dynamic.
 */
export function emitSubpixelConvTranspose(g: GraphWriter, op: ConvTranspose3dOp): void {
  if (op.kernel !== 3 || op.stride !== 2 || op.padding !== 1 || op.outputPadding !== 1) {
    throw new Error(`${op.module}: the sub-pixel form covers only k3 s2 p1 output_padding 1`)
  }
  const base = op.module
  // Kernel indices per parity: even outputs use W[1]; odd outputs use W[2] (offset 0) and W[0] (offset +1).
  const taps = [g.int64Constant('subpixel/taps_even', [1]), g.int64Constant('subpixel/taps_odd', [2, 0])]
  const byD = [0, 1].map((pd) => {
    const name = `${base}/subpixel/w_d${pd}`
    g.node('Gather', [op.weight, taps[pd]], [name], { axis: 2 })
    return name
  })
  const outputs: string[] = []
  for (const pd of [0, 1]) {
    for (const ph of [0, 1]) {
      const wdh = `${base}/subpixel/w_d${pd}h${ph}`
      g.node('Gather', [byD[pd], taps[ph]], [wdh], { axis: 3 })
      for (const pw of [0, 1]) {
        const tag = `${pd}${ph}${pw}`
        const wdhw = `${base}/subpixel/w_${tag}_io`
        g.node('Gather', [wdh, taps[pw]], [wdhw], { axis: 4 })
        const kernel = `${base}/subpixel/w_${tag}`
        g.node('Transpose', [wdhw], [kernel], { perm: [1, 0, 2, 3, 4] })
        const y = `${base}/subpixel/y_${tag}`
        g.node('Conv', [op.input, kernel, op.bias], [y], {
          kernel_shape: [pd + 1, ph + 1, pw + 1],
          strides: [1, 1, 1],
          dilations: [1, 1, 1],
          pads: [0, 0, 0, pd, ph, pw],
          group: 1,
        })
        outputs.push(y)
      }
    }
  }
  const co = op.outChannels
  const stacked = `${base}/subpixel/stacked`
  g.node('Concat', outputs, [stacked], { axis: 1 })
  const dhw = `${base}/subpixel/dhw`
  g.node('Shape', [op.input], [dhw], { start: 2, end: 5 })
  const shape8 = `${base}/subpixel/shape8`
  // 0 in a Reshape target copies that input dimension (N here).
  g.node('Concat', [g.int64Constant(`subpixel/prefix8_c${co}`, [0, 2, 2, 2, co]), dhw], [shape8], { axis: 0 })
  const split = `${base}/subpixel/split`
  g.node('Reshape', [stacked, shape8], [split])
  const interleaved = `${base}/subpixel/interleaved`
  g.node('Transpose', [split], [interleaved], { perm: [0, 4, 5, 1, 6, 2, 7, 3] })
  const dhw2 = `${base}/subpixel/dhw2`
  g.node('Mul', [dhw, g.int64Constant('subpixel/two', [2])], [dhw2])
  const shape5 = `${base}/subpixel/shape5`
  g.node('Concat', [g.int64Constant(`subpixel/prefix5_c${co}`, [0, co]), dhw2], [shape5], { axis: 0 })
  g.node('Reshape', [interleaved, shape5], [op.output])
}
