/**
 * Times lesion labelling, lesion measures, the autoPET metrics and incremental updates on whole-body
 * grids. Run: npx tsx scripts/bench-measures.ts [--quick]
 *
 * - the real FDG prediction (autoPET, 400 x 400 x 326, 1,982 voxels) with a synthetic SUV volume
 *   (the data set has no PET),
 * - a synthetic 400 x 400 x 500 mask with thousands of lesions (balls with a hot core) and one of ~0.27 M voxels,
 * - brush strokes (a ball of radius 5 voxels, painting and erasing) updated incrementally.
 * Each timing is the median of several runs after one warm-up run.
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Vec3, VolumeGeometry } from '../src/shared/geometry'
import { readImageFile } from '../src/main/io/readImage'
import { autopetCaseMetrics } from '../src/main/metrics/autopetMetrics'
import { labelComponents } from '../src/main/metrics/connectedComponents'
import { IncrementalLesions, type VoxelBox } from '../src/main/metrics/incremental'
import { measureLesions } from '../src/main/metrics/lesionStats'

const quick = process.argv.includes('--quick')
const REPEATS = quick ? 3 : 5
const STROKES = quick ? 100 : 400
const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/data')

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b)
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
}

function percentile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b)
  return v[Math.min(v.length - 1, Math.floor(q * v.length))]
}

/** Median ms of `repeats` runs after a warm-up run. */
function time<T>(fn: () => T, repeats = REPEATS): { ms: number; result: T } {
  let result = fn()
  const times: number[] = []
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now()
    result = fn()
    times.push(performance.now() - t0)
  }
  return { ms: median(times), result }
}

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

function ball(mask: Uint8Array, dims: Vec3, centre: Vec3, radius: number, value: 0 | 1): VoxelBox {
  const [nx, ny] = dims
  const min = centre.map((c) => Math.max(0, Math.floor(c - radius))) as Vec3
  const max = centre.map((c, a) => Math.min(dims[a] - 1, Math.ceil(c + radius))) as Vec3
  for (let k = min[2]; k <= max[2]; k++) for (let j = min[1]; j <= max[1]; j++) for (let i = min[0]; i <= max[0]; i++) {
    if ((i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2 <= radius * radius) mask[i + nx * (j + ny * k)] = value
  }
  return { min, max }
}

/**
 * A synthetic SUV: a smooth background of 1-1.5, smooth uptake of 4-12 inside the lesions, and
 * ±0.15 of deterministic noise. `noise: true` instead makes lesion values white noise (6-12), the
 * worst case of the SUVpeak search (every window holds a maximal value, so nothing is pruned).
 */
function syntheticSuv(mask: Uint8Array, dims: Vec3, noise = false): Float32Array {
  const [nx, ny] = dims
  const suv = new Float32Array(mask.length)
  const random = rng(99)
  for (let p = 0; p < mask.length; p++) {
    const i = p % nx
    const j = ((p / nx) | 0) % ny
    const k = (p / (nx * ny)) | 0
    const background = 1.25 + 0.25 * Math.sin(i * 0.07) * Math.cos(j * 0.05)
    if (!mask[p]) suv[p] = background
    else if (noise) suv[p] = 6 + (p % 7)
    else suv[p] = background + 8 + 4 * Math.sin(i / 6) * Math.cos(j / 7) * Math.sin(k / 5 + 1) + (random() - 0.5) * 0.3
  }
  return suv
}

/** Lesions with a hot core, as real ones: background + peak · exp(-d² / (2 (r/2)²)) per ball, ±0.15 noise. */
function peakedSuv(mask: Uint8Array, dims: Vec3, balls: { c: Vec3; r: number; peak: number }[]): Float32Array {
  const suv = syntheticSuv(new Uint8Array(mask.length), dims)
  const [nx, ny] = dims
  const random = rng(5)
  for (const { c, r, peak } of balls) {
    const s2 = 2 * (r / 2) ** 2
    const reach = Math.ceil(r * 1.5)
    for (let k = Math.max(0, Math.floor(c[2] - reach)); k <= Math.min(dims[2] - 1, c[2] + reach); k++) {
      for (let j = Math.max(0, Math.floor(c[1] - reach)); j <= Math.min(dims[1] - 1, c[1] + reach); j++) {
        for (let i = Math.max(0, Math.floor(c[0] - reach)); i <= Math.min(dims[0] - 1, c[0] + reach); i++) {
          const p = i + nx * (j + ny * k)
          const v = 1.25 + peak * Math.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2) / s2)
          if (v > suv[p]) suv[p] = v
        }
      }
    }
  }
  for (let p = 0; p < suv.length; p++) if (mask[p]) suv[p] += (random() - 0.5) * 0.3
  return suv
}

const mvox = (n: number, ms: number): string => `${((n / 1e6) / (ms / 1000)).toFixed(0)} Mvoxel/s`
const row = (label: string, ms: number, extra = ''): void => console.log(`  ${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${extra}`)

function benchStrokes(name: string, mask: Uint8Array, geometry: VolumeGeometry, pet: Float32Array, centres: () => Vec3, fullMs: number): void {
  const t0 = performance.now()
  const tracker = new IncrementalLesions(mask, geometry, { pet })
  row(`${name}: build tracker (label + measure all)`, performance.now() - t0, `${tracker.lesions().length} lesions`)
  const times: number[] = []
  const random = rng(17)
  for (let s = 0; s < STROKES; s++) {
    const box = ball(mask, geometry.dims, centres(), 5, random() < 0.6 ? 1 : 0)
    const t = performance.now()
    tracker.update(box)
    times.push(performance.now() - t)
  }
  const med = median(times)
  row(`${name}: brush r=5 update, median of ${STROKES}`, med, `p95 ${percentile(times, 0.95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms; ${(fullMs / med).toFixed(0)}x faster than relabel+measure (${fullMs.toFixed(0)} ms)`)
}

async function main(): Promise<void> {
  console.log(`bench-measures (${quick ? 'quick' : 'full'}), Node ${process.version}`)

  // ---- The real FDG prediction.
  const fdg = await readImageFile(resolve(DATA, 'autopet3-fdg-labels/fdg_test_case_resunet-ensemble-pred.nii.gz'))
  const g = fdg.geometry
  const fdgMask = Uint8Array.from(fdg.voxels as Uint8Array)
  const n = fdgMask.length
  console.log(`\nReal FDG prediction ${g.dims.join(' x ')} (${(n / 1e6).toFixed(1)} M voxels, ${g.spacingMm.map((v) => v.toFixed(2)).join(' x ')} mm)`)
  for (const c of [6, 18, 26] as const) {
    const { ms, result } = time(() => labelComponents(fdgMask, g.dims, c))
    row(`label ${c}-connected`, ms, `${result.count} components, ${mvox(n, ms)}`)
  }
  const suv = syntheticSuv(fdgMask, g.dims)
  const labelled = labelComponents(fdgMask, g.dims, 18)
  const measureFdg = time(() => measureLesions(labelled, g, suv))
  row('measure all lesions (MTV, SUVmax/mean/peak, TLG)', measureFdg.ms, `${measureFdg.result.lesions.length} lesions`)
  const fullFdg = time(() => measureLesions(labelComponents(fdgMask, g.dims, 18), g, suv))
  row('label + measure', fullFdg.ms)
  const empty = new Uint8Array(n)
  const ap = time(() => autopetCaseMetrics(fdgMask, fdgMask, g.dims, g.spacingMm))
  row('autoPET metrics (pred = ref)', ap.ms)
  row('autoPET metrics (empty ref)', time(() => autopetCaseMetrics(fdgMask, empty, g.dims, g.spacingMm)).ms)
  const lesions = measureFdg.result.lesions
  const random = rng(3)
  benchStrokes('FDG', fdgMask, g, suv, () => {
    // Mostly on lesions (their SUVmax voxel), sometimes anywhere.
    if (random() < 0.25) return [random() * g.dims[0], random() * g.dims[1], random() * g.dims[2]]
    return lesions[Math.floor(random() * lesions.length)].suvMaxVoxel
  }, fullFdg.ms)

  // ---- Synthetic 400 x 400 x 500 with many lesions.
  const dims: Vec3 = [400, 400, 500]
  const sg: VolumeGeometry = { dims, spacingMm: [2, 2, 2], originLps: [0, 0, 0], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
  const sn = dims[0] * dims[1] * dims[2]
  const synthetic = new Uint8Array(sn)
  const r2 = rng(1)
  const lesionCount = 3000
  const centres: Vec3[] = []
  const balls: { c: Vec3; r: number; peak: number }[] = []
  for (let t = 0; t < lesionCount; t++) {
    const c: Vec3 = [r2() * dims[0], r2() * dims[1], r2() * dims[2]]
    const r = 1 + r2() * 9
    centres.push(c)
    balls.push({ c, r, peak: 3 + r2() * 12 })
    ball(synthetic, dims, c, r, 1)
  }
  let fg = 0
  for (let p = 0; p < sn; p++) fg += synthetic[p]
  console.log(`\nSynthetic ${dims.join(' x ')} (${(sn / 1e6).toFixed(0)} M voxels), ${lesionCount} balls of radius 1-10 voxels, ${(fg / 1e6).toFixed(2)} M lesion voxels`)
  for (const c of [6, 18, 26] as const) {
    const { ms, result } = time(() => labelComponents(synthetic, dims, c), 3)
    row(`label ${c}-connected`, ms, `${result.count} components, ${mvox(sn, ms)}`)
  }
  const ssuv = peakedSuv(synthetic, dims, balls)
  const slabels = labelComponents(synthetic, dims, 18)
  const smeasure = time(() => measureLesions(slabels, sg, ssuv), 3)
  row('measure all lesions', smeasure.ms, `${smeasure.result.lesions.length} lesions, ${(fg / (smeasure.ms / 1000) / 1e6).toFixed(1)} M lesion voxels/s`)
  const noisy = syntheticSuv(synthetic, dims, true)
  const snoise = time(() => measureLesions(slabels, sg, noisy), 1)
  row('measure all lesions, white-noise uptake (worst case)', snoise.ms, `${(fg / (snoise.ms / 1000) / 1e6).toFixed(1)} M lesion voxels/s`)
  const sfull = time(() => measureLesions(labelComponents(synthetic, dims, 18), sg, ssuv), 3)
  row('label + measure', sfull.ms)
  // One big lesion (radius 40 voxels ≈ 0.27 M voxels) to show the worst case of a stroke on it.
  ball(synthetic, dims, [200, 200, 250], 40, 1)
  balls.push({ c: [215, 190, 255], r: 40, peak: 14 })
  const big = peakedSuv(synthetic, dims, balls)
  const r3 = rng(9)
  benchStrokes('synthetic', synthetic, sg, big, () => (r3() < 0.1 ? [200 + 38, 200, 250] : centres[Math.floor(r3() * centres.length)]), sfull.ms)
  const bigTracker = new IncrementalLesions(synthetic, sg, { pet: big })
  const bigTimes: number[] = []
  for (let s = 0; s < 10; s++) {
    const box = ball(synthetic, dims, [200 + 40, 200, 250 + s], 5, s % 2 ? 0 : 1)
    const t = performance.now()
    bigTracker.update(box)
    bigTimes.push(performance.now() - t)
  }
  row('synthetic: stroke on the 0.27 M-voxel lesion', median(bigTimes), `max ${Math.max(...bigTimes).toFixed(1)} ms (relabels and re-measures the whole lesion)`)
}

await main()
