import { describe, expect, it } from 'vitest'
import type { Vec3 } from '../../src/shared/geometry'
import type { VoxelArray } from '../../src/shared/volume'
import { readImageFile } from '../../src/main/io/readImage'
import { labelComponents, lesionsFromSegments, regionVoxelIndices, type Connectivity } from '../../src/main/metrics/connectedComponents'
import { autopetCaseMetrics } from '../../src/main/metrics/autopetMetrics'
import { cohortSummary, metricStats, rankPredictions, ranks, type CaseScores } from '../../src/main/metrics/cohortSummary'
import { dataPath } from './helpers/data'

// ---- Independent references: a plain BFS flood fill and the autoPET III script written out voxel by voxel.

/** Components by breadth-first flood fill: labels 1..count in raster order of the seed. */
function floodFillComponents(mask: ArrayLike<number>, dims: Vec3, connectivity: 6 | 18 | 26): { labels: Int32Array; count: number; sizes: number[] } {
  const [nx, ny, nz] = dims
  const labels = new Int32Array(nx * ny * nz)
  const steps: Vec3[] = []
  for (let dk = -1; dk <= 1; dk++) for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) {
    const d = Math.abs(di) + Math.abs(dj) + Math.abs(dk)
    if (d === 0 || (connectivity === 6 && d > 1) || (connectivity === 18 && d > 2)) continue
    steps.push([di, dj, dk])
  }
  const sizes = [0]
  let count = 0
  const queue: number[] = []
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const seed = i + nx * (j + ny * k)
    if (mask[seed] === 0 || labels[seed] !== 0) continue
    count++
    let size = 0
    labels[seed] = count
    queue.length = 0
    queue.push(i, j, k)
    for (let h = 0; h < queue.length; h += 3) {
      const [a, b, c] = [queue[h], queue[h + 1], queue[h + 2]]
      size++
      for (const [di, dj, dk] of steps) {
        const x = a + di
        const y = b + dj
        const z = c + dk
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue
        const q = x + nx * (y + ny * z)
        if (mask[q] === 0 || labels[q] !== 0) continue
        labels[q] = count
        queue.push(x, y, z)
      }
    }
    sizes.push(size)
  }
  return { labels, count, sizes }
}

/** The autoPET III evaluation script, voxel by voxel, on flood-fill components. */
function referenceAutopet(pred: ArrayLike<number>, gt: ArrayLike<number>, dims: Vec3, spacingMm: Vec3) {
  const voxelMl = (spacingMm[0] * spacingMm[1] * spacingMm[2]) / 1000
  let p = 0
  let g = 0
  let both = 0
  for (let i = 0; i < gt.length; i++) {
    if (pred[i] !== 0) p++
    if (gt[i] !== 0) g++
    if (pred[i] !== 0 && gt[i] !== 0) both++
  }
  const untouched = (mask: ArrayLike<number>, other: ArrayLike<number>): { voxels: number; components: number; count: number } => {
    const cc = floodFillComponents(mask, dims, 18)
    const touches = new Uint8Array(cc.count + 1)
    for (let i = 0; i < mask.length; i++) if (cc.labels[i] && other[i] !== 0) touches[cc.labels[i]] = 1
    let voxels = 0
    let components = 0
    for (let l = 1; l <= cc.count; l++) if (!touches[l]) {
      voxels += cc.sizes[l]
      components++
    }
    return { voxels, components, count: cc.count }
  }
  const fp = untouched(pred, gt)
  const fn = untouched(gt, pred)
  return {
    dsc: g === 0 ? NaN : (2 * both) / (p + g),
    fpvMl: p === 0 ? 0 : fp.voxels * voxelMl,
    fnvMl: g === 0 ? NaN : fn.voxels * voxelMl,
    fpVoxels: fp.voxels,
    fnVoxels: fn.voxels,
    fpLesions: fp.components,
    fnLesions: fn.components,
    predLesions: fp.count,
    refLesions: fn.count,
    predVoxels: p,
    refVoxels: g,
    intersection: both,
  }
}

/** True when two label arrays describe the same partition (same background, a bijection of labels). */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false
  const ab = new Map<number, number>()
  const ba = new Map<number, number>()
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if ((x === 0) !== (y === 0)) return false
    if (x === 0) continue
    const mx = ab.get(x)
    const my = ba.get(y)
    if (mx === undefined && my === undefined) {
      ab.set(x, y)
      ba.set(y, x)
    } else if (mx !== y || my !== x) {
      return false
    }
  }
  return true
}

// ---- Helpers

const bytes = (a: Int32Array): Buffer => Buffer.from(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength)

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

const PSMA = 'autopet3-psma-labels'
const FDG = 'autopet3-fdg-labels'
const PSMA_GT = dataPath(PSMA, 'psma_95b833d46f153cd2_2018-04-16_GT-label.nii.gz')
const PSMA_NNUNET = dataPath(PSMA, 'psma_95b833d46f153cd2_2018-04-16_nnUNet-baseline-pred.nii.gz')
const PSMA_DATACENTRIC = dataPath(PSMA, 'datacentric-baseline-PRED.nii.gz')
const FDG_RESUNET = dataPath(FDG, 'fdg_test_case_resunet-ensemble-pred.nii.gz')
const FDG_EMPTY = dataPath(FDG, 'fdg_test_case_nnunet-baseline-pred-empty.nii.gz')

/** Components, sizes and boxes of labelComponents equal the flood fill's exactly (same numbering). */
function expectSameAsFloodFill(mask: VoxelArray, dims: Vec3, connectivity: Connectivity): number {
  const ours = labelComponents(mask, dims, connectivity)
  const ref = floodFillComponents(mask, dims, connectivity)
  expect(ours.count).toBe(ref.count)
  expect(bytes(ours.labels).equals(bytes(ref.labels))).toBe(true)
  expect(Array.from(ours.voxelCounts)).toEqual(ref.sizes)
  const [nx, ny] = dims
  const boxes = new Map<number, number[]>()
  for (let p = 0; p < ref.labels.length; p++) {
    const l = ref.labels[p]
    if (!l) continue
    const i = p % nx
    const j = Math.floor(p / nx) % ny
    const k = Math.floor(p / (nx * ny))
    const b = boxes.get(l) ?? [i, j, k, i, j, k]
    boxes.set(l, [Math.min(b[0], i), Math.min(b[1], j), Math.min(b[2], k), Math.max(b[3], i), Math.max(b[4], j), Math.max(b[5], k)])
  }
  for (let l = 1; l <= ours.count; l++) expect(Array.from(ours.boxes.subarray(6 * l, 6 * l + 6))).toEqual(boxes.get(l))
  return ours.count
}

// ---- Tests

describe('labelComponents equals a BFS flood fill on the real autoPET masks', () => {
  const cases: [string, string][] = [
    ['PSMA ground truth', PSMA_GT],
    ['PSMA nnU-Net baseline', PSMA_NNUNET],
    ['PSMA data-centric baseline', PSMA_DATACENTRIC],
    ['FDG ResUNet ensemble (1,982 voxels)', FDG_RESUNET],
  ]
  for (const [name, file] of cases) {
    it(`${name}: 6-, 18- and 26-connected`, async () => {
      const image = await readImageFile(file)
      const counts = ([6, 18, 26] as const).map((c) => expectSameAsFloodFill(image.voxels, image.geometry.dims, c))
      // Wider neighbourhoods can only merge components.
      expect(counts[0]).toBeGreaterThanOrEqual(counts[1])
      expect(counts[1]).toBeGreaterThanOrEqual(counts[2])
      expect(counts[2]).toBeGreaterThan(0)
    })
  }

  it('the FDG prediction has many small components and the empty prediction none', async () => {
    const pred = await readImageFile(FDG_RESUNET)
    const cc = labelComponents(pred.voxels, pred.geometry.dims, 18)
    let voxels = 0
    for (let l = 1; l <= cc.count; l++) voxels += cc.voxelCounts[l]
    expect(voxels).toBe(1982)
    expect(cc.count).toBeGreaterThan(20)
    const empty = await readImageFile(FDG_EMPTY)
    expect(labelComponents(empty.voxels, empty.geometry.dims, 18).count).toBe(0)
  })
})

describe('labelComponents on synthetic masks', () => {
  it('random masks of every density, type and alignment match the flood fill', () => {
    const random = rng(7)
    for (let trial = 0; trial < 40; trial++) {
      const dims: Vec3 = [3 + Math.floor(random() * 25), 1 + Math.floor(random() * 20), 1 + Math.floor(random() * 15)]
      const n = dims[0] * dims[1] * dims[2]
      const density = [0.05, 0.2, 0.4, 0.6, 0.95][trial % 5]
      // Byte masks at an odd offset (no four-byte fast path) and aligned; other voxel types too.
      const raw = new Uint8Array(n + 1)
      const mask = trial % 3 === 0 ? raw.subarray(1) : new Uint8Array(n)
      for (let p = 0; p < n; p++) mask[p] = random() < density ? 1 + (trial % 2) : 0
      const typed: VoxelArray[] = [mask, Int16Array.from(mask), Float32Array.from(mask, (v) => v * 0.5)]
      for (const m of typed) for (const c of [6, 18, 26] as const) expectSameAsFloodFill(m, dims, c)
    }
  })

  it('diagonal neighbours separate the connectivities', () => {
    const dims: Vec3 = [3, 3, 3]
    const mask = new Uint8Array(27)
    mask[0] = 1 // (0,0,0)
    mask[1 + 3 * 1] = 1 // (1,1,0): an edge neighbour of (0,0,0)
    mask[2 + 3 * (2 + 3 * 1)] = 1 // (2,2,1): a corner neighbour of (1,1,0)
    expect(labelComponents(mask, dims, 6).count).toBe(3)
    expect(labelComponents(mask, dims, 18).count).toBe(2)
    expect(labelComponents(mask, dims, 26).count).toBe(1)
  })

  it('empty and full grids, and components touching every face', () => {
    expect(labelComponents(new Uint8Array(60), [5, 4, 3], 18).count).toBe(0)
    const full = labelComponents(new Uint8Array(60).fill(1), [5, 4, 3], 6)
    expect(full.count).toBe(1)
    expect(full.voxelCounts[1]).toBe(60)
    expect(Array.from(full.boxes.subarray(6, 12))).toEqual([0, 0, 0, 4, 3, 2])
    expect(() => labelComponents(new Uint8Array(5), [2, 2, 2])).toThrow(RangeError)
  })

  it('byValue: voxels join only with the same value', () => {
    const random = rng(11)
    const dims: Vec3 = [17, 13, 11]
    const n = dims[0] * dims[1] * dims[2]
    const mask = new Uint8Array(n)
    for (let p = 0; p < n; p++) mask[p] = random() < 0.5 ? 0 : 1 + Math.floor(random() * 3)
    for (const c of [6, 18, 26] as const) {
      const ours = labelComponents(mask, dims, c, { byValue: true })
      // Reference: flood fill each value on its own, numbers offset per value.
      const combined = new Int32Array(n)
      let offset = 0
      for (const v of [1, 2, 3]) {
        const ref = floodFillComponents(Uint8Array.from(mask, (x) => (x === v ? 1 : 0)), dims, c)
        for (let p = 0; p < n; p++) if (ref.labels[p]) combined[p] = ref.labels[p] + offset
        offset += ref.count
      }
      expect(ours.count).toBe(offset)
      expect(samePartition(ours.labels, combined)).toBe(true)
      for (let p = 0; p < n; p++) if (ours.labels[p]) expect(mask[p]).not.toBe(0)
    }
  })

  it('lesionsFromSegments: one region per value, connected or not, numbered by value', () => {
    const dims: Vec3 = [6, 5, 4]
    const seg = new Int16Array(120)
    seg[0] = 7
    seg[119] = 7 // far apart: still one lesion
    seg[10] = 3
    seg[50] = 300
    seg[51] = 300
    const r = lesionsFromSegments(seg, dims)
    expect(r.count).toBe(3)
    expect(Array.from(r.segmentValues)).toEqual([0, 3, 7, 300])
    expect([r.labels[10], r.labels[0], r.labels[119], r.labels[50]]).toEqual([1, 2, 2, 3])
    expect(Array.from(r.voxelCounts)).toEqual([0, 1, 2, 2])
    expect(Array.from(r.boxes.subarray(12, 18))).toEqual([0, 0, 0, 5, 4, 3])
  })

  it('regionVoxelIndices lists each region in raster order, by boxes or by one pass', () => {
    const dims: Vec3 = [20, 20, 20]
    const n = 8000
    for (const layout of ['compact', 'diagonal'] as const) {
      const mask = new Uint8Array(n)
      if (layout === 'compact') {
        for (let p = 0; p < 200; p++) mask[p] = 1
        mask[n - 1] = 1
      } else {
        // Two long diagonals: boxes covering the whole grid, so the single pass is taken.
        for (let t = 0; t < 20; t++) {
          mask[t + 20 * (t + 20 * t)] = 1
          mask[19 - t + 20 * (t + 20 * t)] = 1
        }
      }
      const cc = labelComponents(mask, dims, 26)
      const { offsets, indices } = regionVoxelIndices(cc, dims)
      expect(offsets[cc.count + 1]).toBe(mask.reduce((a, v) => a + v, 0))
      for (let l = 1; l <= cc.count; l++) {
        const list = Array.from(indices.subarray(offsets[l], offsets[l + 1]))
        const expected: number[] = []
        for (let p = 0; p < n; p++) if (cc.labels[p] === l) expected.push(p)
        expect(list).toEqual(expected)
      }
    }
  })
})

describe('autoPET III metrics equal the script written out voxel by voxel', () => {
  const compare = (m: ReturnType<typeof autopetCaseMetrics>, r: ReturnType<typeof referenceAutopet>): void => {
    if (Number.isNaN(r.dsc)) expect(m.dsc).toBeNaN()
    else expect(m.dsc).toBeCloseTo(r.dsc, 12)
    expect(Math.abs(m.fpvMl - r.fpvMl)).toBeLessThan(1e-9)
    if (Number.isNaN(r.fnvMl)) expect(m.fnvMl).toBeNaN()
    else expect(Math.abs(m.fnvMl - r.fnvMl)).toBeLessThan(1e-9)
    expect([m.predVoxels, m.refVoxels, m.intersectionVoxels]).toEqual([r.predVoxels, r.refVoxels, r.intersection])
    expect([m.predLesionCount, m.refLesionCount, m.fpLesions, m.fnLesions]).toEqual([r.predLesions, r.refLesions, r.fpLesions, r.fnLesions])
    expect(m.tpLesions + m.fnLesions).toBe(m.refLesionCount)
    expect(m.refLesions.filter((l) => l.detected).length).toBe(m.tpLesions)
    expect(m.predLesions.reduce((a, l) => a + l.overlapVoxels, 0)).toBe(r.intersection)
    expect(m.refLesions.reduce((a, l) => a + l.overlapVoxels, 0)).toBe(r.intersection)
  }

  for (const [name, file] of [['nnU-Net baseline', PSMA_NNUNET], ['data-centric baseline', PSMA_DATACENTRIC]]) {
    it(`PSMA ground truth vs the ${name}`, async () => {
      const gt = await readImageFile(PSMA_GT)
      const pred = await readImageFile(file)
      const g = gt.geometry
      const m = autopetCaseMetrics(pred.voxels, gt.voxels, g.dims, g.spacingMm)
      const r = referenceAutopet(pred.voxels, gt.voxels, g.dims, g.spacingMm)
      compare(m, r)
      expect(m.dsc).toBeGreaterThan(0.3)
      expect(m.fpvMl).toBeGreaterThan(0)
      expect(m.fnvMl).toBeGreaterThan(0)
      expect(m.voxelMl).toBeCloseTo((4.0728302001953125 ** 2 * 2) / 1000, 12)
    })
  }

  it('FDG: the ResUNet prediction against the empty prediction, both ways (the NaN rules)', async () => {
    const resunet = await readImageFile(FDG_RESUNET)
    const empty = await readImageFile(FDG_EMPTY)
    const g = resunet.geometry
    const voxelMl = voxelMlOf(g.spacingMm)
    // Empty reference: DSC and FNV undefined, every predicted voxel a false positive.
    const emptyRef = autopetCaseMetrics(resunet.voxels, empty.voxels, g.dims, g.spacingMm)
    compare(emptyRef, referenceAutopet(resunet.voxels, empty.voxels, g.dims, g.spacingMm))
    expect(emptyRef.dsc).toBeNaN()
    expect(emptyRef.fnvMl).toBeNaN()
    expect(Math.abs(emptyRef.fpvMl - 1982 * voxelMl)).toBeLessThan(1e-9)
    expect(emptyRef.fpLesions).toBe(emptyRef.predLesionCount)
    // Empty prediction: DSC 0, FPV 0, every reference voxel missed.
    const emptyPred = autopetCaseMetrics(empty.voxels, resunet.voxels, g.dims, g.spacingMm)
    compare(emptyPred, referenceAutopet(empty.voxels, resunet.voxels, g.dims, g.spacingMm))
    expect(emptyPred.dsc).toBe(0)
    expect(emptyPred.fpvMl).toBe(0)
    expect(Math.abs(emptyPred.fnvMl - 1982 * voxelMl)).toBeLessThan(1e-9)
    expect(emptyPred.fnLesions).toBe(emptyPred.refLesionCount)
    // Both empty.
    const none = autopetCaseMetrics(empty.voxels, empty.voxels, g.dims, g.spacingMm)
    expect([none.dsc, none.fpvMl, none.fnvMl]).toEqual([NaN, 0, NaN])
    // Identical masks.
    const same = autopetCaseMetrics(resunet.voxels, resunet.voxels, g.dims, g.spacingMm)
    expect([same.dsc, same.fpvMl, same.fnvMl, same.fpLesions, same.fnLesions]).toEqual([1, 0, 0, 0, 0])
  })

  it('random masks with touching and untouched components match the script', () => {
    const random = rng(3)
    for (let trial = 0; trial < 20; trial++) {
      const dims: Vec3 = [15, 12, 9]
      const n = dims[0] * dims[1] * dims[2]
      const p = Uint8Array.from({ length: n }, () => (random() < 0.15 ? 1 : 0))
      const g = Uint8Array.from({ length: n }, () => (random() < 0.15 ? 1 : 0))
      const spacing: Vec3 = [0.7 + random(), 1.1, 2.5 + random()]
      compare(autopetCaseMetrics(p, g, dims, spacing), referenceAutopet(p, g, dims, spacing))
    }
  })
})

const voxelMlOf = (s: Vec3): number => (s[0] * s[1] * s[2]) / 1000

describe('cohort summaries and the challenge ranking', () => {
  const scores = (c: string, tracer: string, dsc: number, fpvMl: number, fnvMl: number): CaseScores => ({ case: c, tracer, dsc, fpvMl, fnvMl, tpLesions: 1, fpLesions: 0, fnLesions: 1 })

  it('metricStats leaves NaN out; population std; median of even counts', () => {
    const s = metricStats([4, NaN, 1, 3, 2])
    expect(s).toEqual({ n: 4, mean: 2.5, median: 2.5, std: Math.sqrt(1.25), min: 1, max: 4 })
    expect(metricStats([NaN]).n).toBe(0)
    expect(metricStats([NaN]).mean).toBeNaN()
    expect(metricStats([5, 1, 3]).median).toBe(3)
  })

  it('DSC and FNV average over cases with lesions, FPV over all cases, per tracer and overall', () => {
    const cases = [scores('fdg_a', 'FDG', 0.8, 1, 2), scores('fdg_b', 'FDG', NaN, 4, NaN), scores('psma_c', 'PSMA', 0.5, 0, 6)]
    const s = cohortSummary(cases)
    expect(s.overall.cases).toBe(3)
    expect(s.overall.dsc.n).toBe(2)
    expect(s.overall.dsc.mean).toBeCloseTo(0.65, 12)
    expect(s.overall.fpvMl.n).toBe(3)
    expect(s.overall.fpvMl.mean).toBeCloseTo(5 / 3, 12)
    expect(s.overall.fnvMl.mean).toBe(4)
    expect(Object.keys(s.byTracer)).toEqual(['FDG', 'PSMA'])
    expect(s.byTracer.FDG.dsc.mean).toBe(0.8)
    expect(s.byTracer.FDG.fpvMl.mean).toBe(2.5)
    expect(s.overall.lesionSensitivity).toBe(0.5)
  })

  it('ranks: ties share the mean rank, undefined values rank last', () => {
    expect(ranks([0.5, 0.7, 0.5, NaN], 'higher')).toEqual([2.5, 1, 2.5, 4])
    expect(ranks([3, 1, 2], 'lower')).toEqual([3, 1, 2])
    expect(ranks([NaN, NaN], 'lower')).toBeNull()
  })

  it('score = 0.5 DSC rank + 0.25 FPV rank + 0.25 FNV rank, ranks per subset averaged', () => {
    // Subset FDG: A best DSC, B best FPV and FNV. Subset PSMA: B best everywhere. C worst, no PSMA DSC defined.
    const sets = [
      { prediction: 'A', cases: [scores('fdg_1', 'FDG', 0.9, 5, 5), scores('psma_1', 'PSMA', 0.6, 3, 3)] },
      { prediction: 'B', cases: [scores('fdg_1', 'FDG', 0.8, 1, 1), scores('psma_1', 'PSMA', 0.7, 1, 1)] },
      { prediction: 'C', cases: [scores('fdg_1', 'FDG', 0.1, 9, 9), scores('psma_1', 'PSMA', NaN, 9, NaN)] },
    ]
    const r = rankPredictions(sets)
    const byName = Object.fromEntries(r.map((e) => [e.prediction, e]))
    // DSC ranks: FDG A1 B2 C3; PSMA B1 A2 C3 → A 1.5, B 1.5, C 3. FPV/FNV: FDG B1 A2 C3; PSMA B1 A2 C3.
    expect([byName.A.dscRank, byName.B.dscRank, byName.C.dscRank]).toEqual([1.5, 1.5, 3])
    expect([byName.A.fpvRank, byName.B.fpvRank, byName.C.fpvRank]).toEqual([2, 1, 3])
    expect(byName.A.score).toBeCloseTo(0.5 * 1.5 + 0.25 * 2 + 0.25 * 2, 12)
    expect(byName.B.score).toBeCloseTo(0.5 * 1.5 + 0.25 + 0.25, 12)
    expect(r.map((e) => [e.prediction, e.place])).toEqual([['B', 1], ['A', 2], ['C', 3]])
  })
})
