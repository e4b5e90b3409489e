/**
 * PyTorch's CosineAnnealingLR with eta_min 0 (method.md §5 anneals per epoch over 400 epochs; a
 * fine-tuning run anneals per step over its steps): lr(t) = peak · (1 + cos(π t / T)) / 2, t = 0..T-1.
 */
export function cosineLearningRate(peak: number, step: number, totalSteps: number): number {
  if (totalSteps <= 0) return peak
  return (peak * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2
}
