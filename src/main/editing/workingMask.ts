import { join } from 'node:path'
import type { Vec3 } from '../../shared/geometry'
import { InputError } from '../io/InputError'
import { EditHistory } from './editHistory'
import { EditJournal, maskChecksum } from './journal'
import { listMaskVersions, loadMaskVersion, readMaskVersionHeader, saveMaskVersion } from './maskVersions'
import { invertDiff, recordEdit, type VoxelDiff, type VoxelSetter } from './voxelDiff'

export const JOURNAL_FILE = 'working.journal'

export interface WorkingMaskOptions {
  /** Undo memory budget in bytes (EditHistory default when absent). */
  undoBudgetBytes?: number
}

/**
 * The mask a reader is correcting, in one folder: saved versions (`v0001.mask`, ...) and the journal of
 * edits since the newest. Every operation changes the mask, is journaled (fsynced) and enters undo
 * history; operations run one at a time in call order. Reopening after a crash gives the state of the
 * last operation whose promise resolved.
 */
export class WorkingMask {
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly dir: string,
    readonly dims: Vec3,
    /** Current voxels. Read it; change it only through `apply`. */
    readonly mask: Uint8Array,
    readonly history: EditHistory,
    private readonly journal: EditJournal,
    private savedVersion: number,
    /** What opening recovered from the journal. */
    readonly recovered: { applied: number; tornTailBytes: number },
  ) {}

  /**
   * Open the working mask in `dir`: the newest saved version (or `base` when none), plus the journaled
   * edits since. If a crash fell between saving a version and restarting the journal, the journal still
   * names the older base; that base is found among the versions and replayed, which yields the saved state.
   */
  static async open(dir: string, base: Uint8Array, dims: Vec3, options: WorkingMaskOptions = {}): Promise<WorkingMask> {
    const n = dims[0] * dims[1] * dims[2]
    if (base.length !== n) throw new RangeError(`base mask has ${base.length} voxels; the grid ${dims.join('x')} has ${n}`)
    const journalPath = join(dir, JOURNAL_FILE)
    const versions = await listMaskVersions(dir)
    const latest = versions.at(-1)?.version ?? 0
    const header = await EditJournal.readHeader(journalPath)

    let start = latest
    if (header && latest > 0) {
      const wanted = header.baseChecksum >>> 0
      const older = [...versions].reverse()
      let found = -1
      for (const v of older) {
        if ((await readMaskVersionHeader(dir, v.version)).checksum >>> 0 === wanted) {
          found = v.version
          break
        }
      }
      if (found < 0 && maskChecksum(base) === wanted) found = 0
      if (found >= 0) start = found
    }
    let mask: Uint8Array
    if (start > 0) {
      const loaded = await loadMaskVersion(dir, start)
      const d = loaded.header.dims
      if (d[0] !== dims[0] || d[1] !== dims[1] || d[2] !== dims[2]) {
        throw new InputError(join(dir, `v${String(start).padStart(4, '0')}.mask`), `saved mask grid ${d.join('x')} differs from the study's ${dims.join('x')}`)
      }
      mask = loaded.mask
    } else {
      mask = base.slice()
    }
    const journal = await EditJournal.open(journalPath, { dims, baseChecksum: maskChecksum(mask) })
    const history = new EditHistory(options.undoBudgetBytes)
    const recovered = journal.replay(mask, (record) => {
      if (record.op === 'apply') history.push(record.diff, record.label)
      else if (record.op === 'undo') history.markUndone()
      else history.markRedone()
    })
    return new WorkingMask(dir, dims, mask, history, journal, latest, recovered)
  }

  /**
   * Run one operation (a stroke, a fill, a model re-run...) that writes voxels through `set`. Resolves
   * with what changed (null when nothing did) once it is on disk.
   */
  apply(label: string, edit: (set: VoxelSetter) => void): Promise<VoxelDiff | null> {
    return this.serial(async () => {
      const diff = recordEdit(this.mask, this.dims, edit)
      if (!diff) return null
      this.history.push(diff, label)
      await this.journal.append({ op: 'apply', label, diff })
      return diff
    })
  }

  /** Revert the newest operation; resolves with the diff as applied (for measure updates), or null. */
  undo(): Promise<VoxelDiff | null> {
    return this.serial(async () => {
      const label = this.history.nextUndoLabel
      const applied = this.history.undo(this.mask)
      if (!applied) return null
      await this.journal.append({ op: 'undo', label: label!, diff: invertDiff(applied) })
      return applied
    })
  }

  /** Re-apply the newest undone operation; resolves with the diff as applied, or null. */
  redo(): Promise<VoxelDiff | null> {
    return this.serial(async () => {
      const label = this.history.nextRedoLabel
      const applied = this.history.redo(this.mask)
      if (!applied) return null
      await this.journal.append({ op: 'redo', label: label!, diff: applied })
      return applied
    })
  }

  /** Save the current voxels as a new version and restart the journal from it. Undo history is kept. */
  save(meta: Record<string, unknown> = {}): Promise<number> {
    return this.serial(async () => {
      await this.journal.flush()
      const { version } = await saveMaskVersion(this.dir, this.mask, this.dims, meta)
      await this.journal.checkpoint(this.mask)
      this.savedVersion = version
      return version
    })
  }

  /** The newest saved version (0: none yet, the mask started from the base). */
  get version(): number {
    return this.savedVersion
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {})
    await this.journal.close()
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task)
    this.queue = run.catch(() => {})
    return run
  }
}
