/**
 * Deviates drawn from a caller's `rng: () => number` in [0, 1) (e.g. `uniformRandom(seed)` from
 * imaging/seededRandom.ts), so every data step is reproducible from one seed.
 */

/** U(lo, hi). */
export function uniformBetween(rng: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rng()
}

/** A uniformly chosen integer in [0, n). */
export function randomIndex(rng: () => number, n: number): number {
  // min() guards against an rng that returns exactly 1 (out of contract, but cheap to survive).
  return Math.min(n - 1, Math.floor(rng() * n))
}

/**
 * Standard normal deviates by Box–Muller: each pair of uniforms gives two independent N(0, 1) values;
 * the second is kept for the next call, so a stream of n deviates costs n uniforms.
 */
export function normalSampler(rng: () => number): () => number {
  let spare = 0
  let hasSpare = false
  return () => {
    if (hasSpare) {
      hasSpare = false
      return spare
    }
    const u1 = 1 - rng() // (0, 1]: log(0) never happens
    const u2 = rng()
    const r = Math.sqrt(-2 * Math.log(u1))
    const theta = 2 * Math.PI * u2
    spare = r * Math.sin(theta)
    hasSpare = true
    return r * Math.cos(theta)
  }
}
