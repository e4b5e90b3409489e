import { describe, expect, it } from 'vitest'
import { worldToIndex, type Vec3 } from '../../src/shared/geometry'
import { makePhantomStudy, type PhantomStudy } from '../../src/main/demo/phantom'
import { neighbourOffsets } from '../../src/main/metrics/connectedComponents'
import {
  applyEdit, brushCircle, brushSphere, circleThroughSlices, componentAt, deleteLesionAt, diffOf, growLesion,
  mergeLesions, mergeLesionsAt, rectangleThroughSlices, splitLesion, thresholdGate, unionVoxels, voxelIndex,
  type GrowRule,
} from '../../src/main/editing/operations'

let cached: PhantomStudy | undefined
/** Demo scale (4 mm PET, 128 x 128 x 220): at 'small' (8 mm) most lesions are a voxel or two. */
const demo = (): PhantomStudy => (cached ??= makePhantomStudy({ tracer: 'FDG', scale: 'demo' }))

function isSortedUnique(a: Int32Array): boolean {
  for (let m = 1; m < a.length; m++) if (a[m] <= a[m - 1]) return false
  return true
}

function coord(dims: Vec3, p: number): Vec3 {
  const i = p % dims[0]
  const q = (p - i) / dims[0]
  const j = q % dims[1]
  return [i, j, (q - j) / dims[1]]
}

function dice(voxels: Int32Array, mask: Uint8Array, truth: number): number {
  let inter = 0
  for (const p of voxels) if (mask[p]) inter++
  return (2 * inter) / (voxels.length + truth)
}

const P41: GrowRule = { kind: 'percentOfMax', percent: 41 }
const P50: GrowRule = { kind: 'percentOfMax', percent: 50 }

describe('growLesion on the FDG demo phantom', () => {
  it('41 % and 50 % of the local max recover every lesion, inside the default box, thresholds as reported', () => {
    const s = demo()
    const { dims, spacingMm } = s.pet.geometry
    const pet = s.pet.voxels as Float32Array
    const mask = s.mask.voxels as Uint8Array
    const lines: string[] = []
    for (const l of s.lesions) {
      const seed = worldToIndex(s.pet.geometry, l.centreLps).map(Math.round) as Vec3
      for (const rule of [P41, P50]) {
        const r = growLesion(pet, dims, seed, rule, {}, 18, spacingMm)
        const d = dice(r.voxels, mask, l.voxelCount)
        lines.push(`lesion ${l.id} ${l.site} r~${((l.radiiMm[0] + l.radiiMm[1] + l.radiiMm[2]) / 3).toFixed(1)} mm ${rule.kind === 'percentOfMax' ? rule.percent : ''}%: ${r.voxels.length} vs ${l.voxelCount} voxels, Dice ${d.toFixed(2)}`)
        expect(isSortedUnique(r.voxels)).toBe(true)
        expect(r.truncated).toBe(false)
        expect(r.localMaxSuv).toBe(pet[voxelIndex(dims, r.localMaxVoxel)])
        expect(r.thresholdSuv).toBeCloseTo(((rule as { percent: number }).percent / 100) * r.localMaxSuv, 5)
        let regionMax = -Infinity
        for (const p of r.voxels) {
          expect(pet[p]).toBeGreaterThanOrEqual(r.thresholdSuv)
          regionMax = Math.max(regionMax, pet[p])
          // Default box: +- 50 mm = 13 voxels around the click.
          coord(dims, p).forEach((v, a) => expect(Math.abs(v - seed[a])).toBeLessThanOrEqual(13))
        }
        expect(regionMax).toBe(r.localMaxSuv)
        // The blurred PET (7 mm FWHM on 4 mm voxels) still gives Dice 0.64..0.98 on this phantom;
        // 50 % is the tighter and better match for the small nodes (>= 0.84).
        const meanRadius = (l.radiiMm[0] + l.radiiMm[1] + l.radiiMm[2]) / 3
        if (meanRadius >= 8) expect(d).toBeGreaterThanOrEqual(0.6)
        expect(d).toBeGreaterThanOrEqual(rule === P50 ? 0.8 : 0.6)
      }
    }
    console.log(lines.join('\n'))
  })

  it('absolute 2.5 leaks into the liver only up to the box (truncated); 4.0 stays on the lesion; a cool node gives nothing at 4.0', () => {
    const s = demo()
    const { dims, spacingMm } = s.pet.geometry
    const pet = s.pet.voxels as Float32Array
    const mask = s.mask.voxels as Uint8Array
    const liver = s.lesions.filter((l) => l.site === 'liver').sort((a, b) => b.voxelCount - a.voxelCount)[0]
    const seed = worldToIndex(s.pet.geometry, liver.centreLps).map(Math.round) as Vec3
    const at25 = growLesion(pet, dims, seed, { kind: 'absolute', suv: 2.5 }, {}, 18, spacingMm)
    expect(at25.thresholdSuv).toBe(2.5)
    expect(at25.truncated).toBe(true)
    for (const p of at25.voxels) coord(dims, p).forEach((v, a) => expect(Math.abs(v - seed[a])).toBeLessThanOrEqual(13))
    const at4 = growLesion(pet, dims, seed, { kind: 'absolute', suv: 4 }, {}, 18, spacingMm)
    expect(at4.truncated).toBe(false)
    expect(dice(at4.voxels, mask, liver.voxelCount)).toBeGreaterThan(0.6)
    for (const p of at4.voxels) expect(pet[p]).toBeGreaterThanOrEqual(4)
    // Every lesion whose local max is below 4 gives an empty region at 4.0.
    for (const l of s.lesions) {
      const c = worldToIndex(s.pet.geometry, l.centreLps).map(Math.round) as Vec3
      const r = growLesion(pet, dims, c, { kind: 'absolute', suv: 4 }, {}, 18, spacingMm)
      if (r.localMaxSuv < 4) expect(r.voxels.length).toBe(0)
      else expect(r.voxels.length).toBeGreaterThan(0)
    }
  })

  it('an explicit box and a voxel cap truncate', () => {
    const s = demo()
    const { dims, spacingMm } = s.pet.geometry
    const pet = s.pet.voxels as Float32Array
    const liver = s.lesions.filter((l) => l.site === 'liver').sort((a, b) => b.voxelCount - a.voxelCount)[0]
    const seed = worldToIndex(s.pet.geometry, liver.centreLps).map(Math.round) as Vec3
    const box = { min: [seed[0] - 2, seed[1] - 2, seed[2] - 2] as Vec3, max: [seed[0] + 2, seed[1] + 2, seed[2] + 2] as Vec3 }
    const boxed = growLesion(pet, dims, seed, P41, { box }, 18, spacingMm)
    expect(boxed.truncated).toBe(true)
    expect(boxed.voxels.length).toBeLessThanOrEqual(125)
    for (const p of boxed.voxels) coord(dims, p).forEach((v, a) => expect(Math.abs(v - seed[a])).toBeLessThanOrEqual(2))
    const capped = growLesion(pet, dims, seed, P41, { maxVoxels: 10 }, 18, spacingMm)
    expect(capped.truncated).toBe(true)
    expect(capped.voxels.length).toBe(10)
    expect(isSortedUnique(capped.voxels)).toBe(true)
    // A cap at the exact region size is not a truncation.
    const full = growLesion(pet, dims, seed, P41, {}, 18, spacingMm)
    const exact = growLesion(pet, dims, seed, P41, { maxVoxels: full.voxels.length }, 18, spacingMm)
    expect(exact.truncated).toBe(false)
    expect(exact.voxels.length).toBe(full.voxels.length)
  })
})

describe('growLesion on hand-built volumes', () => {
  // 20^3 background 1.0; cube [5, 10]^3 at 2.0 (216 voxels); core [7, 8]^3 at 10 (8 voxels).
  const dims: Vec3 = [20, 20, 20]
  const pet = new Float32Array(8000).fill(1)
  const inCube = (i: number, j: number, k: number, a: number, b: number): boolean => i >= a && i <= b && j >= a && j <= b && k >= a && k <= b
  for (let k = 0; k < 20; k++) for (let j = 0; j < 20; j++) for (let i = 0; i < 20; i++) {
    if (inCube(i, j, k, 5, 10)) pet[voxelIndex(dims, [i, j, k])] = inCube(i, j, k, 7, 8) ? 10 : 2
  }
  const expected = (a: number, b: number): number[] => {
    const out: number[] = []
    for (let k = a; k <= b; k++) for (let j = a; j <= b; j++) for (let i = a; i <= b; i++) out.push(voxelIndex(dims, [i, j, k]))
    return out
  }
  const spacing: Vec3 = [4, 4, 4]

  it('a percentage of the max gives exactly the hot core, even when clicked on the rim', () => {
    for (const rule of [P41, P50]) {
      for (const seed of [[7, 7, 7], [5, 5, 10], [10, 6, 5]] as Vec3[]) {
        const r = growLesion(pet, dims, seed, rule, {}, 6, spacing)
        expect(Array.from(r.voxels)).toEqual(expected(7, 8))
        expect(r.localMaxSuv).toBe(10)
        expect(r.thresholdSuv).toBeCloseTo((rule as { percent: number }).percent / 10, 6)
        expect(r.truncated).toBe(false)
      }
    }
  })

  it('absolute thresholds: the whole cube at 1.5, the whole grid at 0.5, nothing on background at 2.5', () => {
    const cube = growLesion(pet, dims, [6, 6, 6], { kind: 'absolute', suv: 1.5 }, {}, 26, spacing)
    expect(Array.from(cube.voxels)).toEqual(expected(5, 10))
    const all = growLesion(pet, dims, [6, 6, 6], { kind: 'absolute', suv: 0.5 }, {}, 6, spacing)
    expect(all.voxels.length).toBe(8000)
    expect(all.truncated).toBe(false)
    // Far from the cube: the local max search (10 mm = 3 voxels) finds only background.
    const bg = growLesion(pet, dims, [17, 17, 17], { kind: 'absolute', suv: 2.5 }, {}, 18, spacing)
    expect(bg.voxels.length).toBe(0)
    expect(bg.localMaxSuv).toBe(1)
    expect(bg.truncated).toBe(false)
  })
})

/** Independent reference: Set-based BFS over nonzero voxels. */
function referenceComponent(mask: Uint8Array, dims: Vec3, start: Vec3, conn: 6 | 18 | 26): number[] {
  const s = voxelIndex(dims, start)
  if (!mask[s]) return []
  const seen = new Set([s])
  const todo = [start]
  while (todo.length) {
    const [i, j, k] = todo.pop() as Vec3
    for (const [a, b, c] of neighbourOffsets(conn)) {
      const v: Vec3 = [i + a, j + b, k + c]
      if (v.some((x, ax) => x < 0 || x >= dims[ax])) continue
      const p = voxelIndex(dims, v)
      if (mask[p] && !seen.has(p)) {
        seen.add(p)
        todo.push(v)
      }
    }
  }
  return [...seen].sort((x, y) => x - y)
}

describe('lesion components', () => {
  it('componentAt equals an independent BFS on random blobs, every connectivity', () => {
    const dims: Vec3 = [23, 17, 13]
    const mask = new Uint8Array(23 * 17 * 13)
    let seed = 12345
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32)
    for (let p = 0; p < mask.length; p++) mask[p] = rand() < 0.3 ? 1 : 0
    for (const conn of [6, 18, 26] as const) {
      for (let t = 0; t < 20; t++) {
        const v: Vec3 = [Math.floor(rand() * 23), Math.floor(rand() * 17), Math.floor(rand() * 13)]
        const got = componentAt(mask, dims, v, conn)
        const want = referenceComponent(mask, dims, v, conn)
        expect(got.length).toBe(want.length)
        expect(got.every((p, m) => p === want[m])).toBe(true)
      }
    }
  })

  it('click-to-delete on the phantom removes exactly that lesion', () => {
    const s = demo()
    const { dims } = s.mask.geometry
    const mask = Uint8Array.from(s.mask.voxels as Uint8Array)
    const l = s.lesions[0]
    const v = worldToIndex(s.mask.geometry, l.centreLps).map(Math.round) as Vec3
    const edit = deleteLesionAt(mask, dims, v, 18)
    expect(edit.value).toBe(0)
    expect(edit.voxels.length).toBe(l.voxelCount)
    const diff = diffOf(mask, edit)
    expect(diff.voxels.length).toBe(l.voxelCount)
    expect(diff.before.every((b) => b === 1)).toBe(true)
    let before = 0
    for (const x of mask) before += x
    applyEdit(mask, edit)
    let after = 0
    for (const x of mask) after += x
    expect(before - after).toBe(l.voxelCount)
    expect(componentAt(mask, dims, v).length).toBe(0)
  })

  it('merge relabels on a multi-label mask and is a no-op on a binary one', () => {
    const dims: Vec3 = [10, 1, 1]
    const multi = Uint8Array.from([1, 1, 0, 2, 2, 0, 3, 0, 2, 0])
    const edit = mergeLesions(multi, [2, 3], 1)
    expect(Array.from(edit.voxels)).toEqual([3, 4, 6, 8])
    expect(edit.value).toBe(1)
    expect(Array.from(mergeLesionsAt(multi, dims, [0, 0, 0], [6, 0, 0]).voxels)).toEqual([6])
    const binary = Uint8Array.from([1, 1, 0, 1, 1, 0, 1, 0, 1, 0])
    expect(mergeLesionsAt(binary, dims, [0, 0, 0], [6, 0, 0]).voxels.length).toBe(0)
    // Components by value on a multi-label mask: 1 and 2 touch but are different lesions.
    expect(Array.from(componentAt(Uint8Array.from([1, 1, 2, 2]), [4, 1, 1], [0, 0, 0]))).toEqual([0, 1])
    expect(Array.from(componentAt(Uint8Array.from([1, 1, 2, 2]), [4, 1, 1], [0, 0, 0], 6, { sameValue: false }))).toEqual([0, 1, 2, 3])
  })

  it('split by plane, by Euclidean seeds and by geodesic seeds on a U-shaped lesion', () => {
    // A U in a 9 x 5 x 1 slab: two arms (i = 0..1 and i = 7..8) joined along j = 0.
    const dims: Vec3 = [9, 5, 1]
    const mask = new Uint8Array(45)
    for (let j = 0; j < 5; j++) for (let i = 0; i < 9; i++) if (j === 0 || i <= 1 || i >= 7) mask[voxelIndex(dims, [i, j, 0])] = 1
    const comp = componentAt(mask, dims, [0, 4, 0], 6)
    expect(comp.length).toBe(9 + 2 * 4 * 2)
    const plane = splitLesion(dims, comp, { kind: 'plane', point: [4, 0, 0], normal: [1, 0, 0] }, [1, 1, 1], 6)
    expect(plane.a.length + plane.b.length).toBe(comp.length)
    expect(plane.b.every((p) => p % 9 > 4)).toBe(true)
    expect(plane.a.every((p) => p % 9 <= 4)).toBe(true)
    expect(Array.from(plane.boundary)).toEqual([5]) // (5,0,0) touches (4,0,0)
    const seeds: [Vec3, Vec3] = [[0, 4, 0], [8, 4, 0]]
    const eu = splitLesion(dims, comp, { kind: 'seeds', seeds, metric: 'euclidean' }, [1, 1, 1], 6)
    const geo = splitLesion(dims, comp, { kind: 'seeds', seeds, metric: 'geodesic' }, [1, 1, 1], 6)
    // Symmetric U: both split in the middle column; the midpoint (4, 0) is a tie and goes to A.
    for (const r of [eu, geo]) {
      expect(r.a.length).toBe(13)
      expect(r.b.length).toBe(12)
      expect(isSortedUnique(r.a) && isSortedUnique(r.b)).toBe(true)
    }
    // Seeds on one arm: Euclidean cuts across the arm, geodesic follows the U.
    const arm: [Vec3, Vec3] = [[0, 4, 0], [1, 0, 0]]
    const geoArm = splitLesion(dims, comp, { kind: 'seeds', seeds: arm, metric: 'geodesic' }, [1, 1, 1], 6)
    expect(geoArm.b).toContain(voxelIndex(dims, [8, 4, 0]))
  })
})

describe('brush and scissors shapes', () => {
  it('sphere counts match the analytic volume on anisotropic grids', () => {
    for (const [spacing, r] of [[[1.2, 0.9, 2.5], 20], [[4, 4, 4], 30], [[0.98, 0.98, 3.27], 15]] as [Vec3, number][]) {
      const dims: Vec3 = [200, 200, 100]
      const v = brushSphere(dims, spacing, [100.3, 99.6, 50.2], r)
      const analytic = (4 / 3) * Math.PI * r ** 3 / (spacing[0] * spacing[1] * spacing[2])
      expect(isSortedUnique(v)).toBe(true)
      expect(Math.abs(v.length - analytic) / analytic).toBeLessThan(0.04)
      for (const p of v) {
        const c = coord(dims, p)
        const d2 = ((c[0] - 100.3) * spacing[0]) ** 2 + ((c[1] - 99.6) * spacing[1]) ** 2 + ((c[2] - 50.2) * spacing[2]) ** 2
        expect(d2).toBeLessThanOrEqual(r * r + 1e-9)
      }
    }
  })

  it('circle counts match pi r^2 in every view plane; one slice only', () => {
    const dims: Vec3 = [120, 130, 140]
    const spacing: Vec3 = [0.8, 1.1, 2]
    for (const normal of [0, 1, 2] as const) {
      const v = brushCircle(dims, spacing, [60.4, 64.7, 70.2], 25, normal)
      const [u, w] = normal === 0 ? [1, 2] : normal === 1 ? [0, 2] : [0, 1]
      const analytic = Math.PI * 625 / (spacing[u] * spacing[w])
      expect(Math.abs(v.length - analytic) / analytic).toBeLessThan(0.04)
      expect(isSortedUnique(v)).toBe(true)
      const slice = Math.round([60.4, 64.7, 70.2][normal])
      for (const p of v) expect(coord(dims, p)[normal]).toBe(slice)
    }
  })

  it('scissors through a slice range count exactly, clipped to the grid', () => {
    const dims: Vec3 = [30, 40, 50]
    for (const normal of [0, 1, 2] as const) {
      const v = rectangleThroughSlices(dims, normal, [12, 3], [4, 9], [20, 11])
      expect(v.length).toBe(9 * 7 * 10)
      expect(isSortedUnique(v)).toBe(true)
    }
    // Clipped: corners beyond the grid, slices beyond the end.
    expect(rectangleThroughSlices(dims, 2, [-5, -5], [100, 1], [48, 60]).length).toBe(30 * 2 * 2)
    const one = circleThroughSlices(dims, [1, 1, 1], 2, [15, 20], 6, [10, 10])
    const many = circleThroughSlices(dims, [1, 1, 1], 2, [15, 20], 6, [10, 19])
    expect(many.length).toBe(one.length * 10)
    expect(one.length).toBe(113) // lattice points within radius 6 (Gauss circle problem)
  })

  it('thresholdGate keeps only voxels at or above the SUV, and strokes compose', () => {
    const pet = Float32Array.from([0, 3, 1, 5, 2.5, 2.49])
    expect(Array.from(thresholdGate(pet, Int32Array.from([0, 1, 2, 3, 4, 5]), 2.5))).toEqual([1, 3, 4])
    expect(Array.from(thresholdGate(pet, Int32Array.from([1, 3, 4]), 2.5, 4))).toEqual([1, 4])
    expect(Array.from(unionVoxels(Int32Array.from([1, 3, 5]), Int32Array.from([2, 3, 6])))).toEqual([1, 2, 3, 5, 6])
  })
})

describe('growLesion timing on whole-body grids', () => {
  it('demo phantom (128 x 128 x 220) and a synthetic 400 x 400 x 500 with a big hot region, capped', () => {
    const s = demo()
    const { dims, spacingMm } = s.pet.geometry
    const pet = s.pet.voxels as Float32Array
    const liver = s.lesions.filter((l) => l.site === 'liver').sort((a, b) => b.voxelCount - a.voxelCount)[0]
    const seed = worldToIndex(s.pet.geometry, liver.centreLps).map(Math.round) as Vec3
    let t = performance.now()
    const reps = 50
    for (let r = 0; r < reps; r++) growLesion(pet, dims, seed, P41, {}, 18, spacingMm)
    const lesionMs = (performance.now() - t) / reps
    t = performance.now()
    const leak = growLesion(pet, dims, seed, { kind: 'absolute', suv: 1.5 }, { box: { min: [0, 0, 0], max: [127, 127, 219] } }, 18, spacingMm)
    const leakMs = performance.now() - t

    const big: Vec3 = [400, 400, 500]
    const vol = new Float32Array(400 * 400 * 500).fill(0.5)
    // A hot ellipsoid of ~ 20 M voxels (radii 150, 150, 200).
    for (let k = 0; k < 500; k++) for (let j = 0; j < 400; j++) {
      const rest = 1 - ((j - 200) / 150) ** 2 - ((k - 250) / 200) ** 2
      if (rest <= 0) continue
      const h = 150 * Math.sqrt(rest)
      const row = 400 * (j + 400 * k)
      vol.fill(5, row + Math.ceil(200 - h), row + Math.floor(200 + h) + 1)
    }
    vol[200 + 400 * (200 + 400 * 250)] = 6
    t = performance.now()
    const capped = growLesion(vol, big, [200, 200, 250], P41, { box: { min: [0, 0, 0], max: [399, 399, 499] }, maxVoxels: 2_000_000 }, 18, [2, 2, 2])
    const cappedMs = performance.now() - t
    t = performance.now()
    const defaultBox = growLesion(vol, big, [200, 200, 250], P41, {}, 18, [2, 2, 2])
    const defaultBoxMs = performance.now() - t
    console.log([
      `demo phantom, liver lesion 41 %: ${lesionMs.toFixed(3)} ms (mean of ${reps})`,
      `demo phantom, absolute 1.5 over the whole grid: ${leak.voxels.length} voxels in ${leakMs.toFixed(1)} ms`,
      `400x400x500, whole-grid box, cap 2 M: ${capped.voxels.length} voxels, truncated ${capped.truncated}, ${cappedMs.toFixed(1)} ms`,
      `400x400x500, default +-50 mm box (51^3): ${defaultBox.voxels.length} voxels, truncated ${defaultBox.truncated}, ${defaultBoxMs.toFixed(1)} ms`,
    ].join('\n'))
    expect(capped.truncated).toBe(true)
    expect(capped.voxels.length).toBe(2_000_000)
    expect(defaultBox.voxels.length).toBe(51 ** 3)
    expect(defaultBox.truncated).toBe(true)
    expect(cappedMs).toBeLessThan(5000)
  })
})
