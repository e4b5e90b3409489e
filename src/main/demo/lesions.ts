import { indexToWorld, worldToIndex, type Vec3, type VolumeGeometry } from '../../shared/geometry'
import { PHANTOM_PARTS, TISSUES, type AnatomyPart, type PhantomTracer, type TissueKind } from './anatomy'
import { createRng, deriveSeed, type Rng } from './random'
import { labelAtPoint, type PreparedShapes } from './raster'

/**
 * Where the phantom's lesions go: a deterministic function of the seed and the PET grid.
 *
 * Each lesion is an axis-aligned ellipsoid that must (a) lie wholly in its host tissue (lymph nodes in
 * soft tissue or fat, lung nodules in lung, ...), (b) be clearly hotter than everything within a margin
 * around it, so it is visible on the blurred image and reviewers (and tests) can tell it apart, and
 * (c) keep at least LESION_GAP_VOXELS empty PET voxels from every other lesion, so that each lesion is
 * exactly one connected component of the mask.
 */

export interface PlannedLesion {
  centreLps: Vec3
  radiiMm: Vec3
  /** True activity inside the lesion (SUVbw), before partial volume and blur. */
  suv: number
  site: string
}

export type LesionRegion =
  /** Centres drawn uniformly in a box; with mirrorX, on either side of the midline at random. */
  | { kind: 'box'; minLps: Vec3; maxLps: Vec3; mirrorX?: boolean }
  /** Centres drawn in the bounding box of a randomly chosen matching anatomy part. */
  | { kind: 'parts'; include: (part: AnatomyPart) => boolean; zRangeMm?: [number, number] }

export interface LesionSite {
  site: string
  count: number
  region: LesionRegion
  /** Range of the mean radius; each axis then varies by +-20 %, within 3 to 20 mm. */
  radiusMm: [number, number]
  /** Tissues the whole lesion must lie in. */
  hosts: readonly TissueKind[]
}

export const LESION_SUV_RANGE: [number, number] = [3, 25]
/** Lesion SUV is at least this many times the hottest tissue within the margin around it. */
export const LESION_CONTRAST = 3
/** Margin (mm) around a lesion that must be cooler than the lesion; about twice the PSF FWHM. */
export const LESION_MARGIN_MM = 12
/** Empty PET voxels kept between the voxel bounding boxes of any two lesions. */
export const LESION_GAP_VOXELS = 2
const RADIUS_LIMITS_MM: [number, number] = [3, 20]
const MAX_ATTEMPTS_PER_LESION = 4000

const NODE_HOSTS: readonly TissueKind[] = ['soft', 'fat']
const box = (minLps: Vec3, maxLps: Vec3, mirrorX = false): LesionRegion => ({ kind: 'box', minLps, maxLps, mirrorX })
const axialMarrow = (p: AnatomyPart): boolean => p.tissue === 'marrow'
const skeleton = (p: AnatomyPart): boolean =>
  p.tissue === 'marrow' || p.name.startsWith('femoral') || p.name.startsWith('humerus')

const MEDIASTINUM = box([-30, -60, -360], [30, 25, -300])
const PARA_AORTIC = box([-40, -20, -650], [40, 35, -540])
const PELVIC_SIDEWALL = box([35, -40, -740], [95, 40, -640], true)
const INGUINAL = box([50, -95, -795], [130, -45, -740], true)

/** The lesion catalogue of each tracer: FDG a lymphoma/lung-cancer-like picture, PSMA metastatic prostate cancer. */
export const LESION_SITES: Record<PhantomTracer, readonly LesionSite[]> = {
  FDG: [
    { site: 'liver', count: 2, region: { kind: 'parts', include: (p) => p.tissue === 'liver' }, radiusMm: [8, 20], hosts: ['liver'] },
    { site: 'lung', count: 2, region: { kind: 'parts', include: (p) => p.tissue === 'lung' }, radiusMm: [4, 12], hosts: ['lung'] },
    { site: 'mediastinal lymph node', count: 1, region: MEDIASTINUM, radiusMm: [5, 9], hosts: NODE_HOSTS },
    { site: 'axillary lymph node', count: 1, region: box([135, -40, -335], [190, 40, -280], true), radiusMm: [5, 10], hosts: NODE_HOSTS },
    { site: 'cervical lymph node', count: 1, region: box([18, -35, -265], [50, 30, -200], true), radiusMm: [4, 8], hosts: NODE_HOSTS },
    { site: 'para-aortic lymph node', count: 1, region: PARA_AORTIC, radiusMm: [5, 10], hosts: NODE_HOSTS },
    { site: 'pelvic lymph node', count: 1, region: PELVIC_SIDEWALL, radiusMm: [5, 10], hosts: NODE_HOSTS },
    { site: 'inguinal lymph node', count: 1, region: INGUINAL, radiusMm: [5, 10], hosts: NODE_HOSTS },
    { site: 'bone', count: 2, region: { kind: 'parts', include: axialMarrow }, radiusMm: [4, 9], hosts: ['marrow', 'bone'] },
  ],
  PSMA: [
    { site: 'prostate bed', count: 1, region: box([-8, -35, -775], [8, -15, -760]), radiusMm: [5, 8], hosts: NODE_HOSTS },
    { site: 'bone', count: 15, region: { kind: 'parts', include: skeleton, zRangeMm: [-800, -180] }, radiusMm: [3, 8], hosts: ['marrow', 'bone'] },
    { site: 'pelvic lymph node', count: 6, region: PELVIC_SIDEWALL, radiusMm: [3, 7], hosts: NODE_HOSTS },
    { site: 'para-aortic lymph node', count: 3, region: PARA_AORTIC, radiusMm: [3, 7], hosts: NODE_HOSTS },
    { site: 'mediastinal lymph node', count: 2, region: MEDIASTINUM, radiusMm: [3, 6], hosts: NODE_HOSTS },
    { site: 'supraclavicular lymph node', count: 2, region: box([25, -45, -290], [75, 20, -250], true), radiusMm: [3, 6], hosts: NODE_HOSTS },
    { site: 'inguinal lymph node', count: 1, region: INGUINAL, radiusMm: [3, 7], hosts: NODE_HOSTS },
  ],
}

/** The 26 unit directions to the faces, edges and corners of a cube: where a lesion's surface is probed. */
const PROBE_DIRECTIONS: Vec3[] = (() => {
  const dirs: Vec3[] = []
  for (let a = -1; a <= 1; a++) for (let b = -1; b <= 1; b++) for (let c = -1; c <= 1; c++) {
    if (a === 0 && b === 0 && c === 0) continue
    const n = Math.hypot(a, b, c)
    dirs.push([a / n, b / n, c / n])
  }
  return dirs
})()

/** Lesions for one study. `anatomy` must be PHANTOM_PARTS' shapes, prepared in order. */
export function placeLesions(tracer: PhantomTracer, seed: number, petGrid: VolumeGeometry, anatomy: PreparedShapes): PlannedLesion[] {
  const rng = createRng(deriveSeed(seed, 1))
  const placed: PlannedLesion[] = []
  const boxes: Array<{ lo: Vec3; hi: Vec3 }> = []
  const suvByLabel = [0, ...PHANTOM_PARTS.map((p) => TISSUES[p.tissue].suv[tracer])]
  const tissueAt = (p: Vec3): TissueKind | 'air' => {
    const label = labelAtPoint(anatomy, p)
    return label === 0 ? 'air' : PHANTOM_PARTS[label - 1].tissue
  }

  for (const site of LESION_SITES[tracer]) {
    const candidates = site.region.kind === 'parts' ? partsOf(site.region, anatomy) : []
    for (let n = 0; n < site.count; n++) {
      for (let attempt = 0; attempt < MAX_ATTEMPTS_PER_LESION; attempt++) {
        const centre = snapToVoxelCentre(drawCentre(site.region, candidates, anatomy, rng), petGrid)
        const radius = logUniform(rng, site.radiusMm[0], site.radiusMm[1])
        const radii = [0, 1, 2].map(() => clamp(radius * rng.uniform(0.8, 1.2), RADIUS_LIMITS_MM)) as Vec3
        jitterInsideCentreVoxel(centre, radii, petGrid, rng)

        const bounds = voxelBounds(centre, radii, petGrid)
        if (!bounds || boxes.some((b) => !separated(b, bounds))) continue
        if (!inHosts(centre, radii, site.hosts, tissueAt)) continue
        const hottestNearby = hottestAround(centre, radii, anatomy, suvByLabel, placed)
        const suvMin = Math.max(LESION_SUV_RANGE[0], LESION_CONTRAST * hottestNearby)
        if (suvMin > LESION_SUV_RANGE[1]) continue

        placed.push({ centreLps: centre, radiiMm: radii, suv: logUniform(rng, suvMin, LESION_SUV_RANGE[1]), site: site.site })
        boxes.push(bounds)
        break
      }
    }
  }
  return placed
}

function partsOf(region: Extract<LesionRegion, { kind: 'parts' }>, anatomy: PreparedShapes): number[] {
  const out: number[] = []
  PHANTOM_PARTS.forEach((part, n) => {
    const zMid = (anatomy.minLps[3 * n + 2] + anatomy.maxLps[3 * n + 2]) / 2
    const inZ = !region.zRangeMm || (zMid >= region.zRangeMm[0] && zMid <= region.zRangeMm[1])
    if (inZ && region.include(part)) out.push(n)
  })
  if (out.length === 0) throw new Error('Lesion site matches no anatomy part')
  return out
}

function drawCentre(region: LesionRegion, candidates: number[], anatomy: PreparedShapes, rng: Rng): Vec3 {
  if (region.kind === 'box') {
    const p: Vec3 = [0, 1, 2].map((a) => rng.uniform(region.minLps[a], region.maxLps[a])) as Vec3
    if (region.mirrorX && rng.next() < 0.5) p[0] = -p[0]
    return p
  }
  const n = candidates[rng.int(candidates.length)]
  return [0, 1, 2].map((a) => rng.uniform(anatomy.minLps[3 * n + a], anatomy.maxLps[3 * n + a])) as Vec3
}

/**
 * Lesion centres sit near a PET voxel centre so that every lesion, however small, covers at least that
 * voxel centre and its mask is never empty. The grid is the phantom's own, with identity direction.
 */
function snapToVoxelCentre(p: Vec3, grid: VolumeGeometry): Vec3 {
  const ijk = worldToIndex(grid, p)
  return indexToWorld(grid, [Math.round(ijk[0]), Math.round(ijk[1]), Math.round(ijk[2])])
}

/**
 * Moves the centre off the voxel centre by a little, so lesion masks are not all perfectly symmetric,
 * while keeping the voxel centre inside the lesion (|jitter| <= half the smallest radius) and within a
 * quarter voxel (which keeps the mask 6-connected: stepping any index towards the centre voxel never
 * leaves the ellipsoid).
 */
function jitterInsideCentreVoxel(centre: Vec3, radii: Vec3, grid: VolumeGeometry, rng: Rng): void {
  const rMin = Math.min(radii[0], radii[1], radii[2])
  for (let a = 0; a < 3; a++) {
    const limit = Math.min(0.25 * grid.spacingMm[a], (0.5 * rMin) / Math.sqrt(3))
    centre[a] += rng.uniform(-limit, limit)
  }
}

/** Inclusive PET index box of the voxel centres inside the lesion; null when it leaves the grid. */
function voxelBounds(centre: Vec3, radii: Vec3, grid: VolumeGeometry): { lo: Vec3; hi: Vec3 } | null {
  const c = worldToIndex(grid, centre)
  const lo: Vec3 = [0, 0, 0]
  const hi: Vec3 = [0, 0, 0]
  for (let a = 0; a < 3; a++) {
    const r = radii[a] / grid.spacingMm[a]
    lo[a] = Math.ceil(c[a] - r)
    hi[a] = Math.floor(c[a] + r)
    if (lo[a] < 0 || hi[a] > grid.dims[a] - 1) return null
  }
  return { lo, hi }
}

/** True when at least LESION_GAP_VOXELS empty voxels separate the two boxes along some axis. */
function separated(a: { lo: Vec3; hi: Vec3 }, b: { lo: Vec3; hi: Vec3 }): boolean {
  for (let axis = 0; axis < 3; axis++) {
    if (b.lo[axis] - a.hi[axis] > LESION_GAP_VOXELS || a.lo[axis] - b.hi[axis] > LESION_GAP_VOXELS) return true
  }
  return false
}

function probe(centre: Vec3, radii: Vec3, extraMm: number, dir: Vec3): Vec3 {
  return [
    centre[0] + (radii[0] + extraMm) * dir[0],
    centre[1] + (radii[1] + extraMm) * dir[1],
    centre[2] + (radii[2] + extraMm) * dir[2],
  ]
}

function inHosts(centre: Vec3, radii: Vec3, hosts: readonly TissueKind[], tissueAt: (p: Vec3) => TissueKind | 'air'): boolean {
  const ok = (p: Vec3): boolean => (hosts as readonly string[]).includes(tissueAt(p))
  return ok(centre) && PROBE_DIRECTIONS.every((d) => ok(probe(centre, radii, 0, d)))
}

/** Highest physiological SUV on and around the lesion; Infinity when the margin touches another lesion. */
function hottestAround(centre: Vec3, radii: Vec3, anatomy: PreparedShapes, suvByLabel: number[], others: PlannedLesion[]): number {
  let hottest = suvByLabel[labelAtPoint(anatomy, centre)]
  for (const extra of [0, LESION_MARGIN_MM / 2, LESION_MARGIN_MM]) {
    for (const d of PROBE_DIRECTIONS) {
      const p = probe(centre, radii, extra, d)
      if (others.some((o) => insideEllipsoid(p, o.centreLps, o.radiiMm))) return Infinity
      hottest = Math.max(hottest, suvByLabel[labelAtPoint(anatomy, p)])
    }
  }
  return hottest
}

function insideEllipsoid(p: Vec3, c: Vec3, r: Vec3): boolean {
  const x = (p[0] - c[0]) / r[0]
  const y = (p[1] - c[1]) / r[1]
  const z = (p[2] - c[2]) / r[2]
  return x * x + y * y + z * z <= 1
}

function clamp(v: number, [lo, hi]: [number, number]): number {
  return Math.min(hi, Math.max(lo, v))
}

function logUniform(rng: Rng, min: number, max: number): number {
  return min * Math.exp(rng.next() * Math.log(max / min))
}
