import { mulberry32 } from '../imaging/seededRandom'
/**
 * Seeded randomness for the synthetic phantom.
 *
 * Hand-written rather than Math.random or a package: the demo study and every test built on it must be
 * byte-identical on every platform, Node version and run, which needs a generator whose whole state we
 * own. mulberry32 is a few lines of 32-bit integer arithmetic (exact in JS via Math.imul and >>> 0),
 * statistically good enough for placing lesions and adding image noise, and needs no dependency.
 */

export interface Rng {
  /** Uniform deviate in [0, 1). */
  next(): number
  /** Uniform deviate in [min, max). */
  uniform(min: number, max: number): number
  /** Integer in [0, n). */
  int(n: number): number
  /** Standard normal deviate (mean 0, sd 1). */
  normal(): number
}

/** Raw mulberry32: uniform 32-bit unsigned integers (see imaging/seededRandom.ts). */
export { mulberry32 }

/**
 * Derives independent seeds for separate purposes (lesions, CT noise, PET noise) from one user seed,
 * so that e.g. changing how much noise is drawn never moves the lesions.
 */
export function deriveSeed(seed: number, stream: number): number {
  // One round of a murmur3-style finaliser over the pair; any fixed integer mix would do.
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export function createRng(seed: number): Rng {
  const nextU32 = mulberry32(seed)
  const next = (): number => nextU32() / 4294967296
  let spareNormal: number | null = null
  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    int: (n) => Math.floor(next() * n),
    normal: () => {
      if (spareNormal !== null) {
        const z = spareNormal
        spareNormal = null
        return z
      }
      // Box-Muller; 1 - u keeps the log argument in (0, 1].
      const u = 1 - next()
      const v = next()
      const r = Math.sqrt(-2 * Math.log(u))
      spareNormal = r * Math.sin(2 * Math.PI * v)
      return r * Math.cos(2 * Math.PI * v)
    },
  }
}

/**
 * 2^16 standard normal deviates, for per-voxel noise. Noise for ~20 million CT voxels must cost a few
 * nanoseconds each; a Box-Muller draw (log, sqrt, cos) costs several times that. Reading this table in
 * a pseudo-random order (see xorshift32) is indistinguishable from fresh deviates in a display phantom.
 */
export const NORMAL_TABLE_SIZE = 1 << 16

export function normalTable(seed: number): Float32Array {
  const rng = createRng(seed)
  const values = new Float32Array(NORMAL_TABLE_SIZE)
  for (let n = 0; n < values.length; n++) values[n] = rng.normal()
  return values
}

/**
 * One step of Marsaglia's xorshift32: the next state from a non-zero 32-bit state. Small enough for
 * V8 to inline into per-voxel loops, where a closure call per voxel would dominate.
 */
export function xorshift32(state: number): number {
  state ^= state << 13
  state ^= state >>> 17
  state ^= state << 5
  return state >>> 0
}
