import type { GraphWriter } from '../../inference/network/onnxGraph'

/** AdamW hyper-parameters that stay fixed during a run (the learning rate is a per-step input). */
export interface AdamWSettings {
  betas: [number, number]
  eps: number
  weightDecay: number
}

/** method.md §5: AdamW, weight decay 1e-5; betas and eps are PyTorch's defaults. */
export const SEED_ADAMW: AdamWSettings = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-5 }

/** Names of the per-step scalar inputs of the update, each float32 [1]. */
export const ADAMW_STEP_INPUTS = {
  /** The learning rate of this step (after the schedule). */
  lr: 'lr',
  /** lr / (1 − β1^t). */
  stepSize: 'step_size',
  /** √(1 − β2^t). */
  biasCorrection2Sqrt: 'bias_correction2_sqrt',
} as const

export const adamMomentName = (key: string, moment: 'm' | 'v'): string => `adam.${moment}/${key}`
export const updatedName = (name: string): string => `new/${name}`

/** The per-step scalars for step t (1-based), exactly as torch.optim.AdamW computes them. */
export function adamWStepScalars(lr: number, t: number, { betas }: AdamWSettings): Record<string, number> {
  return {
    [ADAMW_STEP_INPUTS.lr]: lr,
    [ADAMW_STEP_INPUTS.stepSize]: lr / (1 - betas[0] ** t),
    [ADAMW_STEP_INPUTS.biasCorrection2Sqrt]: Math.sqrt(1 - betas[1] ** t),
  }
}

/**
 * torch.optim.AdamW's update (decoupled weight decay, no amsgrad) for one parameter with gradient
 * `grad`:  p ← p·(1 − lr·λ);  m ← β1 m + (1 − β1) g;  v ← β2 v + (1 − β2) g²;
 *          p ← p − step_size · m / (√v / √(1 − β2^t) + ε).
 * Writes `new/<key>`, `new/adam.m/<key>`, `new/adam.v/<key>` for every parameter in `grads`.
 */
export function emitAdamW(g: GraphWriter, grads: ReadonlyMap<string, string>, settings: AdamWSettings): void {
  const c = (name: string, v: number): string => g.floatConstant(`adamw/${name}`, [], new Float32Array([v]))
  g.node('Mul', [ADAMW_STEP_INPUTS.lr, c('weight_decay', settings.weightDecay)], ['adamw/lr_wd'])
  g.node('Sub', [c('one', 1), 'adamw/lr_wd'], ['adamw/decay_factor'])
  for (const [key, grad] of grads) emitAdamWUpdate(g, key, grad, settings)
}

function emitAdamWUpdate(g: GraphWriter, key: string, grad: string, settings: AdamWSettings): void {
  const [b1, b2] = settings.betas
  const c = (name: string, v: number): string => g.floatConstant(`adamw/${name}`, [], new Float32Array([v]))
  const m = adamMomentName(key, 'm')
  const v = adamMomentName(key, 'v')
  const t = (suffix: string): string => `adamw/${key}/${suffix}`
  g.node('Mul', [m, c('beta1', b1)], [t('m_old')])
  g.node('Mul', [grad, c('one_minus_beta1', 1 - b1)], [t('m_grad')])
  g.node('Add', [t('m_old'), t('m_grad')], [updatedName(m)])
  g.node('Mul', [grad, grad], [t('grad2')])
  g.node('Mul', [v, c('beta2', b2)], [t('v_old')])
  g.node('Mul', [t('grad2'), c('one_minus_beta2', 1 - b2)], [t('v_grad')])
  g.node('Add', [t('v_old'), t('v_grad')], [updatedName(v)])
  g.node('Sqrt', [updatedName(v)], [t('sqrt_v')])
  g.node('Div', [t('sqrt_v'), ADAMW_STEP_INPUTS.biasCorrection2Sqrt], [t('sqrt_v_hat')])
  g.node('Add', [t('sqrt_v_hat'), c('eps', settings.eps)], [t('denom')])
  g.node('Div', [updatedName(m), t('denom')], [t('ratio')])
  g.node('Mul', [t('ratio'), ADAMW_STEP_INPUTS.stepSize], [t('delta')])
  g.node('Mul', [key, 'adamw/decay_factor'], [t('decayed')])
  g.node('Sub', [t('decayed'), t('delta')], [updatedName(key)])
}
