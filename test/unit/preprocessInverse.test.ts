/**
 * The acceptance test: on real PET grids, a blob placed (by world position) in "probabilities"
 * on the preprocessed 2 mm RAS grid comes back, through the inverse chain and the argmax, exactly where
 * the same blob is on the PET grid. The forward chain is checked the same way: a world-defined phantom
 * (CT body, PET hot sphere) must show up at the right 2 mm voxels.
 *
 * Why the thresholds:
 * - Hard blob (p = 1 inside the sphere at 2 mm voxel centres, else 0): after trilinear interpolation back,
 *   p > 0.5 moves the surface to the midpoint between an inside and an outside 2 mm centre, so the
 *   recovered surface is off by up to 1 mm along a grid axis (about 0.5 mm on average). The symmetric
 *   difference is then about (sphere area x 0.5 mm), i.e. Dice ~ 1 - 0.75 mm / R: 0.975 for R = 30 mm,
 *   0.981 for R = 40 mm. We use R = 40 mm and require the Dice >= 0.97; the errors are symmetric, so
 *   the centroid stays well within the required 0.5 PET voxel.
 * - Smooth blob (p ramps linearly with the distance from the centre through 0.5 at R): trilinear
 *   interpolation reproduces a locally linear field, so the 0.5 surface comes back to within the ramp's
 *   curvature error (~h^2 / (8 R) < 0.02 mm); only PET centres within that distance of the sphere can
 *   flip. Any half-voxel convention error (a 1 mm shift moves Dice to ~1 - 0.75 / R ~ 0.98 and the
 *   centroid by 1 mm = 0.2-0.5 voxel) is caught by Dice >= 0.995 and a centroid within 0.05 voxel.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { indexToWorld, voxelCount, type Mat3, type Vec3, type VolumeGeometry } from '../../src/shared/geometry'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { indexMapping } from '../../src/main/imaging/resample/gridMapping'
import { argmaxToMask, invertToPetGrid, preprocessForInference, type PreprocessedInput } from '../../src/main/inference/preprocess/pipeline'
import { clipScaleCt } from '../../src/main/inference/preprocess/clipScaleCt'
import { cropVolume, foregroundBox } from '../../src/main/inference/preprocess/cropForeground'
import { applyAxisTransform, rasOrientation, transformGeometry } from '../../src/main/inference/preprocess/orientRas'
import { planIsotropic, resampleIsotropic } from '../../src/main/inference/preprocess/resampleIsotropic'
import { slidingWindowInference } from '../../src/main/inference/slidingWindow/slidingWindow'
import { FDG_LABEL, PSMA_LABEL, STS_001_PET } from './helpers/data'

const grids: Record<string, VolumeGeometry> = {}

beforeAll(async () => {
  const [sts, psma, fdg] = await Promise.all([STS_001_PET, PSMA_LABEL, FDG_LABEL].map((f) => readNiftiFile(f)))
  grids['STS_001 PET (LPS, 41x43x59, 4.69x4.69x3.27 mm)'] = sts.geometry
  grids['autoPET PSMA (LAS, 200x200x448, 4.07x4.07x2 mm)'] = psma.geometry
  grids['autoPET FDG (LAS, 400x400x326, 2.04x2.04x3 mm)'] = fdg.geometry
  // The STS grid with permuted, tilted (6 degrees) axes: axis 0 ~ Superior, 1 ~ Right, 2 ~ Posterior.
  const c = Math.cos(0.1), s = Math.sin(0.1)
  const dir: Mat3 = [0, s, c, -1, 0, 0, 0, c, -s]
  grids['STS_001 grid, permuted + oblique axes (SRP)'] = { ...sts.geometry, directionLps: dir }
})

/** Calls `fn(v, x, y, z)` with the LPS world position of every voxel centre, incrementally. */
function forEachWorld(g: VolumeGeometry, fn: (v: number, x: number, y: number, z: number) => void): void {
  const [nx, ny, nz] = g.dims
  const d = g.directionLps
  const s = g.spacingMm
  const st = [0, 1, 2].map((a) => [d[3 * a] * s[a], d[3 * a + 1] * s[a], d[3 * a + 2] * s[a]])
  let v = 0
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) {
    let x = g.originLps[0] + j * st[1][0] + k * st[2][0]
    let y = g.originLps[1] + j * st[1][1] + k * st[2][1]
    let z = g.originLps[2] + j * st[1][2] + k * st[2][2]
    for (let i = 0; i < nx; i++, v++, x += st[0][0], y += st[0][1], z += st[0][2]) fn(v, x, y, z)
  }
}

/** Calls `fn(v, p0, p1, p2)` with the continuous `source` index of every voxel centre of `target`. */
function forEachSourceIndex(source: VolumeGeometry, target: VolumeGeometry, fn: (v: number, p0: number, p1: number, p2: number) => void): void {
  const m = indexMapping(source, target)
  const [nx, ny, nz] = target.dims
  let v = 0
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) {
    let a = m.offset[0] + j * m.stepJ[0] + k * m.stepK[0]
    let b = m.offset[1] + j * m.stepJ[1] + k * m.stepK[1]
    let c = m.offset[2] + j * m.stepJ[2] + k * m.stepK[2]
    for (let i = 0; i < nx; i++, v++, a += m.stepI[0], b += m.stepI[1], c += m.stepI[2]) fn(v, a, b, c)
  }
}

/** A world-position function for continuous indices of `g` that writes into one reused array (no garbage per voxel). */
function worldOf(g: VolumeGeometry): (p0: number, p1: number, p2: number) => Vec3 {
  const d = g.directionLps
  const s = g.spacingMm
  const o = g.originLps
  const w: Vec3 = [0, 0, 0]
  return (p0, p1, p2) => {
    const a = p0 * s[0], b = p1 * s[1], c = p2 * s[2]
    w[0] = o[0] + a * d[0] + b * d[3] + c * d[6]
    w[1] = o[1] + a * d[1] + b * d[4] + c * d[7]
    w[2] = o[2] + a * d[2] + b * d[5] + c * d[8]
    return w
  }
}

const BODY_HU = 40
const BLOB_SUV = 8

interface Phantom {
  ct: Int16Array
  pet: Float32Array
  /** Squared normalised ellipsoid radius of a continuous PET index (< 1 inside the body). */
  bodyRadius2: (p0: number, p1: number, p2: number) => number
  blobCentre: Vec3
  blobRadiusMm: number
}

/** A body ellipsoid (off-centre, so the crop is asymmetric) of 40 HU in air, SUV 1, a hot sphere of SUV 8. */
function makePhantom(g: VolumeGeometry, blobRadiusMm: number): Phantom {
  const [nx, ny, nz] = g.dims
  const centre = [0.46 * nx, 0.53 * ny, 0.48 * nz]
  const semi = [0.36 * nx, 0.31 * ny, 0.41 * nz]
  // (Math.hypot is slow in V8: squares are used throughout these per-voxel loops.)
  const bodyRadius2 = (p0: number, p1: number, p2: number): number =>
    ((p0 - centre[0]) / semi[0]) ** 2 + ((p1 - centre[1]) / semi[1]) ** 2 + ((p2 - centre[2]) / semi[2]) ** 2
  const blobCentre = indexToWorld(g, [centre[0] + 0.13 * semi[0] + 0.3, centre[1] - 0.11 * semi[1] + 0.2, centre[2] + 0.07 * semi[2] + 0.1])
  const ct = new Int16Array(voxelCount(g))
  const pet = new Float32Array(voxelCount(g))
  const [cx, cy, cz] = blobCentre
  const r2 = blobRadiusMm ** 2
  forEachWorld(g, (v, x, y, z) => {
    if ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= r2) pet[v] = BLOB_SUV
  })
  for (let k = 0, v = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
    const inside = bodyRadius2(i, j, k) <= 1
    ct[v] = inside ? BODY_HU : -1024
    if (inside && pet[v] === 0) pet[v] = 1
    if (!inside) pet[v] = 0
  }
  return { ct, pet, bodyRadius2, blobCentre, blobRadiusMm }
}

/** The blob as the network would output it, on the preprocessed grid: [p(background), p(lesion)]. */
function blobProbabilities(pre: PreprocessedInput, centre: Vec3, radiusMm: number, smooth: boolean): Float32Array {
  const m = voxelCount(pre.record.inputGeometry)
  const out = new Float32Array(2 * m)
  const [cx, cy, cz] = centre
  const rampMm = 3
  forEachWorld(pre.record.inputGeometry, (v, x, y, z) => {
    const d = Math.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
    const p = smooth ? Math.min(1, Math.max(0, 0.5 + (radiusMm - d) / (2 * rampMm))) : d <= radiusMm ? 1 : 0
    out[v] = 1 - p
    out[m + v] = p
  })
  return out
}

function sphereMask(g: VolumeGeometry, centre: Vec3, radiusMm: number): Uint8Array {
  const mask = new Uint8Array(voxelCount(g))
  const [cx, cy, cz] = centre
  forEachWorld(g, (v, x, y, z) => {
    if ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radiusMm ** 2) mask[v] = 1
  })
  return mask
}

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0, na = 0, nb = 0
  for (let v = 0; v < a.length; v++) {
    na += a[v]
    nb += b[v]
    inter += a[v] & b[v]
  }
  return (2 * inter) / (na + nb)
}

function centroid(mask: Uint8Array, dims: Vec3): Vec3 {
  const sum = [0, 0, 0]
  let n = 0
  for (let k = 0, v = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    if (!mask[v]) continue
    sum[0] += i
    sum[1] += j
    sum[2] += k
    n++
  }
  return [sum[0] / n, sum[1] / n, sum[2] / n]
}

const ms = (t0: number): string => `${(performance.now() - t0).toFixed(0)} ms`

describe('preprocess -> invert on real PET grids (method §2, §4)', () => {
  const names = ['STS_001 PET (LPS, 41x43x59, 4.69x4.69x3.27 mm)', 'autoPET PSMA (LAS, 200x200x448, 4.07x4.07x2 mm)', 'autoPET FDG (LAS, 400x400x326, 2.04x2.04x3 mm)', 'STS_001 grid, permuted + oblique axes (SRP)']
  for (const name of names) {
    it(name, () => {
      const g = grids[name]
      const R = 40
      const ph = makePhantom(g, R)
      const t0 = performance.now()
      const pre = preprocessForInference({ geometry: g, voxels: ph.ct }, { geometry: g, voxels: ph.pet })
      const tPre = ms(t0)
      const rec = pre.record
      expect(pre.dims).toEqual(rec.inputGeometry.dims)
      expect(rec.inputGeometry.spacingMm).toEqual([2, 2, 2])

      // Forward: the 2 mm voxels show the world-defined phantom (checks data against geometry).
      const m = voxelCount(rec.inputGeometry)
      const ctScaledBody = (BODY_HU + 1024) / 2048
      const margin = 2 * Math.max(...g.spacingMm)
      let badCt = 0, badPet = 0, deep = 0
      const toWorld = worldOf(g)
      forEachSourceIndex(g, rec.inputGeometry, (v, p0, p1, p2) => {
        const r2 = ph.bodyRadius2(p0, p1, p2)
        const ct = pre.input[v]
        if (r2 < 0.81) { deep++; if (ct !== ctScaledBody) badCt++ }
        if (r2 > 1.21 && ct !== 0) badCt++
        const w = toWorld(p0, p1, p2)
        const d2 = (w[0] - ph.blobCentre[0]) ** 2 + (w[1] - ph.blobCentre[1]) ** 2 + (w[2] - ph.blobCentre[2]) ** 2
        const pet = pre.input[m + v]
        if (d2 < (R - margin) ** 2 && pet !== BLOB_SUV) badPet++
        if (d2 > (R + margin) ** 2 && r2 < 0.81 && pet !== 1) badPet++
      })
      expect(deep).toBeGreaterThan(m / 4)
      expect(badCt).toBe(0)
      expect(badPet).toBe(0)

      // Inverse: hard and smooth blobs come back onto the PET grid where the sphere is.
      const truth = sphereMask(g, ph.blobCentre, R)
      const truthCentroid = centroid(truth, g.dims)
      const box = rec.crop.box
      const report: string[] = [`${name}: crop ${box.start.join(',')}..${box.end.join(',')} (${rec.axisCodesBefore} -> RAS), network grid ${pre.dims.join('x')}; preprocess ${tPre}`]
      for (const smooth of [false, true]) {
        const t1 = performance.now()
        const [p0, p1] = invertToPetGrid(blobProbabilities(pre, ph.blobCentre, R, smooth), rec)
        const mask = argmaxToMask(p0, p1)
        const tInv = ms(t1)
        const dsc = dice(mask, truth)
        const c = centroid(mask, g.dims)
        const shift = c.map((x, a) => Math.abs(x - truthCentroid[a]))
        report.push(`  ${smooth ? 'smooth' : 'hard  '} blob R=${R} mm: Dice ${dsc.toFixed(4)}, centroid shift ${shift.map((x) => x.toFixed(3)).join(', ')} voxels; invert+argmax ${tInv}`)
        if (smooth) {
          expect(dsc).toBeGreaterThanOrEqual(0.995)
          for (const x of shift) expect(x).toBeLessThan(0.05)
        } else {
          expect(dsc).toBeGreaterThanOrEqual(0.97)
          for (const x of shift) expect(x).toBeLessThan(0.5)
        }
        // Outside the crop box both channels are exactly 0, so the mask is background.
        let outside = 0, nonzero = 0
        const [nx, ny, nz] = g.dims
        for (let k = 0, v = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
          if (i >= box.start[0] && i < box.end[0] && j >= box.start[1] && j < box.end[1] && k >= box.start[2] && k < box.end[2]) continue
          outside++
          if (p0[v] !== 0 || p1[v] !== 0 || mask[v] !== 0) nonzero++
        }
        expect(outside).toBeGreaterThan(0)
        expect(nonzero).toBe(0)
      }
      console.log(report.join('\n'))
    })
  }

  for (const name of names) {
    it(`${name}: forward, a PET linear in world position is reproduced at every 2 mm voxel centre`, () => {
      const g = grids[name]
      const ph = makePhantom(g, 10)
      const f = (x: number, y: number, z: number): number => 50 + 0.05 * x - 0.03 * y + 0.02 * z
      const pet = new Float32Array(voxelCount(g))
      forEachWorld(g, (v, x, y, z) => { pet[v] = f(x, y, z) })
      const pre = preprocessForInference({ geometry: g, voxels: ph.ct }, { geometry: g, voxels: pet })
      const m = voxelCount(pre.record.inputGeometry)
      const { start, end } = pre.record.crop.box
      let worst = 0, checked = 0, clamped = 0
      const toWorld = worldOf(g)
      forEachSourceIndex(g, pre.record.inputGeometry, (v, p0, p1, p2) => {
        // voxels past the last source centre read the border (clamped) value: skip them
        const tol = 1e-6
        if (p0 < start[0] - tol || p1 < start[1] - tol || p2 < start[2] - tol || p0 > end[0] - 1 + tol || p1 > end[1] - 1 + tol || p2 > end[2] - 1 + tol) {
          clamped++
          return
        }
        const w = toWorld(p0, p1, p2)
        worst = Math.max(worst, Math.abs(pre.input[m + v] - f(w[0], w[1], w[2])))
        checked++
      })
      expect(checked).toBeGreaterThan(0.9 * m)
      expect(clamped).toBeLessThan(0.1 * m)
      // float32 values near 50: a few 1e-6; a quarter-voxel misplacement would be ~0.01
      expect(worst).toBeLessThan(2e-4)
    })
  }

  it('the whole chain with sliding windows: a voxelwise "network" (SUV > 4 is lesion) finds the hot sphere', async () => {
    const g = grids['STS_001 grid, permuted + oblique axes (SRP)']
    const R = 40
    const ph = makePhantom(g, R)
    const pre = preprocessForInference({ geometry: g, voxels: ph.ct }, { geometry: g, voxels: ph.pet })
    const r = 32 ** 3
    let windows = 0
    const logits = await slidingWindowInference(pre.input, pre.dims, async (patch) => {
      windows++
      const out = new Float32Array(2 * r)
      for (let q = 0; q < r; q++) {
        out[q] = 4 - patch[r + q]
        out[r + q] = patch[r + q] - 4
      }
      return out
    }, { roiSize: 32, overlap: 0.5, mode: 'constant' })
    expect(windows).toBeGreaterThan(8)
    const prob = logits.map((x) => 1 / (1 + Math.exp(-x)))
    const [p0, p1] = invertToPetGrid(prob, pre.record)
    const mask = argmaxToMask(p0, p1)
    const truth = sphereMask(g, ph.blobCentre, R)
    expect(dice(mask, truth)).toBeGreaterThanOrEqual(0.97)
    const c = centroid(mask, g.dims)
    const t = centroid(truth, g.dims)
    for (let a = 0; a < 3; a++) expect(Math.abs(c[a] - t[a])).toBeLessThan(0.5)
  })

  it('timings: preprocessing a 400x400x326 grid, step by step (printed, not asserted)', () => {
    const g = grids['autoPET FDG (LAS, 400x400x326, 2.04x2.04x3 mm)']
    const ph = makePhantom(g, 30)
    const lines: string[] = []
    let t = performance.now()
    const scaled = clipScaleCt(ph.ct)
    lines.push(`clip/scale CT ${ms(t)}`)
    t = performance.now()
    const box = foregroundBox(scaled, g.dims)!
    lines.push(`foreground box ${ms(t)}`)
    t = performance.now()
    const ctC = cropVolume(scaled, g.dims, box)
    cropVolume(ph.pet, g.dims, box)
    lines.push(`crop CT + PET ${ms(t)} -> ${box.end.map((e, a) => e - box.start[a]).join('x')}`)
    t = performance.now()
    const cg = { ...g, dims: box.end.map((e, a) => e - box.start[a]) as Vec3 }
    const o = rasOrientation(cg)
    const ctO = applyAxisTransform(ctC, o)
    lines.push(`orient one channel ${ms(t)}`)
    t = performance.now()
    const { record } = planIsotropic(transformGeometry(cg, o))
    resampleIsotropic(ctO, record)
    lines.push(`resample one channel ${ms(t)} -> ${record.outputDims.join('x')}`)
    t = performance.now()
    const pre = preprocessForInference({ geometry: g, voxels: ph.ct }, { geometry: g, voxels: ph.pet })
    lines.push(`preprocessForInference (all steps, 2 channels) ${ms(t)} -> ${pre.dims.join('x')}`)
    t = performance.now()
    invertToPetGrid(new Float32Array(2 * voxelCount(pre.record.inputGeometry)), pre.record)
    lines.push(`invertToPetGrid (2 channels) ${ms(t)}`)
    console.log(`timings, 400x400x326 grid:\n  ${lines.join('\n  ')}`)
    expect(pre.dims.every((d) => d > 0)).toBe(true)
  })
})
