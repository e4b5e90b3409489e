import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { indexToWorld, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import { readDicomImageSeries, scanDicom, type DicomImageSeries } from '../../src/main/io/dicom'
import { readDicomSegFile } from '../../src/main/io/dicom/seg/readSeg'
import { readImageFile } from '../../src/main/io/readImage'
import { computePetSuv } from '../../src/main/study/petSuv'
import { labelComponents, lesionsFromSegments } from '../../src/main/metrics/connectedComponents'
import { IncrementalLesions, type VoxelBox } from '../../src/main/metrics/incremental'
import { dmaxMm, measureLesions, patientMeasures, SUVPEAK_RADIUS_MM, SUVPEAK_RULE, suvPeakKernel } from '../../src/main/metrics/lesionStats'
import { dataPath } from './helpers/data'

const R = SUVPEAK_RADIUS_MM
const SPHERE_MM3 = (4 / 3) * Math.PI * R ** 3

function grid(dims: Vec3, spacingMm: Vec3): VolumeGeometry {
  return { dims, spacingMm, originLps: [-10, 20, 30], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
}

/** A mask of the given voxels and its one lesion (or several), labelled 18-connected. */
function lesionMask(g: VolumeGeometry, voxels: Vec3[]): Uint8Array {
  const [nx, ny] = g.dims
  const mask = new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2])
  for (const [i, j, k] of voxels) mask[i + nx * (j + ny * k)] = 1
  return mask
}

/**
 * Fraction of a box [x0,x1]x[y0,y1]x[z0,z1] (mm, sphere centred at 0) inside the sphere, computed
 * independently of the kernel: exact along z, a fine midpoint grid over x and y.
 */
function boxFractionInSphere(x0: number, x1: number, y0: number, y1: number, z0: number, z1: number, steps = 600): number {
  let inside = 0
  for (let a = 0; a < steps; a++) {
    const x = x0 + ((a + 0.5) * (x1 - x0)) / steps
    for (let b = 0; b < steps; b++) {
      const y = y0 + ((b + 0.5) * (y1 - y0)) / steps
      const h2 = R * R - x * x - y * y
      if (h2 <= 0) continue
      const h = Math.sqrt(h2)
      inside += Math.max(0, Math.min(z1, h) - Math.max(z0, -h))
    }
  }
  return inside / (steps * steps * (z1 - z0))
}

describe('SUVpeak by hand', () => {
  it('states its rule', () => {
    expect(SUVPEAK_RULE).toMatch(/1 cm³ \(radius 6\.2 mm\)/)
    expect(SUVPEAK_RULE).toMatch(/fraction of its volume inside the sphere/)
    expect(SUVPEAK_RULE).toMatch(/renormalised/)
  })

  for (const spacing of [[1, 1, 1], [2, 2, 2], [4, 4, 2], [2.0364201, 2.0364201, 3]] as Vec3[]) {
    it(`the weights of ${spacing.join(' x ')} mm voxels add up to the sphere volume`, () => {
      const k = suvPeakKernel(spacing)
      const voxelMm3 = spacing[0] * spacing[1] * spacing[2]
      expect(Math.abs((k.totalWeight * voxelMm3) / SPHERE_MM3 - 1)).toBeLessThan(2e-4)
      expect(SPHERE_MM3).toBeCloseTo(998.3, 1)
      // Symmetric and centred: the centre voxel is wholly inside.
      const centre = [...Array(k.weights.length).keys()].find((t) => k.offsets[3 * t] === 0 && k.offsets[3 * t + 1] === 0 && k.offsets[3 * t + 2] === 0) as number
      expect(k.weights[centre]).toBe(1)
      for (const w of k.weights) expect(w > 0 && w <= 1).toBe(true)
    })
  }

  it('a uniform region gives SUVpeak = the uniform value (1 mm and anisotropic)', () => {
    for (const spacing of [[1, 1, 1], [4, 4, 2]] as Vec3[]) {
      const g = grid([31, 31, 31], spacing)
      const pet = new Float32Array(31 ** 3).fill(3.25)
      const sphere: Vec3[] = []
      for (let k = 0; k < 31; k++) for (let j = 0; j < 31; j++) for (let i = 0; i < 31; i++) {
        if (((i - 15) * spacing[0]) ** 2 + ((j - 15) * spacing[1]) ** 2 + ((k - 15) * spacing[2]) ** 2 <= 100) sphere.push([i, j, k])
      }
      const mask = lesionMask(g, sphere)
      const [l] = measureLesions(labelComponents(mask, g.dims), g, pet).lesions
      expect(l.suvPeak).toBeCloseTo(3.25, 12)
      expect(l.suvMean).toBeCloseTo(3.25, 12)
      expect(l.suvMax).toBe(3.25)
    }
  })

  for (const spacing of [[1, 1, 1], [2, 2, 2]] as Vec3[]) {
    it(`one hot voxel at ${spacing[0]} mm isotropic: SUVpeak = hot × its weight / total weight`, () => {
      const g = grid([25, 25, 25], spacing)
      const n = 25 ** 3
      const hot = 12 + 25 * (12 + 25 * 12)
      const pet = new Float32Array(n)
      pet[hot] = 40
      const totalWeight = SPHERE_MM3 / spacing[0] ** 3
      // Lesion = the hot voxel: the sphere centred on it holds it whole.
      const [centred] = measureLesions(labelComponents(lesionMask(g, [[12, 12, 12]]), g.dims), g, pet).lesions
      expect(Math.abs(centred.suvPeak / (40 / totalWeight) - 1)).toBeLessThan(2e-4)
      expect(centred.suvPeakVoxel).toEqual([12, 12, 12])
      // Lesion = one voxel 6 mm from the hot one along axis 0: the sphere cuts the hot voxel.
      const d = 6 / spacing[0]
      const s = spacing[0]
      const fraction = boxFractionInSphere(d * s - s / 2, d * s + s / 2, -s / 2, s / 2, -s / 2, s / 2)
      expect(fraction).toBeGreaterThan(0.05)
      expect(fraction).toBeLessThan(0.95)
      const [cut] = measureLesions(labelComponents(lesionMask(g, [[12 - d, 12, 12]]), g.dims), g, pet).lesions
      expect(Math.abs(cut.suvPeak / ((40 * fraction) / totalWeight) - 1)).toBeLessThan(2e-3)
      // 7 mm away at 1 mm (centre 7 mm, voxel from 6.5 mm): still cut; 8 mm away: outside.
      if (s === 1) {
        const [far] = measureLesions(labelComponents(lesionMask(g, [[12 - 8, 12, 12]]), g.dims), g, pet).lesions
        expect(far.suvPeak).toBe(0)
      }
    })
  }

  it('anisotropic 4 x 4 x 2 mm voxels: hot voxel cut along the fine and the coarse axes', () => {
    const spacing: Vec3 = [4, 4, 2]
    const g = grid([15, 15, 25], spacing)
    const [nx, ny] = g.dims
    const pet = new Float32Array(15 * 15 * 25)
    const at = (i: number, j: number, k: number): number => i + nx * (j + ny * k)
    pet[at(7, 7, 12)] = 10
    const totalWeight = SPHERE_MM3 / 32
    // Along axis 2 (2 mm): centre 3 voxels = 6 mm away; the hot voxel spans z 5..7 mm, x, y -2..2 mm.
    const zFraction = boxFractionInSphere(-2, 2, -2, 2, 5, 7)
    const [alongZ] = measureLesions(labelComponents(lesionMask(g, [[7, 7, 9]]), g.dims), g, pet).lesions
    expect(Math.abs(alongZ.suvPeak / ((10 * zFraction) / totalWeight) - 1)).toBeLessThan(2e-3)
    // Along axis 0 (4 mm): centre one voxel = 4 mm away; the hot voxel spans x 2..6 mm.
    const xFraction = boxFractionInSphere(2, 6, -2, 2, -1, 1)
    const [alongX] = measureLesions(labelComponents(lesionMask(g, [[6, 7, 12]]), g.dims), g, pet).lesions
    expect(Math.abs(alongX.suvPeak / ((10 * xFraction) / totalWeight) - 1)).toBeLessThan(2e-3)
    // Diagonal: one voxel off in axes 0 and 1 (5.66 mm in-plane), and one in axis 2.
    const dFraction = boxFractionInSphere(2, 6, 2, 6, 1, 3)
    const [diagonal] = measureLesions(labelComponents(lesionMask(g, [[6, 6, 11]]), g.dims), g, pet).lesions
    expect(Math.abs(diagonal.suvPeak / ((10 * dFraction) / totalWeight) - 1)).toBeLessThan(2e-3)
    // The peak is the best centre of the lesion. Centres 0, 2 and 4 mm from the hot voxel all hold it
    // whole (farthest corner 5.7 mm): a tie, which goes to the first centre in raster order.
    const [both] = measureLesions(labelComponents(lesionMask(g, [[7, 7, 9], [7, 7, 10], [7, 7, 11], [7, 7, 12]]), g.dims), g, pet).lesions
    expect(both.suvPeak).toBeCloseTo(10 / suvPeakKernel(spacing).totalWeight, 12)
    expect(both.suvPeakVoxel).toEqual([7, 7, 10])
    expect(both.suvPeakLps).toEqual(indexToWorld(g, [7, 7, 10]))
  })

  it('the pruned search equals evaluating every centre: value and position, ties included', () => {
    const random = rng(21)
    for (let trial = 0; trial < 24; trial++) {
      const spacing: Vec3 = [[2, 2, 2], [4, 4, 2], [2.04, 2.04, 3], [1, 1, 1]][trial % 4] as Vec3
      const g = grid([26, 24, 22], spacing)
      const [nx, ny, nz] = g.dims
      const n = nx * ny * nz
      const kind = trial % 3
      // Random noise, plateaus (many ties), and quantised values.
      const pet = Float32Array.from({ length: n }, (_, p) => (kind === 0 ? random() * 10 : kind === 1 ? (p % 3 === 0 ? 4 : 4) : Math.floor(random() * 3)))
      const mask = new Uint8Array(n)
      // A blob reaching the grid edge, and a ring, so centres near the edge and interior both count.
      const c: Vec3 = [random() * nx, random() * ny, random() * nz]
      const r = 3 + random() * 6
      for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
        const d = Math.hypot(i - c[0], j - c[1], k - c[2])
        if (d <= r && (trial % 2 === 0 || d > r - 1.5)) mask[i + nx * (j + ny * k)] = 1
      }
      const cc = labelComponents(mask, g.dims, 26)
      const kernel = suvPeakKernel(spacing)
      for (const l of measureLesions(cc, g, pet).lesions) {
        let best = -Infinity
        let at = -1
        for (let p = 0; p < n; p++) {
          if (cc.labels[p] !== l.id) continue
          const i = p % nx
          const j = Math.floor(p / nx) % ny
          const k = Math.floor(p / (nx * ny))
          let s = 0
          let w = 0
          for (let u = 0; u < kernel.weights.length; u++) {
            const [a, b, e] = [i + kernel.offsets[3 * u], j + kernel.offsets[3 * u + 1], k + kernel.offsets[3 * u + 2]]
            if (a < 0 || b < 0 || e < 0 || a >= nx || b >= ny || e >= nz) continue
            s += kernel.weights[u] * pet[a + nx * (b + ny * e)]
            w += kernel.weights[u]
          }
          const m = s / w
          if (m > best * (1 + 1e-12) + 1e-12) {
            best = m
            at = p
          }
        }
        expect(Math.abs(l.suvPeak - best)).toBeLessThan(1e-9 * Math.max(1, best))
        if (kind === 0) expect(l.suvPeakVoxel).toEqual([at % nx, Math.floor(at / nx) % ny, Math.floor(at / (nx * ny))])
      }
    }
  })

  it('at the image edge the weights of the voxels inside are renormalised', () => {
    const g = grid([12, 12, 12], [2, 2, 2])
    const pet = new Float32Array(12 ** 3).fill(2.5)
    const [corner] = measureLesions(labelComponents(lesionMask(g, [[0, 0, 0]]), g.dims), g, pet).lesions
    expect(corner.suvPeak).toBeCloseTo(2.5, 12)
  })

  it('SULpeak = SUVpeak × the ratio; Dmax of centroids; no PET: NaN SUV values', () => {
    const g = grid([20, 10, 10], [2, 2, 2])
    const pet = new Float32Array(2000).fill(1)
    const mask = lesionMask(g, [[1, 1, 1], [18, 8, 8], [10, 5, 5]])
    const r = measureLesions(labelComponents(mask, g.dims), g, pet, { sulPerSuvbw: 0.8 })
    expect(r.lesions).toHaveLength(3)
    for (const l of r.lesions) expect(l.sulPeak).toBeCloseTo(l.suvPeak * 0.8, 12)
    expect(r.patient.dmaxMm).toBeCloseTo(Math.hypot(34, 14, 14), 9)
    expect(dmaxMm([])).toBe(0)
    const bare = measureLesions(labelComponents(mask, g.dims), g)
    expect(bare.lesions[0].suvPeak).toBeNaN()
    expect(bare.lesions[0].mtvMl).toBeCloseTo(0.008, 12)
  })
})

describe('QIN-HEADNECK: the 11-lesion DICOM SEG on its PET (SUVbw)', () => {
  let pet: DicomImageSeries
  let suv: Float32Array
  let labels: Uint8Array
  beforeAll(async () => {
    const dir = dataPath('mirp-qin-hn-0139-pet-seg')
    const scan = await scanDicom([join(dir, 'image')])
    const series = scan.studies.flatMap((s) => s.series).find((s) => s.modality === 'PT')
    if (!series) throw new Error('no PET series')
    pet = await readDicomImageSeries(series)
    const converted = computePetSuv(pet, {})
    expect(converted.summary.public.ok).toBe(true)
    suv = converted.voxels
    const seg = await readDicomSegFile(join(dir, 'mask', 'mask.dcm'), { geometry: pet.geometry, frameOfReferenceUid: series.frameOfReferenceUid })
    labels = seg.labels
    expect(seg.segments).toHaveLength(11)
  })

  it('MTV, SUVmax, SUVmean and TLG equal direct voxel sums, per segment', () => {
    const g = pet.geometry
    const voxelMl = (g.spacingMm[0] * g.spacingMm[1] * g.spacingMm[2]) / 1000
    const result = measureLesions(lesionsFromSegments(labels, g.dims), g, suv)
    expect(result.lesions).toHaveLength(11)
    expect(result.suvPeakRule).toBe(SUVPEAK_RULE)
    let tmtv = 0
    let tlg = 0
    for (let v = 1; v <= 11; v++) {
      let count = 0
      let sum = 0
      let max = -Infinity
      for (let p = 0; p < labels.length; p++) {
        if (labels[p] !== v) continue
        count++
        sum += suv[p]
        max = Math.max(max, suv[p])
      }
      const l = result.lesions[v - 1]
      expect(l.voxelCount).toBe(count)
      expect(Math.abs(l.mtvMl - count * voxelMl)).toBeLessThan(1e-9)
      expect(l.suvMax).toBe(max)
      expect(Math.abs(l.suvMean - sum / count)).toBeLessThan(1e-9)
      expect(Math.abs(l.tlgMlSuv - (sum / count) * count * voxelMl)).toBeLessThan(1e-9)
      expect(suv[l.suvMaxVoxel[0] + g.dims[0] * (l.suvMaxVoxel[1] + g.dims[1] * l.suvMaxVoxel[2])]).toBe(max)
      // SUVpeak averages a 1 cm³ sphere: below the hottest voxel nearby, above nothing in particular.
      expect(l.suvPeak).toBeGreaterThan(0)
      expect(l.suvPeak).toBeLessThan(max * 1.5)
      tmtv += count * voxelMl
      tlg += sum * voxelMl
    }
    expect(Math.abs(result.patient.tmtvMl - tmtv)).toBeLessThan(1e-9)
    expect(Math.abs(result.patient.tlgMlSuv - tlg)).toBeLessThan(1e-6)
    expect(result.patient.lesionCount).toBe(11)
    expect(result.patient.dmaxMm).toBeGreaterThan(10)
  })

  it('SUVpeak equals a brute-force sliding mean with independently supersampled weights', () => {
    const g = pet.geometry
    const [nx, ny, nz] = g.dims
    const [s0, s1, s2] = g.spacingMm
    // Independent weights: 12 x 12 x 12 point samples per voxel of a generous window.
    const h = [3, 3, 5]
    const weights = new Map<string, number>()
    const N = 12
    for (let dk = -h[2]; dk <= h[2]; dk++) for (let dj = -h[1]; dj <= h[1]; dj++) for (let di = -h[0]; di <= h[0]; di++) {
      let inside = 0
      for (let c = 0; c < N; c++) for (let b = 0; b < N; b++) for (let a = 0; a < N; a++) {
        const x = (di - 0.5 + (a + 0.5) / N) * s0
        const y = (dj - 0.5 + (b + 0.5) / N) * s1
        const z = (dk - 0.5 + (c + 0.5) / N) * s2
        if (x * x + y * y + z * z <= R * R) inside++
      }
      if (inside) weights.set(`${di},${dj},${dk}`, inside / N ** 3)
    }
    const entries = [...weights].map(([key, w]) => [...key.split(',').map(Number), w])
    const result = measureLesions(lesionsFromSegments(labels, g.dims), g, suv)
    for (const v of [2, 10, 11]) {
      let best = -Infinity
      for (let p = 0; p < labels.length; p++) {
        if (labels[p] !== v) continue
        const i = p % nx
        const j = Math.floor(p / nx) % ny
        const k = Math.floor(p / (nx * ny))
        let s = 0
        let w = 0
        for (const [di, dj, dk, wt] of entries) {
          const [a, b, c] = [i + di, j + dj, k + dk]
          if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue
          s += wt * suv[a + nx * (b + ny * c)]
          w += wt
        }
        best = Math.max(best, s / w)
      }
      expect(Math.abs(result.lesions[v - 1].suvPeak / best - 1)).toBeLessThan(5e-3)
    }
  })
})

// ---- Incremental updates against full recomputation

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

/** Same partition: same background and a one-to-one map between the label values. */
function partitionMap(a: ArrayLike<number>, b: ArrayLike<number>): Map<number, number> | null {
  const ab = new Map<number, number>()
  const ba = new Map<number, number>()
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if ((x === 0) !== (y === 0)) return null
    if (x === 0) continue
    const mx = ab.get(x)
    if (mx === undefined) {
      if (ba.has(y)) return null
      ab.set(x, y)
      ba.set(y, x)
    } else if (mx !== y) {
      return null
    }
  }
  return ab
}

/** Paint (value 1) or erase (0) a ball of `radius` voxels; returns the box it may have changed. */
function brush(mask: Uint8Array, dims: Vec3, centre: Vec3, radius: number, value: 0 | 1): VoxelBox {
  const [nx, ny, nz] = dims
  const min: Vec3 = [0, 0, 0]
  const max: Vec3 = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    min[a] = Math.max(0, Math.floor(centre[a] - radius))
    max[a] = Math.min(dims[a] - 1, Math.ceil(centre[a] + radius))
  }
  for (let k = min[2]; k <= max[2]; k++) for (let j = min[1]; j <= max[1]; j++) for (let i = min[0]; i <= max[0]; i++) {
    if ((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2 <= radius * radius) mask[i + nx * (j + ny * k)] = value
  }
  void nz
  return { min, max }
}

function expectMatchesFull(tracker: IncrementalLesions, mask: Uint8Array, g: VolumeGeometry, pet: Float32Array, connectivity: 6 | 18 | 26): void {
  const full = labelComponents(mask, g.dims, connectivity)
  const map = partitionMap(tracker.labels, full.labels)
  expect(map).not.toBeNull()
  const fullMeasures = measureLesions(full, g, pet).lesions
  const lesions = tracker.lesions()
  expect(lesions).toHaveLength(full.count)
  for (const l of lesions) {
    const f = fullMeasures[(map as Map<number, number>).get(l.id)! - 1]
    expect({ ...l, id: 0 }).toEqual({ ...f, id: 0 })
  }
  const p = patientMeasures(fullMeasures)
  const q = tracker.patient()
  expect(q.lesionCount).toBe(p.lesionCount)
  expect(Math.abs(q.tmtvMl - p.tmtvMl)).toBeLessThan(1e-9)
  expect(Math.abs(q.tlgMlSuv - p.tlgMlSuv)).toBeLessThan(1e-9)
  expect(Math.abs(q.dmaxMm - p.dmaxMm)).toBeLessThan(1e-9)
}

describe('IncrementalLesions equals full recomputation', () => {
  for (const connectivity of [6, 18, 26] as const) {
    it(`${connectivity}-connected: 300 random paint and erase strokes, checked after each`, () => {
      const random = rng(connectivity)
      const g = grid([40, 36, 30], [2, 2, 3])
      const n = 40 * 36 * 30
      const mask = new Uint8Array(n)
      for (let t = 0; t < 25; t++) brush(mask, g.dims, [random() * 40, random() * 36, random() * 30], 1 + random() * 3, 1)
      const pet = Float32Array.from({ length: n }, () => random() * 5)
      const tracker = new IncrementalLesions(mask, g, { pet, connectivity })
      expectMatchesFull(tracker, mask, g, pet, connectivity)
      let merges = 0
      let splits = 0
      for (let t = 0; t < 300; t++) {
        const centre: Vec3 = [random() * 40, random() * 36, random() * 30]
        const box = brush(mask, g.dims, centre, random() * 4, random() < 0.55 ? 1 : 0)
        const u = tracker.update(box)
        if (u.changed.length && u.removed.length) merges++
        if (u.changed.length && u.added.length) splits++
        expectMatchesFull(tracker, mask, g, pet, connectivity)
      }
      // The strokes did exercise merging and splitting.
      expect(merges).toBeGreaterThan(5)
      expect(splits).toBeGreaterThan(5)
    })
  }

  it('ids: untouched lesions keep theirs; growing keeps it; a split keeps it on the larger piece; erasing removes it', () => {
    const g = grid([30, 10, 10], [2, 2, 2])
    const mask = new Uint8Array(3000)
    // A bar from i=2 to 20 (lesion 1), and a dot at i=27 (lesion 2).
    for (let i = 2; i <= 20; i++) mask[i + 30 * (5 + 10 * 5)] = 1
    mask[27 + 30 * (5 + 10 * 5)] = 1
    const tracker = new IncrementalLesions(mask, g, { pet: new Float32Array(3000).fill(1) })
    expect(tracker.lesions().map((l) => l.voxelCount)).toEqual([19, 1])
    // Grow the bar: same id, only it changes.
    let u = tracker.update(brush(mask, g.dims, [3, 5, 5], 1, 1))
    expect(u).toEqual({ added: [], changed: [1], removed: [] })
    expect(tracker.lesion(2)?.voxelCount).toBe(1)
    // Cut the bar at i=8: the longer right part keeps id 1, the left part is new.
    const cut: VoxelBox = { min: [8, 5, 5], max: [8, 5, 5] }
    mask[8 + 30 * (5 + 10 * 5)] = 0
    u = tracker.update(cut)
    expect(u.changed).toEqual([1])
    expect(u.added).toEqual([3])
    expect(tracker.lesion(1)!.boxMinVoxel[0]).toBe(9)
    // Bridge to the dot: the bigger lesion 1 keeps its id, 2 is merged away.
    for (let i = 21; i <= 26; i++) mask[i + 30 * (5 + 10 * 5)] = 1
    u = tracker.update({ min: [21, 5, 5], max: [26, 5, 5] })
    expect(u).toEqual({ added: [], changed: [1], removed: [2] })
    // Erase the left part completely (the ball, radius 4 voxels around i=5, also clips i=9 of lesion 1).
    u = tracker.update(brush(mask, g.dims, [5, 5, 5], 4, 0))
    expect(u.removed).toEqual([3])
    expect(u.changed).toEqual([1])
    expect(tracker.lesions().map((l) => l.id)).toEqual([1])
    expect(tracker.lesion(1)!.boxMinVoxel[0]).toBe(10)
    // A stroke far from every lesion adds one and touches nothing else.
    u = tracker.update(brush(mask, g.dims, [3, 2, 2], 1, 1))
    expect(u).toEqual({ added: [4], changed: [], removed: [] })
  })

  it('the real FDG prediction: brush strokes across the whole-body grid', async () => {
    const image = await readImageFile(dataPath('autopet3-fdg-labels', 'fdg_test_case_resunet-ensemble-pred.nii.gz'))
    const g = image.geometry
    const mask = Uint8Array.from(image.voxels as Uint8Array)
    const n = mask.length
    const random = rng(5)
    const pet = new Float32Array(n)
    for (let p = 0; p < n; p += 1) pet[p] = (p % 97) * 0.05 + (mask[p] ? 4 : 0)
    const tracker = new IncrementalLesions(mask, g, { pet })
    const lesions = tracker.lesions()
    for (let t = 0; t < 12; t++) {
      // Strokes on existing lesions (their centroid voxel) and in empty space.
      const target = lesions[Math.floor(random() * lesions.length)]
      const centre: Vec3 = t % 3 === 2 ? [random() * g.dims[0], random() * g.dims[1], random() * g.dims[2]] : target.boxMinVoxel
      tracker.update(brush(mask, g.dims, centre, 5, t % 4 === 3 ? 0 : 1))
    }
    expectMatchesFull(tracker, mask, g, pet, 18)
  })
})
