import { describe, expect, it } from 'vitest'
import { indexToWorld, sameGrid, worldToIndex, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import type { Volume } from '../../src/shared/volume'
import { PHANTOM_LANDMARKS_LPS, type PhantomTracer } from '../../src/main/demo/anatomy'
import type { PhantomScale } from '../../src/main/demo/grids'
import { makePhantomStudy, type PhantomStudy } from '../../src/main/demo/phantom'
import { shapeContains, type Shape } from '../../src/main/demo/shapes'
import { createRng } from '../../src/main/demo/random'

// Studies are built once per (tracer, scale, seed) and shared between tests: a demo-scale study takes
// about half a second, and the machine running these has two cores.
const cache = new Map<string, PhantomStudy>()
function study(tracer: PhantomTracer, scale: PhantomScale = 'small', seed = 1): PhantomStudy {
  const key = `${tracer}/${scale}/${seed}`
  let s = cache.get(key)
  if (!s) {
    s = makePhantomStudy({ tracer, scale, seed })
    cache.set(key, s)
  }
  return s
}

/** Byte-for-byte equality; vitest's deep equality would take seconds on million-voxel arrays. */
function sameBytes(a: Volume, b: Volume): boolean {
  const view = (v: Volume): Buffer => Buffer.from(v.voxels.buffer, v.voxels.byteOffset, v.voxels.byteLength)
  return view(a).equals(view(b))
}

function nearestIndex(g: VolumeGeometry, p: Vec3): Vec3 {
  return worldToIndex(g, p).map(Math.round) as Vec3
}

function valueAt(v: Volume, p: Vec3): number {
  const [i, j, k] = nearestIndex(v.geometry, p)
  const [nx, ny] = v.geometry.dims
  return v.voxels[i + nx * (j + ny * k)]
}

/** Mean over the 3 x 3 x 3 voxels around the voxel nearest p: steadier than one noisy voxel. */
function meanAround(v: Volume, p: Vec3): number {
  const [i, j, k] = nearestIndex(v.geometry, p)
  const [nx, ny] = v.geometry.dims
  let sum = 0
  for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let a = -1; a <= 1; a++) {
    sum += v.voxels[i + a + nx * (j + b + ny * (k + c))]
  }
  return sum / 27
}

/**
 * 18-connected components of a binary mask (neighbours sharing a face or an edge), by breadth-first
 * flood fill. Returns a component id per voxel (0 = background) and the size of each component.
 */
function components18(mask: Uint8Array, dims: Vec3): { ids: Int32Array; sizes: number[] } {
  const [nx, ny, nz] = dims
  const ids = new Int32Array(mask.length)
  const sizes = [0]
  const queue = new Int32Array(mask.length)
  const offsets: Vec3[] = []
  for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let a = -1; a <= 1; a++) {
    const nonZero = (a !== 0 ? 1 : 0) + (b !== 0 ? 1 : 0) + (c !== 0 ? 1 : 0)
    if (nonZero === 1 || nonZero === 2) offsets.push([a, b, c])
  }
  for (let seed = 0; seed < mask.length; seed++) {
    if (mask[seed] === 0 || ids[seed] !== 0) continue
    const id = sizes.length
    let head = 0
    let tail = 0
    queue[tail++] = seed
    ids[seed] = id
    while (head < tail) {
      const v = queue[head++]
      const i = v % nx
      const j = Math.floor(v / nx) % ny
      const k = Math.floor(v / (nx * ny))
      for (const [a, b, c] of offsets) {
        const ii = i + a
        const jj = j + b
        const kk = k + c
        if (ii < 0 || jj < 0 || kk < 0 || ii >= nx || jj >= ny || kk >= nz) continue
        const w = ii + nx * (jj + ny * kk)
        if (mask[w] !== 0 && ids[w] === 0) {
          ids[w] = id
          queue[tail++] = w
        }
      }
    }
    sizes.push(tail)
  }
  return { ids, sizes }
}

describe('phantom shapes', () => {
  it('capsule inside test (analytic row spans) agrees with the distance to the segment', () => {
    const rng = createRng(3)
    const distToSegment = (p: Vec3, a: Vec3, b: Vec3): number => {
      const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]]
      const w = [p[0] - a[0], p[1] - a[1], p[2] - a[2]]
      const l2 = d[0] ** 2 + d[1] ** 2 + d[2] ** 2
      const t = Math.min(1, Math.max(0, (w[0] * d[0] + w[1] * d[1] + w[2] * d[2]) / l2))
      return Math.hypot(w[0] - t * d[0], w[1] - t * d[1], w[2] - t * d[2])
    }
    let disagreements = 0
    for (let n = 0; n < 200; n++) {
      const a: Vec3 = [rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(-50, 50)]
      // Every few capsules lie along x, the row direction: a degenerate case for the row solver.
      const b: Vec3 = n % 5 === 0 ? [a[0] + 40, a[1], a[2]] : [rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(-50, 50)]
      const shape: Shape = { kind: 'capsule', aLps: a, bLps: b, radiusMm: rng.uniform(2, 20) }
      for (let m = 0; m < 200; m++) {
        const p: Vec3 = [rng.uniform(-75, 75), rng.uniform(-75, 75), rng.uniform(-75, 75)]
        const d = distToSegment(p, a, b)
        if (Math.abs(d - shape.radiusMm) < 1e-6) continue
        if (shapeContains(shape, p) !== d < shape.radiusMm) disagreements++
      }
    }
    expect(disagreements).toBe(0)
  })
})

describe('phantom study: determinism', () => {
  it('gives identical bytes for the same seed', () => {
    const a = makePhantomStudy({ tracer: 'PSMA', scale: 'small', seed: 7 })
    const b = makePhantomStudy({ tracer: 'PSMA', scale: 'small', seed: 7 })
    expect(sameBytes(a.ct, b.ct)).toBe(true)
    expect(sameBytes(a.pet, b.pet)).toBe(true)
    expect(sameBytes(a.mask, b.mask)).toBe(true)
    expect(a.lesions).toEqual(b.lesions)
  })

  it('moves the lesions (and only them, not the anatomy) for another seed', () => {
    const a = study('FDG', 'small', 1)
    const b = study('FDG', 'small', 2)
    expect(a.lesions.map((l) => l.centreLps)).not.toEqual(b.lesions.map((l) => l.centreLps))
    expect(sameBytes(a.mask, b.mask)).toBe(false)
    expect(sameBytes(a.pet, b.pet)).toBe(false)
    // Same body outline and tissues; the CT differs by noise alone (sd 8 HU).
    // (Plain loops with one expect at the end: an expect per voxel would take seconds.)
    let outlineMismatches = 0
    let worst = 0
    for (let n = 0; n < a.ct.voxels.length; n++) {
      if ((a.ct.voxels[n] === -1000) !== (b.ct.voxels[n] === -1000)) outlineMismatches++
      worst = Math.max(worst, Math.abs(a.ct.voxels[n] - b.ct.voxels[n]))
    }
    expect(outlineMismatches).toBe(0)
    expect(worst).toBeLessThan(100)
  })

  it('defaults to seed 1 and demo scale', () => {
    const s = makePhantomStudy({ tracer: 'FDG' })
    expect(s.pet.geometry).toEqual(study('FDG', 'demo', 1).pet.geometry)
    expect(s.lesions).toEqual(study('FDG', 'demo', 1).lesions)
  })
})

describe('phantom study: grids', () => {
  const expected: Record<PhantomScale, { pet: Vec3; petMm: Vec3; ct: Vec3; ctMm: Vec3 }> = {
    demo: { pet: [128, 128, 220], petMm: [4, 4, 4], ct: [256, 256, 293], ctMm: [2, 2, 3] },
    small: { pet: [64, 64, 110], petMm: [8, 8, 8], ct: [128, 128, 147], ctMm: [4, 4, 6] },
  }

  for (const scale of ['small', 'demo'] as PhantomScale[]) {
    it(`has the documented ${scale} grids, voxel types and units`, () => {
      const s = study('FDG', scale)
      expect(s.pet.geometry.dims).toEqual(expected[scale].pet)
      expect(s.pet.geometry.spacingMm).toEqual(expected[scale].petMm)
      expect(s.ct.geometry.dims).toEqual(expected[scale].ct)
      expect(s.ct.geometry.spacingMm).toEqual(expected[scale].ctMm)
      expect(s.ct).toMatchObject({ modality: 'CT', unit: 'HU' })
      expect(s.pet).toMatchObject({ modality: 'PT', unit: 'SUVbw' })
      expect(s.mask).toMatchObject({ modality: 'SEG', unit: 'label' })
      expect(s.ct.voxels).toBeInstanceOf(Int16Array)
      expect(s.pet.voxels).toBeInstanceOf(Float32Array)
      expect(s.mask.voxels).toBeInstanceOf(Uint8Array)
      expect(s.ct.voxels.length).toBe(expected[scale].ct.reduce((a, b) => a * b))
      expect(s.pet.voxels.length).toBe(expected[scale].pet.reduce((a, b) => a * b))
    })

    it(`puts the mask on exactly the PET grid (${scale})`, () => {
      const s = study('PSMA', scale)
      expect(s.mask.geometry).toEqual(s.pet.geometry)
      expect(s.mask.geometry).not.toBe(s.pet.geometry)
      expect(s.mask.voxels.length).toBe(s.pet.voxels.length)
      expect(Array.from(new Set(s.mask.voxels)).sort()).toEqual([0, 1])
    })

    it(`gives the CT its own grid that still covers every PET voxel centre (${scale})`, () => {
      const { ct, pet } = study('FDG', scale)
      expect(sameGrid(ct.geometry, pet.geometry)).toBe(false)
      expect(ct.geometry.directionLps).toEqual(pet.geometry.directionLps)
      for (let a = 0; a < 3; a++) {
        expect(ct.geometry.spacingMm[a]).toBeLessThan(pet.geometry.spacingMm[a])
        // Not merely finer: no CT voxel centre coincides with the PET's first one.
        const offset = (pet.geometry.originLps[a] - ct.geometry.originLps[a]) / ct.geometry.spacingMm[a]
        expect(Math.abs(offset - Math.round(offset))).toBeGreaterThan(0.1)
      }
      // Index maps are affine, so the eight corner voxel centres decide coverage.
      const [nx, ny, nz] = pet.geometry.dims
      for (const i of [0, nx - 1]) for (const j of [0, ny - 1]) for (const k of [0, nz - 1]) {
        const inCt = worldToIndex(ct.geometry, indexToWorld(pet.geometry, [i, j, k]))
        for (let a = 0; a < 3; a++) {
          expect(inCt[a]).toBeGreaterThanOrEqual(-0.5)
          expect(inCt[a]).toBeLessThanOrEqual(ct.geometry.dims[a] - 0.5)
        }
      }
    })
  }
})

describe('phantom study: lesions', () => {
  const cases: Array<[PhantomTracer, PhantomScale, number, number]> = [
    ['FDG', 'small', 10, 14],
    ['PSMA', 'small', 25, 32],
    ['FDG', 'demo', 10, 14],
    ['PSMA', 'demo', 25, 32],
  ]
  for (const [tracer, scale, fewest, most] of cases) {
    it(`${tracer} ${scale}: every lesion is exactly one 18-connected mask component of its own`, () => {
      const s = study(tracer, scale)
      const g = s.mask.geometry
      const mask = s.mask.voxels as Uint8Array
      expect(s.lesions.length).toBeGreaterThanOrEqual(fewest)
      expect(s.lesions.length).toBeLessThanOrEqual(most)
      expect(s.lesions.map((l) => l.id)).toEqual(s.lesions.map((_, n) => n + 1))

      const { ids, sizes } = components18(mask, g.dims)
      // As many components as lesions, each holding one lesion's centre and exactly its voxels.
      expect(sizes.length - 1).toBe(s.lesions.length)
      const seen = new Set<number>()
      for (const lesion of s.lesions) {
        expect(lesion.voxelCount).toBeGreaterThan(0)
        const [i, j, k] = nearestIndex(g, lesion.centreLps)
        const id = ids[i + g.dims[0] * (j + g.dims[1] * k)]
        expect(id).toBeGreaterThan(0)
        expect(seen.has(id)).toBe(false)
        seen.add(id)
        expect(sizes[id]).toBe(lesion.voxelCount)
      }
      const total = mask.reduce((n, v) => n + v, 0)
      expect(s.lesions.reduce((n, l) => n + l.voxelCount, 0)).toBe(total)

      // At least two empty voxels between different lesions (any direction).
      const [nx, ny, nz] = g.dims
      let tooClose = 0
      for (let v = 0; v < mask.length; v++) {
        if (!mask[v]) continue
        const i = v % nx
        const j = Math.floor(v / nx) % ny
        const k = Math.floor(v / (nx * ny))
        for (let c = -2; c <= 2; c++) for (let b = -2; b <= 2; b++) for (let a = -2; a <= 2; a++) {
          const [ii, jj, kk] = [i + a, j + b, k + c]
          if (ii < 0 || jj < 0 || kk < 0 || ii >= nx || jj >= ny || kk >= nz) continue
          const w = ii + nx * (jj + ny * kk)
          if (ids[w] !== 0 && ids[w] !== ids[v]) tooClose++
        }
      }
      expect(tooClose).toBe(0)
    })

    it(`${tracer} ${scale}: lesions have the documented sizes, uptake and places`, () => {
      const s = study(tracer, scale)
      for (const l of s.lesions) {
        for (const r of l.radiiMm) {
          expect(r).toBeGreaterThanOrEqual(3)
          expect(r).toBeLessThanOrEqual(20)
        }
        expect(l.suv).toBeGreaterThanOrEqual(3)
        expect(l.suv).toBeLessThanOrEqual(25)
        // Inside the body: never in the air around it.
        expect(valueAt(s.ct, l.centreLps)).toBeGreaterThan(-1000)
      }
      if (tracer === 'PSMA') {
        const small = s.lesions.filter((l) => Math.max(...l.radiiMm) <= 8 * 1.2)
        expect(small.length / s.lesions.length).toBeGreaterThan(0.8)
        expect(s.lesions.some((l) => l.site === 'prostate bed')).toBe(true)
      } else {
        for (const site of ['liver', 'lung', 'bone']) expect(s.lesions.some((l) => l.site === site)).toBe(true)
        expect(s.lesions.some((l) => l.site.includes('lymph node'))).toBe(true)
      }
    })
  }

  for (const tracer of ['FDG', 'PSMA'] as PhantomTracer[]) {
    it(`${tracer} demo: each lesion's SUVmax stands clearly above its surroundings`, () => {
      const s = study(tracer, 'demo')
      const g = s.pet.geometry
      const [nx, ny] = g.dims
      const pet = s.pet.voxels
      for (const lesion of s.lesions) {
        const [ci, cj, ck] = nearestIndex(g, lesion.centreLps)
        const reach = lesion.radiiMm.map((r, a) => Math.ceil(r / g.spacingMm[a]))
        let suvMax = 0
        const shell: number[] = []
        // Shell: voxels 3 to 4 voxels beyond the lesion's extent along each axis (past most PSF spill).
        for (let c = -reach[2] - 4; c <= reach[2] + 4; c++) {
          for (let b = -reach[1] - 4; b <= reach[1] + 4; b++) {
            for (let a = -reach[0] - 4; a <= reach[0] + 4; a++) {
              const idx = ci + a + nx * (cj + b + ny * (ck + c))
              if (s.mask.voxels[idx]) suvMax = Math.max(suvMax, pet[idx])
              const beyond = Math.max(Math.abs(a) - reach[0], Math.abs(b) - reach[1], Math.abs(c) - reach[2])
              if (beyond >= 3) shell.push(pet[idx])
            }
          }
        }
        shell.sort((p, q) => p - q)
        const surroundings = shell[Math.floor(shell.length / 2)]
        expect(suvMax, `lesion ${lesion.id} (${lesion.site}, SUV ${lesion.suv.toFixed(1)})`).toBeGreaterThan(2 * surroundings)
      }
    })
  }
})

describe('phantom study: anatomy', () => {
  const L = PHANTOM_LANDMARKS_LPS

  it('has CT numbers of air, lung, soft tissue and bone where expected', () => {
    for (const scale of ['small', 'demo'] as PhantomScale[]) {
      const { ct } = study('FDG', scale)
      expect(ct.voxels[0]).toBe(-1000)
      expect(valueAt(ct, [0, -250, -440])).toBe(-1000)
      expect(valueAt(ct, L.lungLeft)).toBeLessThan(-700)
      expect(valueAt(ct, L.lungRight)).toBeLessThan(-700)
      expect(valueAt(ct, L.femurShaftLeft)).toBeGreaterThan(300)
      expect(valueAt(ct, L.vertebralBodyLumbar)).toBeGreaterThan(300)
      expect(Math.abs(valueAt(ct, L.liver) - 60)).toBeLessThan(40)
      expect(Math.abs(valueAt(ct, L.thighMuscleLeft) - 40)).toBeLessThan(40)
    }
  })

  it('shows each tracer\'s physiological uptake', () => {
    const fdg = study('FDG', 'small').pet
    const psma = study('PSMA', 'small').pet
    const at = (v: Volume, p: Vec3): number => meanAround(v, p)
    // Tracer contrasts the reviewer relies on to tell the studies apart.
    expect(at(psma, L.kidneyLeft)).toBeGreaterThan(3 * at(fdg, L.kidneyLeft))
    expect(at(psma, L.kidneyRight)).toBeGreaterThan(3 * at(fdg, L.kidneyRight))
    expect(at(psma, L.parotidLeft)).toBeGreaterThan(2 * at(fdg, L.parotidLeft))
    expect(at(psma, L.submandibularLeft)).toBeGreaterThan(2 * at(fdg, L.submandibularLeft))
    expect(at(fdg, L.brain)).toBeGreaterThan(10 * at(psma, L.brain))
    expect(at(fdg, L.myocardium)).toBeGreaterThan(at(psma, L.myocardium))
    expect(at(psma, L.spleen)).toBeGreaterThan(at(fdg, L.spleen))
    // And roughly the documented levels inside large organs.
    expect(at(fdg, L.liver)).toBeGreaterThan(2)
    expect(at(fdg, L.liver)).toBeLessThan(3)
    expect(at(fdg, L.brain)).toBeGreaterThan(7)
    expect(at(fdg, L.bladder)).toBeGreaterThan(15)
    expect(at(fdg, L.lungLeft)).toBeLessThan(at(fdg, L.bloodPool))
    expect(at(psma, L.liver)).toBeGreaterThan(4)
    expect(at(psma, L.liver)).toBeLessThan(6)
  })

  it('has no negative SUV and no activity far outside the body', () => {
    for (const tracer of ['FDG', 'PSMA'] as PhantomTracer[]) {
      const { pet } = study(tracer, 'small')
      expect(pet.voxels.every((v) => v >= 0)).toBe(true)
      expect(valueAt(pet, [0, -250, -440])).toBe(0)
    }
  })
})
