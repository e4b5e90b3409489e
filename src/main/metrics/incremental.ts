import type { Vec3, VolumeGeometry } from '../../shared/geometry'
import { labelComponents, neighbourOffsets, regionVoxelIndices, type Connectivity, type MaskVoxels } from './connectedComponents'
import { measureLesion, patientMeasures, type LesionMeasures, type MeasureOptions, type PatientMeasures, type SuvVoxels } from './lesionStats'
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
    // -(component + 1) and the old ids they held are counted per component.
    const flat = this.offsets.map(([di, dj, dk]) => di + nx * (dj + ny * dk))
    const steps = this.offsets
    let order: Int32Array = new Int32Array(1024)
    let size = 0
    const componentStart: number[] = []
    const overlaps: Float64Array[] = []
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
      const visit = (p: number): void => {
        const old = labels[p]
        if (old > 0) overlap[touchedIndex[old]]++
        labels[p] = -(c + 1)
        if (size === order.length) {
          const bigger = new Int32Array(order.length * 2)
          bigger.set(order)
          order = bigger
        }
        order[size++] = p
      }
      visit(seed)
      for (let head = componentStart[c]; head < size; head++) {
        const p = order[head]
        const k = (p / slice) | 0
        const rest = p - k * slice
        const j = (rest / nx) | 0
        const i = rest - j * nx
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
    const result: LesionUpdate = { added: [], changed: [], removed: [] }
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
      const voxels = order.subarray(componentStart[c], componentStart[c + 1])
      voxels.sort()
      for (let t = 0; t < voxels.length; t++) labels[voxels[t]] = id
      this.measures.set(id, this.measure(id, voxels))
    }
    result.changed.sort((a, b) => a - b)
    result.removed.sort((a, b) => a - b)
    return result
  }

  private measure(id: number, voxels: Int32Array): LesionMeasures {
    return measureLesion(id, voxels, this.geometry, this.options.pet, this.kernel, { sulPerSuvbw: this.options.sulPerSuvbw })
  }
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
