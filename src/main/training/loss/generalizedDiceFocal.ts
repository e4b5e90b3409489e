import { focalLoss, FOCAL_CLASS_WEIGHTS, FOCAL_GAMMA } from './focal'
import { generalizedDiceLoss } from './generalizedDice'
import type { LabelArray, LogitArray, LossResult } from './layout'

export interface GeneralizedDiceFocalOptions {
  classWeights?: readonly number[]
  gamma?: number
  lambdaGdl?: number
  lambdaFocal?: number
}

/**
 * MONAI 1.3 `GeneralizedDiceFocalLoss(softmax=True, to_onehot_y=True, focal_weight=[1, 100],
 * lambda_gdl=1, lambda_focal=1)`: lambda_gdl · GDL(softmax) + lambda_focal · Focal(per-channel sigmoid),
 * both fed the same raw logits. The focal part uses sigmoid because GeneralizedDiceFocalLoss does not pass
 * use_softmax to its FocalLoss (default False).
 */
export function generalizedDiceFocalLoss(
  logits: LogitArray,
  target: LabelArray,
  n: number,
  v: number,
  options: GeneralizedDiceFocalOptions = {},
): LossResult & { dice: number; focal: number } {
  const { classWeights = FOCAL_CLASS_WEIGHTS, gamma = FOCAL_GAMMA, lambdaGdl = 1, lambdaFocal = 1 } = options
  const dice = generalizedDiceLoss(logits, target, n, v)
  const focal = focalLoss(logits, target, n, v, classWeights, gamma)
  const grad = new Float32Array(dice.gradLogits.length)
  for (let i = 0; i < grad.length; i++) grad[i] = lambdaGdl * dice.gradLogits[i] + lambdaFocal * focal.gradLogits[i]
  return { loss: lambdaGdl * dice.loss + lambdaFocal * focal.loss, gradLogits: grad, dice: dice.loss, focal: focal.loss }
}
