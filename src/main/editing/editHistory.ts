import { applyDiff, diffByteSize, invertDiff, type VoxelDiff } from './voxelDiff'

interface Entry {
  diff: VoxelDiff
  label: string
  bytes: number
}

/** 256 MiB: a few thousand large strokes on a 400x400x500 mask. */
export const DEFAULT_UNDO_BUDGET_BYTES = 256 * 1024 * 1024

/**
 * Undo and redo over voxel diffs, any tool kind mixed. Memory is bounded by `budgetBytes` (undo and
 * redo entries together): when a push goes over it, the OLDEST undo entries are forgotten. The newest
 * entry is always kept, even alone over budget, so the last operation can always be undone.
 */
export class EditHistory {
  // Undo entries oldest first; `head` skips forgotten ones so dropping the oldest is O(1).
  private undoStack: Entry[] = []
  private head = 0
  private redoStack: Entry[] = []
  private used = 0

  constructor(readonly budgetBytes: number = DEFAULT_UNDO_BUDGET_BYTES) {
    if (!(budgetBytes > 0)) throw new RangeError(`undo budget must be positive, got ${budgetBytes}`)
  }

  /** Record an operation already applied to the mask. Clears redo. */
  push(diff: VoxelDiff, label: string): void {
    for (const e of this.redoStack) this.used -= e.bytes
    this.redoStack = []
    const bytes = diffByteSize(diff) + 2 * label.length
    this.undoStack.push({ diff, label, bytes })
    this.used += bytes
    while (this.used > this.budgetBytes && this.undoStack.length - this.head > 1) {
      this.used -= this.undoStack[this.head].bytes
      this.undoStack[this.head++] = undefined as unknown as Entry // let the diff be collected
    }
    if (this.head > 1024 && this.head * 2 > this.undoStack.length) {
      this.undoStack = this.undoStack.slice(this.head)
      this.head = 0
    }
  }

  /** Revert the newest operation in `mask`; returns the diff as applied (after = restored values). */
  undo(mask: Uint8Array): VoxelDiff | null {
    const entry = this.moveUndo()
    if (!entry) return null
    applyDiff(mask, entry.diff, 'undo')
    return invertDiff(entry.diff)
  }

  /** Re-apply the newest undone operation in `mask`; returns the diff as applied. */
  redo(mask: Uint8Array): VoxelDiff | null {
    const entry = this.moveRedo()
    if (!entry) return null
    applyDiff(mask, entry.diff, 'redo')
    return entry.diff
  }

  /** Journal replay: the mask already has the undo applied; only move the entry. */
  markUndone(): boolean {
    return this.moveUndo() !== undefined
  }

  /** Journal replay: the mask already has the redo applied; only move the entry. */
  markRedone(): boolean {
    return this.moveRedo() !== undefined
  }

  get canUndo(): boolean {
    return this.undoStack.length > this.head
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0
  }

  /** Labels of what undo and redo would revert, newest last in each list. */
  get labels(): { undo: string[]; redo: string[] } {
    return {
      undo: this.undoStack.slice(this.head).map((e) => e.label),
      redo: this.redoStack.map((e) => e.label),
    }
  }

  /** Label of what undo would revert next. */
  get nextUndoLabel(): string | undefined {
    return this.canUndo ? this.undoStack[this.undoStack.length - 1].label : undefined
  }

  /** Label of what redo would re-apply next. */
  get nextRedoLabel(): string | undefined {
    return this.redoStack.at(-1)?.label
  }

  get undoDepth(): number {
    return this.undoStack.length - this.head
  }

  get redoDepth(): number {
    return this.redoStack.length
  }

  get bytesUsed(): number {
    return this.used
  }

  private moveUndo(): Entry | undefined {
    if (!this.canUndo) return undefined
    const entry = this.undoStack.pop()!
    this.redoStack.push(entry)
    return entry
  }

  private moveRedo(): Entry | undefined {
    const entry = this.redoStack.pop()
    if (entry) this.undoStack.push(entry)
    return entry
  }
}
