import { uniformRandom } from '../../imaging/seededRandom'
import type { LayerDescription, StateTensor } from './layerDescription'
import { elementCount } from './layerDescription'

/**
 * Deterministic stand-in weights for tests and smoke runs — NOT A MODEL: a network with these weights
 * segments nothing. PyTorch's default initialisation, drawn from a seeded generator:
 * conv / transposed-conv weights and biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (kaiming-uniform, a = sqrt(5)),
 * BatchNorm weight 1, bias 0, running mean 0, running variance 1, PReLU slope 0.25.
 * Each tensor's values depend only on the seed and its key, not on the other tensors.
 */
export function seededInitTensor(t: StateTensor, seed: number): Float32Array {
  const out = new Float32Array(elementCount(t.shape))
  switch (t.role) {
    case 'convWeight':
    case 'convBias':
    case 'convTransposeWeight':
    case 'convTransposeBias': {
      const bound = 1 / Math.sqrt(t.fanIn ?? 1)
      const rand = uniformRandom(hashString(t.key) ^ seed)
      for (let i = 0; i < out.length; i++) out[i] = (2 * rand() - 1) * bound
      return out
    }
    case 'normWeight':
    case 'runningVar':
      return out.fill(1)
    case 'preluSlope':
      return out.fill(0.25)
    default:
      return out
  }
}

/** Seeded init for every tensor of the description (buffers included). */
export function seededInitWeights(desc: LayerDescription, seed = 0): Map<string, Float32Array> {
  return new Map(desc.tensors.map((t) => [t.key, seededInitTensor(t, seed)]))
}


/** FNV-1a of a string, 32 bits. */
function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
