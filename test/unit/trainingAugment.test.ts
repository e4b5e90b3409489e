import { describe, expect, it } from 'vitest'
import type { Vec3 } from '../../src/shared/geometry'
import { uniformRandom } from '../../src/main/imaging/seededRandom'
import { applyAffine, drawAffineParams, randomAffine, type AffineParams } from '../../src/main/training/data/affine'
import { applyDisplacement, drawElasticDisplacement, gaussianKernel1d, randomElastic } from '../../src/main/training/data/elastic'
import { addGaussianNoise, adjustContrast, randomContrast, randomGaussianNoise } from '../../src/main/training/data/intensity'
import { augmentPatch, SEED_AUGMENTATION, type AugmentationSettings } from '../../src/main/training/data/augmentPatch'
import type { TrainingPatch } from '../../src/main/training/data/patchLayout'
import { cropPatch, samplePatchOrigin } from '../../src/main/training/data/patchSampling'
import { reflectCoordinate } from '../../src/main/training/data/resample'
import { drawTrainingPatch } from '../../src/main/training/data/trainingPatch'

const NONE: AugmentationSettings = {
  affine: { p: 0, translateVoxels: 10, rotateDeg: 15, scale: 0.1 },
  elastic: { p: 0, sigma: [0, 1], magnitude: [0, 1] },
  contrast: { p: 0, gamma: [0.7, 1.5] },
  noise: { p: 0, std: [0, 0.1] },
}
/** Every transform applied, with the method's ranges. */
const ALWAYS: AugmentationSettings = {
  affine: { ...SEED_AUGMENTATION.affine, p: 1 },
  elastic: { ...SEED_AUGMENTATION.elastic, p: 1 },
  contrast: { ...SEED_AUGMENTATION.contrast, p: 1 },
  noise: { ...SEED_AUGMENTATION.noise, p: 1 },
}

const index = (d: Vec3, i: number, j: number, k: number): number => i + d[0] * (j + d[1] * k)

/** A patch whose channel c, voxel (i,j,k) is fn(c, i, j, k) and label lab(i, j, k). */
function makePatch(
  dims: Vec3,
  channels: number,
  fn: (c: number, i: number, j: number, k: number) => number,
  lab: (i: number, j: number, k: number) => boolean = () => false,
): TrainingPatch {
  const n = dims[0] * dims[1] * dims[2]
  const image = new Float32Array(channels * n)
  const label = new Uint8Array(n)
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const v = index(dims, i, j, k)
        for (let c = 0; c < channels; c++) image[c * n + v] = fn(c, i, j, k)
        label[v] = lab(i, j, k) ? 1 : 0
      }
  return { image, channels, dims, label }
}

/** Random positive 2-channel image (CT-like [0,1], PET-like [0,20]) with a sphere lesion. */
function randomPatch(dims: Vec3, seed = 7): TrainingPatch {
  const r = uniformRandom(seed)
  const c = dims.map((d) => (d - 1) / 2)
  return makePatch(
    dims,
    2,
    (ch) => (ch === 0 ? r() : 20 * r()),
    (i, j, k) => (i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= 25,
  )
}

function sum(a: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]
  return s
}

function expectBinary(label: Uint8Array): void {
  for (let v = 0; v < label.length; v++) if (label[v] !== 0 && label[v] !== 1) throw new Error(`label[${v}] = ${label[v]}`)
}

function cloneOf(p: TrainingPatch): TrainingPatch {
  return { image: p.image.slice(), channels: p.channels, dims: [...p.dims] as Vec3, label: p.label.slice() }
}

describe('augmentPatch: reproducibility and identities', () => {
  const sample = randomPatch([20, 18, 16])

  it('is deterministic for a seed, differs for another, and never mutates its input', () => {
    const before = cloneOf(sample)
    const a = augmentPatch(sample, uniformRandom(1), ALWAYS)
    const b = augmentPatch(sample, uniformRandom(1), ALWAYS)
    const c = augmentPatch(sample, uniformRandom(2), ALWAYS)
    expect(a.image).toEqual(b.image)
    expect(a.label).toEqual(b.label)
    expect(a.image).not.toEqual(c.image)
    expect(sample.image).toEqual(before.image)
    expect(sample.label).toEqual(before.label)
    expect(a.dims).toEqual(sample.dims)
    expect(a.channels).toBe(2)
  })

  it('with every p = 0 returns identical data in new arrays', () => {
    const out = augmentPatch(sample, uniformRandom(3), NONE)
    expect(out.image).toEqual(sample.image)
    expect(out.label).toEqual(sample.label)
    expect(out.image).not.toBe(sample.image)
    expect(out.label).not.toBe(sample.label)
    const skipped: Array<(x: TrainingPatch) => TrainingPatch> = [
      (x) => randomAffine(x, uniformRandom(4), NONE.affine),
      (x) => randomElastic(x, uniformRandom(4), NONE.elastic),
      (x) => randomContrast(x, uniformRandom(4), NONE.contrast),
      (x) => randomGaussianNoise(x, uniformRandom(4), NONE.noise),
    ]
    for (const f of skipped) {
      const o = f(sample)
      expect(o.image).toEqual(sample.image)
      expect(o.label).toEqual(sample.label)
      expect(o.image).not.toBe(sample.image)
      expect(o.label).not.toBe(sample.label)
    }
  })

  it('with zero ranges at p = 1 returns identical data (translate 0, rotate 0, scale 0, magnitude 0, std 0)', () => {
    const zero: AugmentationSettings = {
      affine: { p: 1, translateVoxels: 0, rotateDeg: 0, scale: 0 },
      elastic: { p: 1, sigma: [0, 1], magnitude: [0, 0] },
      contrast: { p: 0, gamma: [0.7, 1.5] },
      noise: { p: 1, std: [0, 0] },
    }
    const out = augmentPatch(sample, uniformRandom(5), zero)
    expect(out.image).toEqual(sample.image)
    expect(out.label).toEqual(sample.label)
    // gamma 1 is the identity up to MONAI's 1e-7 epsilon on the range.
    const g1 = adjustContrast(sample, 1).image
    expect(Math.max(...g1.map((y, v) => Math.abs(y - sample.image[v])))).toBeLessThan(1e-5)
  })

  it('the SEED settings are the method’s (§5)', () => {
    expect(SEED_AUGMENTATION).toEqual({
      affine: { p: 0.5, translateVoxels: 10, rotateDeg: 15, scale: 0.1 },
      elastic: { p: 0.5, sigma: [0, 1], magnitude: [0, 1] },
      contrast: { p: 0.3, gamma: [0.7, 1.5] },
      noise: { p: 0.5, std: [0, 0.1] },
    })
  })

  it('applies each transform with its probability', () => {
    // Count how often an augmented patch differs from its input, one transform enabled at a time.
    const tiny = randomPatch([6, 6, 6])
    for (const key of ['affine', 'elastic', 'contrast', 'noise'] as const) {
      const settings = { ...NONE, [key]: { ...SEED_AUGMENTATION[key] } } as AugmentationSettings
      const rng = uniformRandom(11)
      let changed = 0
      const trials = 400
      for (let t = 0; t < trials; t++) {
        const out = augmentPatch(tiny, rng, settings)
        if (out.image.some((x, v) => x !== tiny.image[v])) changed++
      }
      const p = SEED_AUGMENTATION[key].p
      expect(Math.abs(changed / trials - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / trials))
    }
  })
})

describe('affine', () => {
  const dims: Vec3 = [24, 22, 20]
  const blob = (i: number, j: number, k: number): boolean => Math.abs(i - 10) <= 2 && Math.abs(j - 12) <= 1 && Math.abs(k - 9) <= 3
  const sample = makePatch(dims, 2, (c, i, j, k) => (blob(i, j, k) ? 5 + c : 1 + 0.01 * c), blob)

  it('an integer translation t moves a blob by exactly -t voxels (MONAI: output(q) = input(q + t)), image and label', () => {
    const t: Vec3 = [3, -2, 1]
    const out = applyAffine(sample, { translate: t, rotateRad: 0, scale: [1, 1, 1] })
    const n = dims[0] * dims[1] * dims[2]
    let lesion = 0
    for (let k = 0; k < dims[2]; k++)
      for (let j = 0; j < dims[1]; j++)
        for (let i = 0; i < dims[0]; i++) {
          const inside = blob(i + t[0], j + t[1], k + t[2])
          const v = index(dims, i, j, k)
          expect(out.label[v]).toBe(inside ? 1 : 0)
          expect(out.image[v]).toBe(inside ? 5 : 1)
          expect(out.image[n + v]).toBeCloseTo(inside ? 6 : 1.01, 6)
          lesion += out.label[v]
        }
    expect(lesion).toBe(sum(sample.label))
  })

  it('rotates in the (axis 0, axis 1) plane: axis 2 (axial) positions are untouched, a quarter turn maps +axis0 to -axis1', () => {
    const d: Vec3 = [32, 32, 12]
    const c = 15.5
    // A single lesion voxel 5 voxels along +axis 0 from the centre (voxel 20.5 -> use i = 20 / 21 pair).
    const spot = (i: number, j: number, k: number): boolean => (i === 20 || i === 21) && (j === 15 || j === 16) && k === 4
    const s = makePatch(d, 1, (_c, i, j, k) => (spot(i, j, k) ? 1 : 0), spot)
    const out = applyAffine(s, { translate: [0, 0, 0], rotateRad: Math.PI / 2, scale: [1, 1, 1] })
    // p - c = R (q - c): the spot at offset (+5, 0) appears at q with offset (0, -5).
    const expected = (i: number, j: number, k: number): boolean => (j === 10 || j === 11) && (i === 15 || i === 16) && k === 4
    for (let k = 0; k < d[2]; k++)
      for (let j = 0; j < d[1]; j++)
        for (let i = 0; i < d[0]; i++) {
          const v = index(d, i, j, k)
          expect(out.label[v]).toBe(expected(i, j, k) ? 1 : 0)
          expect(out.image[v]).toBeCloseTo(expected(i, j, k) ? 1 : 0, 5)
        }
    expect(c).toBe((d[0] - 1) / 2)
  })

  it('a rotation keeps a centred sphere’s label volume within a few percent; scale s shrinks it by about s', () => {
    const d: Vec3 = [40, 40, 40]
    const c = 19.5
    const sphere = (i: number, j: number, k: number): boolean => (i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2 <= 100
    const s = makePatch(d, 1, (_c, i, j, k) => (sphere(i, j, k) ? 1 : 0), sphere)
    const volume = sum(s.label)
    for (const deg of [7, 15, 37]) {
      const out = applyAffine(s, { translate: [0, 0, 0], rotateRad: (deg * Math.PI) / 180, scale: [1, 1, 1] })
      expectBinary(out.label)
      expect(Math.abs(sum(out.label) / volume - 1)).toBeLessThan(0.03)
    }
    const scaled = applyAffine(s, { translate: [0, 0, 0], rotateRad: 0, scale: [1.1, 1, 1] })
    expect(Math.abs((sum(scaled.label) * 1.1) / volume - 1)).toBeLessThan(0.03)
  })

  it('reflection padding: a positive image stays within its input range, no zeros at the borders', () => {
    const r = uniformRandom(21)
    const positive = makePatch([16, 14, 12], 2, () => 1 + r(), (i) => i < 3)
    for (let seed = 0; seed < 5; seed++) {
      const out = randomAffine(positive, uniformRandom(seed), { p: 1, translateVoxels: 10, rotateDeg: 15, scale: 0.1 })
      expect(Math.min(...out.image)).toBeGreaterThanOrEqual(1)
      expect(Math.max(...out.image)).toBeLessThanOrEqual(2)
      expectBinary(out.label)
    }
    // Mirrored at the voxel borders (grid_sample reflection, align_corners=False).
    const ramp = makePatch([6, 1, 1], 1, (_c, i) => 10 + i)
    const shifted = applyAffine(ramp, { translate: [-2, 0, 0], rotateRad: 0, scale: [1, 1, 1] })
    expect(Array.from(shifted.image)).toEqual([11, 10, 10, 11, 12, 13])
    expect([-1, -2, -0.3, 5, 6, 10, 2.5].map((x) => reflectCoordinate(x, 5))).toEqual([0, 1, 0, 4, 3, 0, 2.5])
  })

  it('random parameters stay in their ranges', () => {
    const rng = uniformRandom(9)
    for (let t = 0; t < 200; t++) {
      const p: AffineParams = drawAffineParams(rng, SEED_AUGMENTATION.affine)
      for (const x of p.translate) expect(Math.abs(x)).toBeLessThanOrEqual(10)
      for (const x of p.scale) expect(Math.abs(x - 1)).toBeLessThanOrEqual(0.1)
      expect(Math.abs(p.rotateRad)).toBeLessThanOrEqual((15 * Math.PI) / 180)
    }
  })
})

describe('elastic', () => {
  it('MONAI’s erf Gaussian kernel: identity at sigma 0, 7 taps summing to ~1 at sigma 1', () => {
    expect(Array.from(gaussianKernel1d(0))).toEqual([1])
    const k = gaussianKernel1d(1)
    expect(k.length).toBe(7)
    expect(k[3]).toBeCloseTo(0.38292, 4) // erf(0.5 / sqrt 2)
    expect(k[0]).toBeCloseTo(k[6], 12)
    expect(sum(k)).toBeCloseTo(0.99953, 4) // not normalised (truncated at 3 sigma)
    expect(gaussianKernel1d(0.1).length).toBe(3)
  })

  it('keeps labels binary, changes the image, keeps a positive image positive, displacements bounded', () => {
    const s = randomPatch([18, 18, 18])
    const r = uniformRandom(31)
    const positive = { ...s, image: s.image.map(() => 1 + r()) }
    for (let seed = 0; seed < 4; seed++) {
      const settings = { p: 1, sigma: [0, 1], magnitude: [1, 1] } as const
      const out = randomElastic(positive, uniformRandom(seed), settings)
      expectBinary(out.label)
      expect(out.image).not.toEqual(positive.image)
      expect(Math.min(...out.image)).toBeGreaterThanOrEqual(1)
      expect(Math.max(...out.image)).toBeLessThanOrEqual(2)
      const rng = uniformRandom(seed)
      rng() // the p decision
      const d = drawElasticDisplacement(s.dims, rng, settings)
      expect(Math.max(...d.map(Math.abs))).toBeLessThanOrEqual(1)
    }
  })

  it('smooths the offsets: neighbouring displacements correlate at sigma 1, not at sigma 0', () => {
    const dims: Vec3 = [20, 20, 20]
    const corr = (sigma: number): number => {
      const d = drawElasticDisplacement(dims, uniformRandom(4), { p: 1, sigma: [sigma, sigma], magnitude: [1, 1] })
      let sxy = 0
      let sxx = 0
      for (let k = 3; k < 17; k++)
        for (let j = 3; j < 17; j++)
          for (let i = 3; i < 16; i++) {
            const a = d[index(dims, i, j, k)]
            const b = d[index(dims, i + 1, j, k)]
            sxy += a * b
            sxx += a * a
          }
      return sxy / sxx
    }
    expect(Math.abs(corr(0))).toBeLessThan(0.05)
    expect(corr(1)).toBeGreaterThan(0.7)
  })
})

describe('affine + elastic in one pass', () => {
  it('equals the elastic applied to the affine output (exact for a linear image, away from the borders)', () => {
    const dims: Vec3 = [36, 34, 32]
    const f = (i: number, j: number, k: number): number => 2 + 0.5 * i - 0.25 * j + 0.125 * k
    const s = makePatch(dims, 1, (_c, i, j, k) => f(i, j, k))
    const settings: AugmentationSettings = {
      ...NONE,
      affine: { p: 1, translateVoxels: 2, rotateDeg: 5, scale: 0.05 },
      elastic: { p: 1, sigma: [1, 1], magnitude: [1, 1] },
    }
    const once = augmentPatch(s, uniformRandom(8), settings)
    const rng = uniformRandom(8)
    rng()
    const params = drawAffineParams(rng, settings.affine)
    rng()
    const field = drawElasticDisplacement(dims, rng, settings.elastic)
    const twice = applyDisplacement(applyAffine(s, params), field)
    let compared = 0
    const m = 6
    for (let k = m; k < dims[2] - m; k++)
      for (let j = m; j < dims[1] - m; j++)
        for (let i = m; i < dims[0] - m; i++) {
          const v = index(dims, i, j, k)
          expect(Math.abs(once.image[v] - twice.image[v])).toBeLessThan(1e-4)
          compared++
        }
    expect(compared).toBeGreaterThan(5000)
    expect(once.image).not.toEqual(s.image)
  })

  it('augmentPatch with only the affine enabled is randomAffine with the same seed', () => {
    const s = randomPatch([14, 12, 10])
    const settings = { ...NONE, affine: { ...SEED_AUGMENTATION.affine, p: 1 } }
    const a = augmentPatch(s, uniformRandom(12), settings)
    const b = randomAffine(s, uniformRandom(12), settings.affine)
    expect(a.image).toEqual(b.image)
    expect(a.label).toEqual(b.label)
  })
})

describe('intensity', () => {
  const s = randomPatch([16, 16, 16])
  const n = 16 ** 3

  it('contrast: MONAI’s formula per channel, keeps each channel’s min and max, monotonic', () => {
    for (const gamma of [0.7, 1.5]) {
      const out = adjustContrast(s, gamma)
      expect(out.label).toEqual(s.label)
      for (let c = 0; c < 2; c++) {
        const x = s.image.subarray(c * n, (c + 1) * n)
        const y = out.image.subarray(c * n, (c + 1) * n)
        const min = Math.min(...x)
        const max = Math.max(...x)
        const range = max - min
        expect(Math.min(...y)).toBeCloseTo(min, 5)
        expect(Math.abs(Math.max(...y) - max)).toBeLessThan(1e-5 * range + 1e-6)
        const v = 123
        expect(y[v]).toBeCloseTo(((x[v] - min) / (range + 1e-7)) ** gamma * range + min, 4)
        const order = Array.from(x.keys()).sort((a, b) => x[a] - x[b])
        for (let q = 1; q < order.length; q++) expect(y[order[q]]).toBeGreaterThanOrEqual(y[order[q - 1]])
        expect(y).not.toEqual(x)
      }
    }
  })

  it('contrast: the random gamma lies in the range (checked through the mid value)', () => {
    const half = makePatch([3, 1, 1], 1, (_c, i) => i / 2) // 0, 0.5, 1
    for (let seed = 0; seed < 50; seed++) {
      const y = randomContrast(half, uniformRandom(seed), { p: 1, gamma: [0.7, 1.5] }).image[1]
      expect(y).toBeGreaterThanOrEqual(0.5 ** 1.5 - 1e-6)
      expect(y).toBeLessThanOrEqual(0.5 ** 0.7 + 1e-6)
    }
  })

  it('noise: roughly the requested std, zero mean, independent per channel, label untouched', () => {
    const out = addGaussianNoise(s, 0.1, uniformRandom(3))
    expect(out.label).toEqual(s.label)
    expect(out.label).not.toBe(s.label)
    const stats = (c: number): { mean: number; std: number } => {
      let m = 0
      let q = 0
      for (let v = 0; v < n; v++) {
        const e = out.image[c * n + v] - s.image[c * n + v]
        m += e
        q += e * e
      }
      return { mean: m / n, std: Math.sqrt(q / n - (m / n) ** 2) }
    }
    for (const c of [0, 1]) {
      const { mean, std } = stats(c)
      expect(Math.abs(mean)).toBeLessThan(0.01)
      expect(Math.abs(std / 0.1 - 1)).toBeLessThan(0.05)
    }
    let cross = 0
    for (let v = 0; v < n; v++) cross += (out.image[v] - s.image[v]) * (out.image[n + v] - s.image[n + v])
    expect(Math.abs(cross / n / 0.01)).toBeLessThan(0.1)

    const fixed = randomGaussianNoise(s, uniformRandom(4), { p: 1, std: [0.05, 0.05] })
    let q = 0
    for (let v = 0; v < 2 * n; v++) q += (fixed.image[v] - s.image[v]) ** 2
    expect(Math.abs(Math.sqrt(q / (2 * n)) / 0.05 - 1)).toBeLessThan(0.05)
    expect(fixed.label).toEqual(s.label)
  })
})

describe('patch sampling', () => {
  const dims: Vec3 = [40, 30, 50]
  const n = dims[0] * dims[1] * dims[2]
  const lesions: Vec3[] = [
    [5, 5, 5],
    [20, 20, 40],
  ]
  const label = new Uint8Array(n)
  for (const [i, j, k] of lesions) label[index(dims, i, j, k)] = 1
  const patch: Vec3 = [16, 12, 20]

  it('with foregroundProbability 1 the patch always contains a lesion voxel, centred unless clamped', () => {
    const rng = uniformRandom(5)
    const picked = new Set<string>()
    for (let t = 0; t < 200; t++) {
      const origin = samplePatchOrigin(dims, patch, label, rng, 1)
      for (let a = 0; a < 3; a++) {
        expect(origin[a]).toBeGreaterThanOrEqual(0)
        expect(origin[a]).toBeLessThanOrEqual(dims[a] - patch[a])
      }
      const crop = cropPatch(new Float32Array(n), 1, dims, label, origin, patch)
      expect(sum(crop.label)).toBeGreaterThan(0)
      picked.add(origin.join(','))
    }
    // [20,20,40] is centred: origin = lesion - floor(patch / 2); [5,5,5] is clamped to 0.
    expect([...picked].sort()).toEqual(['0,0,0', '12,14,30'])
  })

  it('with foregroundProbability 0 picks centres uniformly; with 2/3, lesions about 2/3 of the time', () => {
    const small: Vec3 = [4, 4, 4]
    const lab = new Uint8Array(64)
    lab[5] = 1
    lab[60] = 1
    const rng = uniformRandom(17)
    const counts = new Array<number>(64).fill(0)
    const draws = 32000
    for (let t = 0; t < draws; t++) {
      const [i, j, k] = samplePatchOrigin(small, [1, 1, 1], lab, rng, 0)
      counts[index(small, i, j, k)]++
    }
    const expected = draws / 64
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(110) // 63 degrees of freedom: p(chi2 > 110) < 0.001
    let onLesion = 0
    for (let t = 0; t < 6000; t++) {
      const [i, j, k] = samplePatchOrigin(small, [1, 1, 1], lab, rng)
      onLesion += lab[index(small, i, j, k)]
    }
    const p = 2 / 3 + (1 / 3) * (2 / 64)
    expect(Math.abs(onLesion / 6000 - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / 6000))
  })

  it('falls back to a random voxel when there is no lesion', () => {
    const origin = samplePatchOrigin(dims, patch, new Uint8Array(n), uniformRandom(1), 1)
    for (let a = 0; a < 3; a++) expect(origin[a]).toBeGreaterThanOrEqual(0)
  })

  it('a volume smaller than the patch is centred in it and zero padded, data at the right place', () => {
    const d: Vec3 = [5, 6, 7]
    const p: Vec3 = [9, 8, 7]
    const vol = makePatch(d, 2, (c, i, j, k) => 1 + c * 1000 + i + 10 * j + 100 * k, (i, j, k) => i === 2 && j === 3 && k === 4)
    const origin = samplePatchOrigin(d, p, vol.label, uniformRandom(2))
    expect(origin).toEqual([-2, -1, 0])
    const out = cropPatch(vol.image, 2, d, vol.label, origin, p)
    const m = p[0] * p[1] * p[2]
    expect(out.dims).toEqual(p)
    for (let k = 0; k < p[2]; k++)
      for (let j = 0; j < p[1]; j++)
        for (let i = 0; i < p[0]; i++) {
          const [x, y, z] = [i + origin[0], j + origin[1], k + origin[2]]
          const inside = x >= 0 && x < d[0] && y >= 0 && y < d[1] && z >= 0 && z < d[2]
          const v = index(p, i, j, k)
          for (let c = 0; c < 2; c++) expect(out.image[c * m + v]).toBe(inside ? 1 + c * 1000 + x + 10 * y + 100 * z : 0)
          expect(out.label[v]).toBe(inside && x === 2 && y === 3 && z === 4 ? 1 : 0)
        }
  })

  it('crops at a given origin, partly outside, with zeros outside', () => {
    const vol = makePatch(dims, 1, (_c, i, j, k) => 1 + i + 100 * j + 10000 * k)
    const origin: Vec3 = [30, -3, 45]
    const out = cropPatch(vol.image, 1, dims, label, origin, patch)
    expect(out.image[index(patch, 0, 3, 0)]).toBe(1 + 30 + 0 + 10000 * 45)
    expect(out.image[index(patch, 9, 3, 4)]).toBe(1 + 39 + 0 + 10000 * 49)
    expect(out.image[index(patch, 10, 3, 0)]).toBe(0) // x = 40: past the volume
    expect(out.image[index(patch, 0, 2, 0)]).toBe(0) // y = -1
    expect(out.image[index(patch, 0, 3, 5)]).toBe(0) // z = 50
    expect(() => cropPatch(vol.image, 2, dims, label, origin, patch)).toThrow(RangeError)
  })
})

describe('drawTrainingPatch', () => {
  const dims: Vec3 = [30, 28, 40]
  const vol = makePatch(
    dims,
    2,
    (c, i, j, k) => (c === 0 ? (i + j + k) / 100 : (i * j) / 50),
    (i, j, k) => (i - 20) ** 2 + (j - 8) ** 2 + (k - 30) ** 2 <= 4,
  )

  it('without augmentation is the crop at the returned origin; with it, reproducible and binary', () => {
    const plain = drawTrainingPatch(vol.image, 2, dims, vol.label, [16, 16, 16], uniformRandom(3), { augmentation: NONE, foregroundProbability: 1 })
    const crop = cropPatch(vol.image, 2, dims, vol.label, plain.origin, [16, 16, 16])
    expect(plain.image).toEqual(crop.image)
    expect(plain.label).toEqual(crop.label)
    expect(sum(plain.label)).toBeGreaterThan(0)
    const a = drawTrainingPatch(vol.image, 2, dims, vol.label, [16, 16, 16], uniformRandom(4))
    const b = drawTrainingPatch(vol.image, 2, dims, vol.label, [16, 16, 16], uniformRandom(4))
    expect(a.image).toEqual(b.image)
    expect(a.origin).toEqual(b.origin)
    expectBinary(a.label)
  })
})
