import type { GraphWriter } from '../../inference/network/onnxGraph'
import { FOCAL_CLASS_WEIGHTS, FOCAL_GAMMA } from '../loss/focal'
import { GDL_SMOOTH_DR, GDL_SMOOTH_NR } from '../loss/generalizedDice'
import type { Shape5 } from './activationShapes'

export interface LossGraphOutputs {
  /** Scalars of shape [1]. */
  loss: string
  dice: string
  focal: string
  /** ∂loss/∂logits, same shape as the logits. */
  gradLogits: string
}

/**
 * method.md §5's loss in ONNX: MONAI 1.3 GeneralizedDiceFocalLoss(softmax=True, to_onehot_y=True,
 * focal_weight=[1, 100]) with its gradient, the same formulas as the float64 reference in
 * `../loss/` (generalizedDice.ts and focal.ts derive them and are checked against finite differences).
 * `label` is [N, 1, D, H, W] with values 0/1; the one-hot target includes the background channel.
 */
export function emitGeneralizedDiceFocal(g: GraphWriter, logits: string, label: string, shape: Shape5): LossGraphOutputs {
  const [n, c, d, h, w] = shape
  if (c !== 2) throw new Error(`the loss expects 2 output channels, the network has ${c}`)
  if (FOCAL_GAMMA !== 2) throw new Error('internal: the focal graph is written for gamma = 2')
  const f = (name: string, value: number): string => g.floatConstant(`loss/const_${name}`, [], new Float32Array([value]))
  const axesSpatial = g.int64Constant('axes/234', [2, 3, 4])
  const axesClass = g.int64Constant('axes/1', [1])
  const scalarShape = g.int64Constant('shape/1', [1])
  const node = (op: string, inputs: string[], out: string, attrs: Record<string, number> = {}): string => {
    g.node(op, inputs, [out], attrs)
    return out
  }

  // One-hot target [N, 2, D, H, W] = (1 - label, label).
  const background = node('Sub', [f('one', 1), label], 'loss/t0')
  const t = node('Concat', [background, label], 'loss/onehot', { axis: 1 })

  // --- Generalized Dice (softmax) ---
  const p = node('Softmax', [logits], 'loss/p', { axis: 1 })
  const inter = node('ReduceSum', [node('Mul', [p, t], 'loss/pt'), axesSpatial], 'loss/intersection', { keepdims: 0 })
  const ground = node('ReduceSum', [t, axesSpatial], 'loss/ground', { keepdims: 0 })
  const pred = node('ReduceSum', [p, axesSpatial], 'loss/pred', { keepdims: 0 })
  // w = 1/G² per sample and class; a class absent from the sample takes the sample's largest weight.
  const absent = node('Equal', [ground, f('zero', 0)], 'loss/absent')
  const safeGround = node('Where', [absent, f('one', 1), ground], 'loss/ground_safe')
  const wFinite = node('Where', [absent, f('zero', 0), node('Reciprocal', [node('Mul', [safeGround, safeGround], 'loss/g2')], 'loss/inv_g2')], 'loss/w_finite')
  // The max over the two classes as Max of the halves: ReduceMax moved its axes to an input in opset 18.
  g.node('Split', [wFinite, g.int64Constant('split/1_1', [1, 1])], ['loss/w_finite0', 'loss/w_finite1'], { axis: 1 })
  const wMax = node('Max', ['loss/w_finite0', 'loss/w_finite1'], 'loss/w_max')
  const weights = node('Where', [absent, wMax, wFinite], 'loss/w')
  const numer = node('Add', [node('Mul', [f('two', 2), node('ReduceSum', [node('Mul', [weights, inter], 'loss/w_inter'), axesClass], 'loss/sum_w_inter', { keepdims: 0 })], 'loss/2_sum_w_inter'), f('smooth_nr', GDL_SMOOTH_NR)], 'loss/numer')
  const denom = node('Add', [node('ReduceSum', [node('Mul', [weights, node('Add', [ground, pred], 'loss/g_plus_p')], 'loss/w_gp'), axesClass], 'loss/sum_w_gp', { keepdims: 0 }), f('smooth_dr', GDL_SMOOTH_DR)], 'loss/denom')
  const perSample = node('Sub', [f('one', 1), node('Div', [numer, denom], 'loss/ratio')], 'loss/gdl_per_sample')
  const dice = node('Reshape', [node('ReduceMean', [perSample], 'loss/gdl_scalar', { keepdims: 0 }), scalarShape], 'loss_dice')

  // ∂f/∂p = w (A − 2 t B) / B² / N, then through the softmax: p (dp − Σ_c p dp).
  const perSampleShape = g.int64Constant(`shape/${n}_1_1_1_1`, [n, 1, 1, 1, 1])
  const perClassShape = g.int64Constant(`shape/${n}_2_1_1_1`, [n, 2, 1, 1, 1])
  const a5 = node('Reshape', [numer, perSampleShape], 'loss/numer5')
  const b5 = node('Reshape', [denom, perSampleShape], 'loss/denom5')
  const w5 = node('Reshape', [weights, perClassShape], 'loss/w5')
  const twoTB = node('Mul', [node('Mul', [f('two', 2), t], 'loss/2t'), b5], 'loss/2tb')
  const scaleB = node('Div', [w5, node('Mul', [node('Mul', [b5, b5], 'loss/b2'), f('n', n)], 'loss/b2n')], 'loss/w_over_b2n')
  const dp = node('Mul', [node('Sub', [a5, twoTB], 'loss/a_minus_2tb'), scaleB], 'loss/dgdl_dp')
  const dot = node('ReduceSum', [node('Mul', [p, dp], 'loss/p_dp'), axesClass], 'loss/sum_p_dp', { keepdims: 1 })
  const gradDice = node('Mul', [p, node('Sub', [dp, dot], 'loss/dp_minus_dot')], 'loss/dgdl_dz')

  // --- Focal (per-channel sigmoid, gamma 2, class weights) ---
  // bce = softplus(z) − z·t, written stably as relu(z) + log(1 + e^−|z|) − z·t.
  const softplus = node('Add', [node('Relu', [logits], 'loss/relu_z'), node('Log', [node('Add', [f('one', 1), node('Exp', [node('Neg', [node('Abs', [logits], 'loss/abs_z')], 'loss/neg_abs_z')], 'loss/exp_neg_abs_z')], 'loss/1_plus_exp')], 'loss/log1p_exp')], 'loss/softplus_z')
  const bce = node('Sub', [softplus, node('Mul', [logits, t], 'loss/zt')], 'loss/bce')
  // (1 − p_t)^γ = σ(−z·s)², s = 2t − 1.
  const sign = node('Sub', [node('Mul', [f('two', 2), t], 'loss/2t_focal'), f('one', 1)], 'loss/sign')
  const q = node('Sigmoid', [node('Neg', [node('Mul', [logits, sign], 'loss/zs')], 'loss/neg_zs')], 'loss/q')
  const modulation = node('Mul', [q, q], 'loss/q2')
  const classWeights = g.floatConstant('loss/class_weights', [1, 2, 1, 1, 1], new Float32Array(FOCAL_CLASS_WEIGHTS))
  const elements = n * c * d * h * w
  const weighted = node('Mul', [classWeights, node('Mul', [modulation, bce], 'loss/m_bce')], 'loss/focal_elements')
  const focal = node('Reshape', [node('ReduceMean', [weighted], 'loss/focal_scalar', { keepdims: 0 }), scalarShape], 'loss_focal')
  // ∂/∂z [cw·q²·bce] / count = cw (−2 s q² (1 − q) bce + q² (σ(z) − t)) / count.
  const dm = node('Mul', [node('Mul', [f('minus_two', -2), node('Mul', [sign, modulation], 'loss/s_q2')], 'loss/m2_s_q2'), node('Sub', [f('one', 1), q], 'loss/1_minus_q')], 'loss/dm_dz')
  const dBce = node('Sub', [node('Sigmoid', [logits], 'loss/sigmoid_z'), t], 'loss/dbce_dz')
  const dFocalRaw = node('Add', [node('Mul', [dm, bce], 'loss/dm_bce'), node('Mul', [modulation, dBce], 'loss/m_dbce')], 'loss/dfocal_raw')
  const focalScale = g.floatConstant('loss/focal_scale', [1, 2, 1, 1, 1], new Float32Array(FOCAL_CLASS_WEIGHTS.map((cw) => cw / elements)))
  const gradFocal = node('Mul', [dFocalRaw, focalScale], 'loss/dfocal_dz')

  const gradLogits = node('Add', [gradDice, gradFocal], 'grad/logits')
  const loss = node('Add', [dice, focal], 'loss')
  return { loss, dice, focal, gradLogits }
}
