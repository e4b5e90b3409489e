/**
 * mulberry32: a tiny seeded generator, exact in JS (32-bit integer arithmetic), so phantoms, random
 * initial weights and fuzz tests are the same on every machine. Hand-written: a few lines, and the
 * libraries on npm either lack seeding or pull in far more than this.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** Uniform deviates in [0, 1) from mulberry32. */
export function uniformRandom(seed: number): () => number {
  const next = mulberry32(seed)
  return () => next() / 4294967296
}
