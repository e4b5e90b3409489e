import type { Vec3, VolumeGeometry } from '../../shared/geometry'
import { labelComponents, neighbourOffsets, regionVoxelIndices, type Connectivity, type MaskVoxels } from './connectedComponents'
import { measureLesion, patientMeasures, type LesionMeasures, type MeasureOptions, type PatientMeasures, type PeakCandidate, type SuvVoxels } from './lesionStats'
import { suvPeakKernel, type SphereKernel } from './suvPeakKernel'

/** An inclusive voxel box (i, j, k), e.g. the extent of a brush stroke. */
export interface VoxelBox {
  min: Vec3
  max: Vec3
}

export interface IncrementalOptions extends MeasureOptions {
  connectivity?: Connectivity
  /** PET in SUV on the mask's grid (without it, SUV measures are NaN). */
  pet?: SuvVoxels
}

/** Which lesion ids an update touched. Ids of lesions it did not touch never change. */
export interface LesionUpdate {
  /** New lesions (fresh ids, never used before in this tracker). */
  added: number[]
  /** Lesions that kept their id but changed (or were re-measured). */
  changed: number[]
  /** Ids that no longer exist (erased, or merged into another lesion). */
  removed: number[]
}

/**
 * Lesions of a mask that is being edited, kept current one edit at a time. After the caller changes
 * mask voxels inside a box, `update(box)` relabels only the components within one voxel of the box
 * (a new voxel can only join those) and re-measures them; everything else is left as it was.
 *
 * Ids stay stable: each new component takes the old id it shares most voxels with (largest first),
 * so a lesion keeps its id through growing, shrinking and splitting (the largest piece keeps it);
 * merged lesions keep the id of the one contributing most. Other pieces get fresh ids, never reused.
 * The labels are those of `labelComponents` up to this renumbering, and the measures bit-identical.
 */
export class IncrementalLesions {
  /** One per voxel: 0 background, else the lesion id. Read it; do not write it. */
  readonly labels: Int32Array
  private readonly measures = new Map<number, LesionMeasures>()
  private nextId: number
  private patientCache: PatientMeasures | undefined
  private readonly connectivity: Connectivity
  private readonly kernel: SphereKernel | undefined
  private readonly offsets: Vec3[]

  constructor(
    private readonly mask: MaskVoxels,
    private readonly geometry: VolumeGeometry,
    private readonly options: IncrementalOptions = {},
  ) {
    const n = geometry.dims[0] * geometry.dims[1] * geometry.dims[2]
    if (mask.length !== n || (options.pet && options.pet.length !== n)) {
      throw new RangeError(`mask (${mask.length}) and PET (${options.pet?.length ?? 'none'}) must have the grid's ${n} voxels`)
    }
    this.connectivity = options.connectivity ?? 18
    this.offsets = neighbourOffsets(this.connectivity)
    this.kernel = options.pet ? suvPeakKernel(geometry.spacingMm) : undefined
    const regions = labelComponents(mask, geometry.dims, this.connectivity)
    this.labels = regions.labels
    const { offsets, indices } = regionVoxelIndices(regions, geometry.dims)
    for (let l = 1; l <= regions.count; l++) {
      this.measures.set(l, this.measure(l, indices.subarray(offsets[l], offsets[l + 1])))
    }
    this.nextId = regions.count + 1
  }

  /** Current lesions, by id. */
  lesions(): LesionMeasures[] {
    return [...this.measures.values()].sort((a, b) => a.id - b.id)
  }

  lesion(id: number): LesionMeasures | undefined {
    return this.measures.get(id)
  }

  patient(): PatientMeasures {
    this.patientCache ??= patientMeasures(this.lesions())
    return this.patientCache
  }

  /** Bring labels and measures up to date after the mask changed inside `box` (and nowhere else). */
  update(box: VoxelBox): LesionUpdate {
    const [nx, ny, nz] = this.geometry.dims
    const slice = nx * ny
    const lo = box.min.map((v) => Math.max(0, Math.floor(v))) as Vec3
    const hi = box.max.map((v, a) => Math.min(this.geometry.dims[a] - 1, Math.ceil(v))) as Vec3
    if (lo.some((v, a) => v > hi[a])) return { added: [], changed: [], removed: [] }
    const { mask, labels } = this
    this.patientCache = undefined

    // Lesions within one voxel of the box are the only ones an edit inside it can change.
    const touched: number[] = []
    const isTouched = new Uint8Array(this.nextId)
    forEachInBox(lo.map((v) => v - 1) as Vec3, hi.map((v) => v + 1) as Vec3, this.geometry.dims, (p) => {
      const l = labels[p]
      if (l > 0 && isTouched[l] === 0) {
        isTouched[l] = 1
        touched.push(l)
      }
    })
    const touchedIndex = new Int32Array(this.nextId)
    touched.forEach((l, t) => (touchedIndex[l] = t))
    // Erased voxels (only inside the box) lose their label first.
    forEachInBox(lo, hi, this.geometry.dims, (p) => {
      if (mask[p] === 0) labels[p] = 0
    })

    // Flood-fill from every voxel that may belong to a changed component; visited voxels are marked
    // -(component + 1), and the old id each held is kept beside it.
    const flat = this.offsets.map(([di, dj, dk]) => di + nx * (dj + ny * dk))
    const steps = this.offsets
    let order: Int32Array = new Int32Array(1024)
    let oldIds: Int32Array = new Int32Array(1024)
    let size = 0
    const componentStart: number[] = []
    const overlaps: Float64Array[] = []
    const boxes: number[][] = []
    const visitable = (p: number): boolean => {
      if (mask[p] === 0) return false
      const l = labels[p]
      return l === 0 || (l > 0 && isTouched[l] === 1)
    }
    const fill = (seed: number): void => {
      const c = componentStart.length
      componentStart.push(size)
      const overlap = new Float64Array(touched.length)
      overlaps.push(overlap)
      const box = [nx, ny, nz, -1, -1, -1]
      boxes.push(box)
      const visit = (p: number): void => {
        const old = labels[p]
        if (old > 0) overlap[touchedIndex[old]]++
        labels[p] = -(c + 1)
        if (size === order.length) {
          order = grow(order)
          oldIds = grow(oldIds)
        }
        oldIds[size] = old
        order[size++] = p
      }
      visit(seed)
      for (let head = componentStart[c]; head < size; head++) {
        const p = order[head]
        const k = (p / slice) | 0
        const rest = p - k * slice
        const j = (rest / nx) | 0
        const i = rest - j * nx
        if (i < box[0]) box[0] = i
        if (j < box[1]) box[1] = j
        if (k < box[2]) box[2] = k
        if (i > box[3]) box[3] = i
        if (j > box[4]) box[4] = j
        if (k > box[5]) box[5] = k
        const interior = i > 0 && i < nx - 1 && j > 0 && j < ny - 1 && k > 0 && k < nz - 1
        for (let s = 0; s < flat.length; s++) {
          if (!interior) {
            const ii = i + steps[s][0]
            const jj = j + steps[s][1]
            const kk = k + steps[s][2]
            if (ii < 0 || ii >= nx || jj < 0 || jj >= ny || kk < 0 || kk >= nz) continue
          }
          const q = p + flat[s]
          if (visitable(q)) visit(q)
        }
      }
    }
    forEachInBox(lo, hi, this.geometry.dims, (p) => {
      if (visitable(p)) fill(p)
    })
    for (const id of touched) {
      const m = this.measures.get(id) as LesionMeasures
      forEachInBox(m.boxMinVoxel, m.boxMaxVoxel, this.geometry.dims, (p) => {
        if (labels[p] === id && mask[p] !== 0) fill(p)
      })
    }
    componentStart.push(size)

    // Old ids go to the components that share most voxels with them, largest overlaps first.
    const pairs: [number, number, number][] = []
    overlaps.forEach((overlap, c) => overlap.forEach((n, t) => n > 0 && pairs.push([n, c, touched[t]])))
    pairs.sort((a, b) => b[0] - a[0] || a[2] - b[2] || a[1] - b[1])
    const idOf = new Int32Array(overlaps.length)
    const reused = new Set<number>()
    for (const [, c, id] of pairs) {
      if (idOf[c] !== 0 || reused.has(id)) continue
      idOf[c] = id
      reused.add(id)
    }
    // Where an old lesion's SUVpeak centre is still in a component, its peak stands for all its old
    // voxels there (the PET has not changed): only the other voxels are evaluated.
    const peakComponent = new Int32Array(touched.length).fill(-1)
    if (this.kernel) {
      touched.forEach((id, t) => {
        const m = this.measures.get(id) as LesionMeasures
        const at = m.suvPeakVoxel[0] + nx * (m.suvPeakVoxel[1] + ny * m.suvPeakVoxel[2])
        if (Number.isInteger(at) && labels[at] < 0) peakComponent[t] = -labels[at] - 1
      })
    }

    const result: LesionUpdate = { added: [], changed: [], removed: [] }
    const oldMeasures = touched.map((id) => this.measures.get(id) as LesionMeasures)
    for (const id of touched) {
      if (reused.has(id)) continue
      this.measures.delete(id)
      result.removed.push(id)
    }
    for (let c = 0; c < overlaps.length; c++) {
      if (idOf[c] === 0) {
        idOf[c] = this.nextId++
        result.added.push(idOf[c])
      } else {
        result.changed.push(idOf[c])
      }
      const id = idOf[c]
      const from = componentStart[c]
      const to = componentStart[c + 1]
      const voxels = rasterOrder(order.subarray(from, to), boxes[c], nx, ny)
      for (let t = 0; t < voxels.length; t++) labels[voxels[t]] = id
      let peakFrom: { candidates: Int32Array; known: PeakCandidate } | undefined
      if (this.kernel) {
        const known: PeakCandidate = { suvPeak: -Infinity, at: -1 }
        const keeps = new Uint8Array(touched.length)
        touched.forEach((_, t) => {
          if (peakComponent[t] !== c) return
          keeps[t] = 1
          const m = oldMeasures[t]
          const at = m.suvPeakVoxel[0] + nx * (m.suvPeakVoxel[1] + ny * m.suvPeakVoxel[2])
          if (m.suvPeak > known.suvPeak || (m.suvPeak === known.suvPeak && at < known.at)) {
            known.suvPeak = m.suvPeak
            known.at = at
          }
        })
        const candidates: number[] = []
        for (let t = from; t < to; t++) {
          const old = oldIds[t]
          if (old === 0 || keeps[touchedIndex[old]] === 0) candidates.push(order[t])
        }
        peakFrom = { candidates: Int32Array.from(candidates), known }
      }
      this.measures.set(id, this.measure(id, voxels, peakFrom))
    }
    result.changed.sort((a, b) => a - b)
    result.removed.sort((a, b) => a - b)
    return result
  }

  private measure(id: number, voxels: Int32Array, peakFrom?: { candidates: Int32Array; known: PeakCandidate }): LesionMeasures {
    return measureLesion(id, voxels, this.geometry, this.options.pet, this.kernel, { sulPerSuvbw: this.options.sulPerSuvbw }, peakFrom)
  }
}

function grow(a: Int32Array): Int32Array {
  const bigger = new Int32Array(a.length * 2)
  bigger.set(a)
  return bigger
}

/**
 * The voxels of a component in raster order (so sums match a full labelling bit for bit): marked in
 * a bitmap over the component's box and read back in order, or sorted when the box is much larger.
 */
function rasterOrder(voxels: Int32Array, box: number[], nx: number, ny: number): Int32Array {
  const bx = box[3] - box[0] + 1
  const by = box[4] - box[1] + 1
  const bz = box[5] - box[2] + 1
  if (bx * by * bz > 16 * voxels.length + 4096) return Int32Array.from(voxels).sort()
  const marks = new Uint8Array(bx * by * bz)
  const slice = nx * ny
  for (let t = 0; t < voxels.length; t++) {
    const p = voxels[t]
    const k = (p / slice) | 0
    const rest = p - k * slice
    const j = (rest / nx) | 0
    marks[rest - j * nx - box[0] + bx * (j - box[1] + by * (k - box[2]))] = 1
  }
  const out = new Int32Array(voxels.length)
  let w = 0
  for (let k = 0; k < bz; k++) {
    for (let j = 0; j < by; j++) {
      const row = bx * (j + by * k)
      const base = box[0] + nx * (box[1] + j + ny * (box[2] + k))
      for (let i = 0; i < bx; i++) if (marks[row + i] === 1) out[w++] = base + i
    }
  }
  return out
}

/** Calls `visit(p)` for every voxel of an inclusive box, clamped to the grid, in raster order. */
function forEachInBox(min: Vec3, max: Vec3, dims: Vec3, visit: (p: number) => void): void {
  const [nx, ny, nz] = dims
  const i0 = Math.max(0, min[0])
  const i1 = Math.min(nx - 1, max[0])
  const j0 = Math.max(0, min[1])
  const j1 = Math.min(ny - 1, max[1])
  const k0 = Math.max(0, min[2])
  const k1 = Math.min(nz - 1, max[2])
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const row = nx * (j + ny * k)
      for (let i = i0; i <= i1; i++) visit(row + i)
    }
  }
}
