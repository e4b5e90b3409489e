import { describe, expect, it } from 'vitest'
import { generalizedDiceLoss, GDL_SMOOTH_DR, GDL_SMOOTH_NR } from '../../src/main/training/loss/generalizedDice'
import { focalLoss } from '../../src/main/training/loss/focal'
import { generalizedDiceFocalLoss } from '../../src/main/training/loss/generalizedDiceFocal'
import type { LossResult } from '../../src/main/training/loss/layout'

const LN3 = Math.log(3)

/** Deterministic PRNG so failures reproduce. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Random batch: sample 0 has an empty foreground (G_fg = 0), sample 1 is all foreground (G_bg = 0). */
function randomBatch(seed: number, n: number, v: number): { logits: Float64Array; target: Uint8Array } {
  const rand = mulberry32(seed)
  const logits = new Float64Array(n * 2 * v)
  for (let i = 0; i < logits.length; i++) logits[i] = (rand() - 0.5) * 6
  const target = new Uint8Array(n * v)
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < v; i++) target[s * v + i] = s === 0 ? 0 : s === 1 ? 1 : rand() < 0.3 ? 1 : 0
  }
  return { logits, target }
}

/** Central differences in float64 against the analytic gradient. */
function expectGradientMatches(fn: (x: Float64Array) => LossResult, logits: Float64Array, eps = 1e-5): void {
  const { gradLogits } = fn(logits)
  const x = Float64Array.from(logits)
  let checked = 0
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]
    x[i] = x0 + eps
    const up = fn(x).loss
    x[i] = x0 - eps
    const down = fn(x).loss
    x[i] = x0
    const fd = (up - down) / (2 * eps)
    const err = Math.abs(gradLogits[i] - fd)
    if (err > 1e-3 * Math.abs(fd) + 1e-9) throw new Error(`grad[${i}]: analytic ${gradLogits[i]} vs finite difference ${fd}`)
    checked++
  }
  expect(checked).toBe(logits.length)
}

/** Plain (unstable but fine for moderate logits) focal reference: -α (1-p_t)^γ log p_t, mean over all. */
function naiveFocal(logits: ArrayLike<number>, target: ArrayLike<number>, n: number, v: number, w: number[], gamma: number): number {
  let sum = 0
  for (let s = 0; s < n; s++) for (let c = 0; c < 2; c++) for (let i = 0; i < v; i++) {
    const p = 1 / (1 + Math.exp(-logits[(s * 2 + c) * v + i]))
    const pt = target[s * v + i] === c ? p : 1 - p
    sum += -w[c] * (1 - pt) ** gamma * Math.log(pt)
  }
  return sum / (n * 2 * v)
}

describe('generalizedDiceLoss (MONAI GeneralizedDiceLoss, softmax, square weights)', () => {
  it('matches a hand computation: uniform softmax, one lesion voxel of four', () => {
    // p = 0.5 everywhere; G = [3, 1] -> w = [1/9, 1]; Σpg = [1.5, 0.5]; Σ(p+g) = [5, 3]
    const logits = new Float32Array(8)
    const { loss } = generalizedDiceLoss(logits, Uint8Array.of(1, 0, 0, 0), 1, 4)
    const numer = 2 * (1.5 / 9 + 0.5) + GDL_SMOOTH_NR
    const denom = 5 / 9 + 3 + GDL_SMOOTH_DR
    expect(loss).toBeCloseTo(1 - numer / denom, 12)
    expect(loss).toBeCloseTo(0.625, 5)
  })

  it('matches a hand computation with non-uniform probabilities', () => {
    // fg logits ±ln3 against bg 0 -> p_fg = [.75, .75, .25, .25]; G = [2, 2] -> w = 1/4 each
    const logits = Float64Array.of(0, 0, 0, 0, LN3, LN3, -LN3, -LN3) // float64 so ln3 is not rounded
    const { loss } = generalizedDiceLoss(logits, Uint8Array.of(1, 1, 0, 0), 1, 4)
    expect(loss).toBeCloseTo(1 - (2 * (0.25 * 1.5 + 0.25 * 1.5) + 1e-5) / (0.25 * 4 + 0.25 * 4 + 1e-5), 12)
  })

  it('gives an absent class the largest finite weight of its sample, then averages over the batch', () => {
    // Sample 0 empty: G = [4, 0] -> w = [1/16, 1/16]; numer = 2*(2/16) ; denom = (6 + 2)/16.
    // Sample 1 as the first hand case.
    const logits = new Float32Array(16)
    const { loss } = generalizedDiceLoss(logits, Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0), 2, 4)
    const empty = 1 - (0.25 + 1e-5) / (0.5 + 1e-5)
    const one = 1 - (4 / 3 + 1e-5) / (32 / 9 + 1e-5)
    expect(loss).toBeCloseTo((empty + one) / 2, 12)
  })

  it('is near 0 for a perfect prediction, including an empty and an all-lesion sample', () => {
    const { logits, target } = randomBatch(7, 3, 9)
    for (let s = 0; s < 3; s++) for (let i = 0; i < 9; i++) {
      const fg = target[s * 9 + i] === 1
      logits[s * 18 + i] = fg ? -20 : 20
      logits[s * 18 + 9 + i] = fg ? 20 : -20
    }
    const { loss, gradLogits } = generalizedDiceLoss(logits, target, 3, 9)
    expect(Math.abs(loss)).toBeLessThan(1e-8)
    for (const g of gradLogits) expect(Math.abs(g)).toBeLessThan(1e-8)
  })

  it('has a hand-derived gradient that matches central differences (with G = 0 samples)', () => {
    for (const seed of [1, 2, 3]) {
      const { logits, target } = randomBatch(seed, 4, 6)
      expectGradientMatches((x) => generalizedDiceLoss(x, target, 4, 6), logits)
    }
  })

  it('rejects inconsistent shapes and non-binary labels', () => {
    expect(() => generalizedDiceLoss(new Float32Array(7), new Uint8Array(4), 1, 4)).toThrow(RangeError)
    expect(() => generalizedDiceLoss(new Float32Array(8), new Uint8Array(3), 1, 4)).toThrow(RangeError)
    expect(() => generalizedDiceLoss(new Float32Array(8), Uint8Array.of(0, 2, 0, 0), 1, 4)).toThrow(RangeError)
  })
})

describe('focalLoss (MONAI FocalLoss, per-channel sigmoid, weights [1, 100], mean)', () => {
  it('matches a hand computation', () => {
    // target [1, 0]: bg channel one-hot [0, 1], fg channel [1, 0]
    // bg logits 0: p_t = .5 -> .25·ln2 each; fg logit ln3: p = .75 ->
    //   voxel 0 (t = 1): (1/4)^2 · ln(4/3); voxel 1 (t = 0): (3/4)^2 · ln 4
    const logits = Float32Array.of(0, 0, LN3, LN3)
    const { loss } = focalLoss(logits, Uint8Array.of(1, 0), 1, 2)
    const expected = (1 * 2 * 0.25 * Math.LN2 + 100 * (Math.log(4 / 3) / 16 + (9 / 16) * Math.log(4))) / 4
    expect(loss).toBeCloseTo(expected, 6)
  })

  it('agrees with the textbook form -α(1-p_t)^γ log p_t on random batches', () => {
    const { logits, target } = randomBatch(11, 3, 8)
    expect(focalLoss(logits, target, 3, 8).loss).toBeCloseTo(naiveFocal(logits, target, 3, 8, [1, 100], 2), 10)
    expect(focalLoss(logits, target, 3, 8, [2, 5], 1.5).loss).toBeCloseTo(naiveFocal(logits, target, 3, 8, [2, 5], 1.5), 10)
  })

  it('reduces to class-weighted BCE-with-logits for gamma = 0', () => {
    const { logits, target } = randomBatch(12, 2, 5)
    expect(focalLoss(logits, target, 2, 5, [1, 100], 0).loss).toBeCloseTo(naiveFocal(logits, target, 2, 5, [1, 100], 0), 10)
  })

  it('scales with the class weights as expected', () => {
    const { logits, target } = randomBatch(13, 3, 7)
    const bg = focalLoss(logits, target, 3, 7, [1, 0])
    const fg = focalLoss(logits, target, 3, 7, [0, 1])
    const both = focalLoss(logits, target, 3, 7) // default [1, 100]
    expect(both.loss).toBeCloseTo(bg.loss + 100 * fg.loss, 10)
    expect(bg.loss).toBeGreaterThan(0)
    expect(fg.loss).toBeGreaterThan(0)
    const unit = focalLoss(logits, target, 3, 7, [1, 1])
    const triple = focalLoss(logits, target, 3, 7, [3, 3])
    expect(triple.loss).toBeCloseTo(3 * unit.loss, 10)
    for (let i = 0; i < unit.gradLogits.length; i++) {
      expect(triple.gradLogits[i]).toBeCloseTo(3 * unit.gradLogits[i], 6)
      // weights act per channel: the bg-only loss has no gradient on fg channels and vice versa
      const fgChannel = Math.floor(i / 7) % 2 === 1
      expect(Math.abs(fgChannel ? bg.gradLogits[i] : fg.gradLogits[i])).toBe(0)
    }
  })

  it('has a hand-derived gradient that matches central differences', () => {
    for (const seed of [4, 5]) {
      const { logits, target } = randomBatch(seed, 3, 6)
      expectGradientMatches((x) => focalLoss(x, target, 3, 6), logits)
      expectGradientMatches((x) => focalLoss(x, target, 3, 6, [0.5, 3], 1.5), logits)
    }
  })

  it('stays finite for extreme logits', () => {
    const logits = Float32Array.of(300, -300, -300, 300)
    const { loss, gradLogits } = focalLoss(logits, Uint8Array.of(1, 0), 1, 2)
    expect(Number.isFinite(loss)).toBe(true)
    expect(loss).toBeGreaterThan(1e3) // both voxels confidently wrong on both channels
    for (const g of gradLogits) expect(Number.isFinite(g)).toBe(true)
    const right = focalLoss(Float32Array.of(-300, 300, 300, -300), Uint8Array.of(1, 0), 1, 2)
    expect(right.loss).toBe(0)
  })
})

describe('generalizedDiceFocalLoss', () => {
  it('is the sum of both losses and of both gradients', () => {
    const { logits, target } = randomBatch(21, 3, 5)
    const dice = generalizedDiceLoss(logits, target, 3, 5)
    const focal = focalLoss(logits, target, 3, 5)
    const sum = generalizedDiceFocalLoss(logits, target, 3, 5)
    expect(sum.loss).toBeCloseTo(dice.loss + focal.loss, 12)
    expect(sum.dice).toBe(dice.loss)
    expect(sum.focal).toBe(focal.loss)
    for (let i = 0; i < sum.gradLogits.length; i++) {
      const expected = dice.gradLogits[i] + focal.gradLogits[i]
      expect(Math.abs(sum.gradLogits[i] - expected)).toBeLessThanOrEqual(1e-6 * Math.abs(expected) + 1e-12) // float32 output
    }
  })

  it('has a gradient that matches central differences', () => {
    const { logits, target } = randomBatch(22, 4, 5)
    expectGradientMatches((x) => generalizedDiceFocalLoss(x, target, 4, 5), logits)
  })
})
