import { createHash } from 'node:crypto'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { worldToIndex, type Vec3, type VolumeGeometry } from '../../shared/geometry'
import type { Connectivity } from '../metrics/connectedComponents'
import { IncrementalLesions, type LesionUpdate, type VoxelBox } from '../metrics/incremental'
import type { LesionMeasures, PatientMeasures } from '../metrics/lesionStats'
import { appDataDir } from '../store/appDataDir'
import { listMaskVersions } from './maskVersions'
import {
  brushCircle, brushSphere, circleThroughSlices, componentAt, growLesion, inPlaneAxes, rectangleThroughSlices, thresholdGate,
  type Axis, type GrowLimit, type GrowResult, type GrowRule, unionVoxels, splitLesion,
} from './operations'
import type { VoxelDiff } from './voxelDiff'
import { JOURNAL_FILE, WorkingMask } from './workingMask'

/**
 * The main-process editing service for one study, independent of any transport: a crash-safe working
 * mask (journal + saved versions, `WorkingMask`) on the PET grid, the pure edit operations
 * (`./operations`) addressed in LPS world mm, and the lesion measures (`IncrementalLesions`) kept in
 * step with every change, undo and redo included. Operations run one at a time, in call order.
 */

export interface StudyEditorOptions {
  /** Root of the app's data (default `appDataDir()`). */
  dataDir?: string
  /** Lesion connectivity for measures and click-to-delete (default 18). */
  connectivity?: Connectivity
  /** SUL / SUVbw ratio, for SULpeak in the measures. */
  sulPerSuvbw?: number
  /** Undo memory budget in bytes (EditHistory's default when absent). */
  undoBudgetBytes?: number
}

export interface StudyPet {
  geometry: VolumeGeometry
  /** SUVbw on `geometry`; the mask shares this grid. */
  voxels: Float32Array
}

/** What one operation (or undo / redo) did, for a renderer to patch its mask copy and the measures panel. */
export interface EditResult {
  /** Changed voxels as [start, length, ...] runs of flat indices (i + nx * (j + ny * k)). */
  runs: Int32Array
  /** The values now held by the run voxels, runs concatenated. */
  after: Uint8Array
  /** Inclusive voxel box of the change. */
  box: VoxelBox
  changedLesions: LesionUpdate
  /** Label of what undo / redo would do next (undefined: nothing). */
  undoLabel: string | undefined
  redoLabel: string | undefined
}

export interface BrushOptions {
  shape: 'sphere' | 'circle'
  /** The view plane of a circle brush, by its normal voxel axis (default 2, axial on LPS grids). */
  planeNormalAxis?: Axis
  erase?: boolean
  /** Only voxels with SUV >= this are painted (or erased). */
  suvAbove?: number
  /** Value painted (default 1). */
  label?: number
}

/** Which slices a scissors shape cuts through, along its normal axis. */
export type SliceRange =
  /** Only the slice of the shape (default). */
  | 'slice'
  /** Every slice of the volume. */
  | 'all'
  /** From the slice through one LPS point to the slice through another (inclusive). */
  | { fromLps: Vec3; toLps: Vec3 }

export type ScissorsShape =
  | { shape: 'rectangle'; cornerALps: Vec3; cornerBLps: Vec3 }
  | { shape: 'circle'; centreLps: Vec3; radiusMm: number }

export type ScissorsOptions = ScissorsShape & {
  /** Normal voxel axis of the drawing plane (default 2). */
  planeNormalAxis?: Axis
  slices?: SliceRange
  /** 'erase' (default: scissors cut) or 'fill'. */
  mode?: 'erase' | 'fill'
  suvAbove?: number
  label?: number
}

/** `<dataDir>/studies/<first 24 hex of sha256(studyKey)>/working`: where a study's working mask lives. */
export function studyWorkingDir(studyKey: string, dataDir: string = appDataDir()): string {
  const id = createHash('sha256').update(studyKey, 'utf8').digest('hex').slice(0, 24)
  return join(dataDir, 'studies', id, 'working')
}

export class StudyEditor {
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    readonly studyKey: string,
    readonly dir: string,
    readonly geometry: VolumeGeometry,
    private readonly pet: Float32Array,
    private readonly working: WorkingMask,
    private readonly tracker: IncrementalLesions,
    private readonly connectivity: Connectivity,
    /** True when an existing working mask was restored instead of starting from the base. */
    readonly recovered: boolean,
    /** Journal records replayed at open, and bytes of a torn (in-progress) last record dropped. */
    readonly replay: { applied: number; tornTailBytes: number },
  ) {}

  /**
   * Open the study's working mask: restored from its folder when one exists (last saved version plus
   * the journal; at most the operation in flight at a crash is lost), else a copy of `base`. `base`
   * is never modified.
   */
  static async open(studyKey: string, pet: StudyPet, base: Uint8Array, options: StudyEditorOptions = {}): Promise<StudyEditor> {
    const geometry = pet.geometry
    const dims = [...geometry.dims] as Vec3
    const n = dims[0] * dims[1] * dims[2]
    if (pet.voxels.length !== n) throw new RangeError(`PET has ${pet.voxels.length} voxels; its grid ${dims.join('x')} has ${n}`)
    if (base.length !== n) throw new RangeError(`base mask has ${base.length} voxels; the PET grid ${dims.join('x')} has ${n}`)
    const dir = studyWorkingDir(studyKey, options.dataDir)
    const existed = await hasWorkingState(dir)
    await mkdir(dir, { recursive: true })
    // WorkingMask copies the base (`base.slice()`) before replaying onto it.
    const working = await WorkingMask.open(dir, base, dims, { undoBudgetBytes: options.undoBudgetBytes })
    const connectivity = options.connectivity ?? 18
    const tracker = new IncrementalLesions(working.mask, geometry, { pet: pet.voxels, connectivity, sulPerSuvbw: options.sulPerSuvbw })
    return new StudyEditor(studyKey, dir, geometry, pet.voxels, working, tracker, connectivity, existed, working.recovered)
  }

  /** The current mask on the PET grid. Read it; change it only through the operations. */
  get mask(): Uint8Array {
    return this.working.mask
  }

  get dims(): Vec3 {
    return this.geometry.dims
  }

  /** Continuous voxel index of an LPS point on the PET grid. */
  toIndex(pointLps: Vec3): Vec3 {
    return worldToIndex(this.geometry, pointLps)
  }

  // ---- Operations --------------------------------------------------------------------------------

  /** One brush dab (a sphere, or a circle on a view plane) at an LPS point. */
  brush(centreLps: Vec3, radiusMm: number, options: BrushOptions): Promise<EditResult | null> {
    return this.brushStroke([centreLps], radiusMm, options)
  }

  /** A whole stroke (dabs along the pointer's path) as ONE operation: one journal record, one undo. */
  brushStroke(centresLps: Vec3[], radiusMm: number, options: BrushOptions): Promise<EditResult | null> {
    if (!(radiusMm > 0)) throw new RangeError(`brush radius must be positive, got ${radiusMm}`)
    if (centresLps.length === 0) throw new RangeError('a brush stroke needs at least one point')
    const label = paintValue(options.label)
    return this.edit(`${options.erase ? 'Erase' : 'Brush'} ${options.shape} ${radiusMm} mm`, () => {
      let voxels = this.brushVoxels(centresLps[0], radiusMm, options)
      for (let n = 1; n < centresLps.length; n++) voxels = unionVoxels(voxels, this.brushVoxels(centresLps[n], radiusMm, options))
      return { voxels, value: options.erase ? 0 : label }
    })
  }

  /** The voxels one dab covers (SUV gate applied), NOT applied: for the live stroke preview. */
  brushVoxels(centreLps: Vec3, radiusMm: number, options: BrushOptions): Int32Array {
    const centre = this.toIndex(centreLps)
    const { dims, spacingMm } = this.geometry
    const voxels = options.shape === 'sphere'
      ? brushSphere(dims, spacingMm, centre, radiusMm)
      : brushCircle(dims, spacingMm, centre, radiusMm, options.planeNormalAxis ?? 2)
    return options.suvAbove !== undefined ? thresholdGate(this.pet, voxels, options.suvAbove) : voxels
  }

  /** Region growing from a click, NOT applied: the voxels and threshold for a live preview. Null outside the grid. */
  growPreview(pointLps: Vec3, rule: GrowRule, limit: GrowLimit = {}): GrowResult | null {
    const seed = this.seedOf(pointLps)
    if (!seed) return null
    return growLesion(this.pet, this.geometry.dims, seed, rule, limit, this.connectivity, this.geometry.spacingMm)
  }

  /** Region growing from a click, applied (value `label`, default 1). The same region `growPreview` shows. */
  growAccept(pointLps: Vec3, rule: GrowRule, options: { label?: number; limit?: GrowLimit } = {}): Promise<EditResult | null> {
    const label = paintValue(options.label)
    const what = rule.kind === 'percentOfMax' ? `${rule.percent} % of max` : `SUV ${rule.suv}`
    return this.edit(`Grow ${what}`, () => {
      const r = this.growPreview(pointLps, rule, options.limit)
      return { voxels: r ? r.voxels : new Int32Array(0), value: label }
    })
  }

  /** Click-to-delete: erase the connected lesion (measure connectivity, default 18) under the point. */
  deleteLesionAt(pointLps: Vec3): Promise<EditResult | null> {
    return this.edit('Delete lesion', () => {
      const seed = this.seedOf(pointLps)
      if (!seed) return { voxels: new Int32Array(0), value: 0 }
      return { voxels: componentAt(this.working.mask, this.geometry.dims, seed, this.connectivity), value: 0 }
    })
  }

  /**
   * Split the lesion under A in two, each voxel going to the nearer of A and B along paths inside the
   * lesion (geodesic); on a binary mask the voxels of B's part that touch A's part are erased.
   */
  splitAt(pointALps: Vec3, pointBLps: Vec3): Promise<EditResult | null> {
    return this.edit('Split lesion', () => {
      const a = this.seedOf(pointALps)
      const b = this.seedOf(pointBLps)
      if (!a || !b) return { voxels: new Int32Array(0), value: 0 }
      const component = componentAt(this.working.mask, this.geometry.dims, a, this.connectivity)
      const parts = splitLesion(this.geometry.dims, component, { kind: 'seeds', seeds: [a, b], metric: 'geodesic' }, this.geometry.spacingMm, this.connectivity)
      return { voxels: parts.boundary, value: 0 }
    })
  }

  /** Join the lesions under A and B: a one-voxel-wide bridge painted along the straight line between them. */
  mergeAt(pointALps: Vec3, pointBLps: Vec3, label?: number): Promise<EditResult | null> {
    const value = paintValue(label)
    return this.edit('Merge lesions', () => {
      const { dims, spacingMm } = this.geometry
      const a = this.toIndex(pointALps)
      const b = this.toIndex(pointBLps)
      const lengthMm = Math.hypot(...[0, 1, 2].map((k) => (b[k] - a[k]) * spacingMm[k]))
      const radiusMm = Math.max(...spacingMm) * 0.75
      const steps = Math.max(1, Math.ceil(lengthMm / (radiusMm / 2)))
      let voxels: Int32Array = new Int32Array(0)
      for (let n = 0; n <= steps; n++) {
        const t = n / steps
        const p: Vec3 = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])]
        voxels = unionVoxels(voxels, brushSphere(dims, spacingMm, p, radiusMm))
      }
      return { voxels, value }
    })
  }

  /** A rectangle or circle drawn on a plane, cut (erased, default) or filled through a range of slices. */
  scissors(options: ScissorsOptions): Promise<EditResult | null> {
    const normal = options.planeNormalAxis ?? 2
    const mode = options.mode ?? 'erase'
    const value = mode === 'erase' ? 0 : paintValue(options.label)
    if (options.shape === 'circle' && !(options.radiusMm > 0)) throw new RangeError(`scissors radius must be positive, got ${options.radiusMm}`)
    return this.edit(`Scissors ${options.shape} ${mode}`, () => {
      const { dims, spacingMm } = this.geometry
      const [u, v] = inPlaneAxes(normal)
      const anchor = this.toIndex(options.shape === 'circle' ? options.centreLps : options.cornerALps)
      const range = this.sliceRange(options.slices ?? 'slice', normal, anchor)
      let voxels: Int32Array
      if (options.shape === 'circle') {
        voxels = circleThroughSlices(dims, spacingMm, normal, [anchor[u], anchor[v]], options.radiusMm, range)
      } else {
        const b = this.toIndex(options.cornerBLps)
        voxels = rectangleThroughSlices(dims, normal, [anchor[u], anchor[v]], [b[u], b[v]], range)
      }
      if (options.suvAbove !== undefined) voxels = thresholdGate(this.pet, voxels, options.suvAbove)
      return { voxels, value }
    })
  }

  undo(): Promise<EditResult | null> {
    return this.serial(async () => this.result(await this.working.undo()))
  }

  redo(): Promise<EditResult | null> {
    return this.serial(async () => this.result(await this.working.redo()))
  }

  get canUndo(): boolean {
    return this.working.history.canUndo
  }

  get canRedo(): boolean {
    return this.working.history.canRedo
  }

  get undoLabel(): string | undefined {
    return this.working.history.nextUndoLabel
  }

  get redoLabel(): string | undefined {
    return this.working.history.nextRedoLabel
  }

  // ---- Measures and versions ---------------------------------------------------------------------

  /** Measures of the current lesions (ids stable across edits). */
  lesions(): LesionMeasures[] {
    return this.tracker.lesions()
  }

  patient(): PatientMeasures {
    return this.tracker.patient()
  }

  /** Save the current mask as a new version (never overwrites one); resolves with its number. */
  saveVersion(meta: Record<string, unknown> = {}): Promise<number> {
    return this.serial(() => this.working.save({ studyKey: this.studyKey, ...meta }))
  }

  /** Saved version numbers, oldest first. */
  async versions(): Promise<number[]> {
    return (await listMaskVersions(this.dir)).map((v) => v.version)
  }

  /** The newest saved version (0: none). */
  get version(): number {
    return this.working.version
  }

  /** Waits for queued operations, then closes the journal. The working state stays on disk. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.catch(() => {})
    await this.working.close()
  }

  // ---- Internals ---------------------------------------------------------------------------------

  /**
   * Queue an edit: `make` computes the voxels from the state when its turn comes (so it sees every
   * earlier operation), the working mask journals it, the measures follow.
   */
  private edit(label: string, make: () => { voxels: Int32Array; value: number }): Promise<EditResult | null> {
    return this.serial(async () => {
      const { voxels, value } = make()
      if (voxels.length === 0) return null
      const diff = await this.working.apply(label, (set) => {
        for (let m = 0; m < voxels.length; m++) set(voxels[m], value)
      })
      return this.result(diff)
    })
  }

  private result(diff: VoxelDiff | null): EditResult | null {
    if (!diff) return null
    const changedLesions = this.tracker.update(diff.box)
    return {
      runs: diff.runs,
      after: diff.after,
      box: diff.box,
      changedLesions,
      undoLabel: this.undoLabel,
      redoLabel: this.redoLabel,
    }
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the study editor is closed'))
    const run = this.queue.then(task)
    this.queue = run.catch(() => {})
    return run
  }

  /** Nearest voxel to an LPS point, or null when outside the grid. */
  private seedOf(pointLps: Vec3): Vec3 | null {
    const v = this.toIndex(pointLps).map(Math.round) as Vec3
    const d = this.geometry.dims
    return v.every((x, a) => x >= 0 && x < d[a]) ? v : null
  }

  private sliceRange(range: SliceRange, normal: Axis, anchor: Vec3): [number, number] {
    if (range === 'all') return [0, this.geometry.dims[normal] - 1]
    if (range === 'slice') return [anchor[normal], anchor[normal]]
    return [this.toIndex(range.fromLps)[normal], this.toIndex(range.toLps)[normal]]
  }
}

function paintValue(label: number | undefined): number {
  const v = label ?? 1
  if (!Number.isInteger(v) || v < 1 || v > 255) throw new RangeError(`label must be an integer 1..255, got ${v}`)
  return v
}

/** A journal or a saved version already in the folder. */
export async function hasWorkingState(dir: string): Promise<boolean> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw e
  }
  return names.includes(JOURNAL_FILE) || (await listMaskVersions(dir)).length > 0
}
