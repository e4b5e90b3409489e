import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { crc32 } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import type { Vec3 } from '../../src/shared/geometry'
import { InputError } from '../../src/main/io/InputError'
import { EditHistory } from '../../src/main/editing/editHistory'
import { EditJournal, maskChecksum } from '../../src/main/editing/journal'
import { listMaskVersions, loadMaskVersion, saveMaskVersion } from '../../src/main/editing/maskVersions'
import { applyDiff, diffByteSize, diffFromChange, recordEdit, type VoxelDiff, type VoxelSetter } from '../../src/main/editing/voxelDiff'
import { JOURNAL_FILE, WorkingMask } from '../../src/main/editing/workingMask'
import { uniformRandom as rng } from '../../src/main/imaging/seededRandom'

const root = mkdtempSync(join(tmpdir(), 'lesionlab-editing-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirCount = 0
const freshDir = (): string => join(root, `d${++dirCount}`)

const bytes = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
const same = (a: Uint8Array, b: Uint8Array): boolean => bytes(a).equals(bytes(b))


/** A brush stroke: a voxel sphere set to `value` (0 erases), clipped to the grid. */
function sphere(dims: Vec3, c: Vec3, r: number, value: number): (set: VoxelSetter) => void {
  return (set) => {
    const [nx, ny, nz] = dims
    for (let k = Math.max(0, Math.ceil(c[2] - r)); k <= Math.min(nz - 1, Math.floor(c[2] + r)); k++)
      for (let j = Math.max(0, Math.ceil(c[1] - r)); j <= Math.min(ny - 1, Math.floor(c[1] + r)); j++)
        for (let i = Math.max(0, Math.ceil(c[0] - r)); i <= Math.min(nx - 1, Math.floor(c[0] + r)); i++) {
          if ((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= r * r) set(i + nx * (j + ny * k), value)
        }
  }
}

function randomStroke(dims: Vec3, rand: () => number): { label: string; edit: (set: VoxelSetter) => void } {
  const c: Vec3 = [rand() * dims[0], rand() * dims[1], rand() * dims[2]]
  const r = 2 + rand() * 6
  const erase = rand() < 0.3
  return { label: erase ? 'erase' : 'brush', edit: sphere(dims, c, r, erase ? 0 : 1 + Math.floor(rand() * 3)) }
}

describe('voxel diffs', () => {
  const dims: Vec3 = [32, 24, 16]
  const n = dims[0] * dims[1] * dims[2]

  it('undo/redo of random edits restores the bytes exactly; no-op writes are dropped', () => {
    const rand = rng(1)
    const mask = new Uint8Array(n).map(() => (rand() < 0.2 ? 1 : 0))
    const start = mask.slice()
    const diffs: VoxelDiff[] = []
    for (let e = 0; e < 60; e++) {
      const diff = recordEdit(mask, dims, (set) => {
        const count = 1 + Math.floor(rand() * 400)
        for (let w = 0; w < count; w++) set(Math.floor(rand() * n), Math.floor(rand() * 3))
      })
      if (diff) diffs.push(diff)
    }
    const end = mask.slice()
    for (const d of diffs) {
      for (let r = 2; r < d.runs.length; r += 2) expect(d.runs[r]).toBeGreaterThan(d.runs[r - 2] + d.runs[r - 1])
      for (let v = 0; v < d.after.length; v++) if (d.after[v] === d.before[v]) throw new Error('no-op voxel kept in diff')
    }
    for (let d = diffs.length - 1; d >= 0; d--) applyDiff(mask, diffs[d], 'undo')
    expect(same(mask, start)).toBe(true)
    for (const d of diffs) applyDiff(mask, d, 'redo')
    expect(same(mask, end)).toBe(true)

    // Writing the values already there is no change at all.
    expect(recordEdit(mask, dims, (set) => { for (let i = 0; i < n; i += 7) set(i, mask[i]) })).toBeNull()
    // Write then restore: no change either.
    expect(recordEdit(mask, dims, (set) => { const v = mask[5]; set(5, v + 1); set(5, v) })).toBeNull()
  })

  it('reports the exact box of a stroke and agrees with diffFromChange', () => {
    const mask = new Uint8Array(n)
    const before = mask.slice()
    const diff = recordEdit(mask, dims, sphere(dims, [10, 12, 8], 3, 2))!
    expect(diff.box).toEqual({ min: [7, 9, 5], max: [13, 15, 11] })
    const scanned = diffFromChange(before, mask, dims)!
    const fromCandidates = diffFromChange(before, mask, dims, [...Array.from({ length: 500 }, (_, i) => i * 3), 10 + 32 * (12 + 24 * 8)])!
    expect(bytes(new Uint8Array(scanned.runs.buffer)).equals(bytes(new Uint8Array(diff.runs.buffer)))).toBe(true)
    expect(same(scanned.after, diff.after) && same(scanned.before, diff.before)).toBe(true)
    expect(fromCandidates.after.length).toBeLessThan(diff.after.length)
    // A run wrapping onto the next row spans the full i range of the box.
    const wrap = recordEdit(mask, dims, (set) => { set(31 + 32 * 3, 5); set(32 * 4, 5) })!
    expect(wrap.runs.length).toBe(2)
    expect(wrap.box).toEqual({ min: [0, 3, 0], max: [31, 4, 0] })
  })
})

describe('edit journal', () => {
  const dims: Vec3 = [128, 128, 96]
  const n = dims[0] * dims[1] * dims[2]
  const base = new Uint8Array(n)
  sphere(dims, [64, 64, 48], 20, 1)((i, v) => { base[i] = v })
  const baseChecksum = maskChecksum(base)

  const strokes = 1000
  const dir = freshDir()
  const path = join(dir, JOURNAL_FILE)
  let finalMask: Uint8Array
  let beforeLast: Uint8Array
  const recordEnds: number[] = []

  it(`replays ${strokes} strokes to exactly the in-memory state (timings)`, async () => {
    const journal = await EditJournal.open(path, { dims, baseChecksum })
    const mask = base.slice()
    const history = new EditHistory()
    const rand = rng(7)
    let appendMs = 0
    let appended = 0
    while (appended < strokes) {
      const last = appended === strokes - 1
      if (last) beforeLast = mask.slice()
      const op = rand()
      if (op < 0.08 && history.canUndo && !last) {
        const label = history.nextUndoLabel!
        const d = history.undo(mask)!
        const t = performance.now()
        await journal.append({ op: 'undo', label, diff: { ...d, before: d.after, after: d.before } })
        appendMs += performance.now() - t
      } else if (op < 0.12 && history.canRedo && !last) {
        const label = history.nextRedoLabel!
        const d = history.redo(mask)!
        const t = performance.now()
        await journal.append({ op: 'redo', label, diff: d })
        appendMs += performance.now() - t
      } else {
        const { label, edit } = randomStroke(dims, rand)
        const d = recordEdit(mask, dims, edit)
        if (!d) continue
        history.push(d, label)
        const t = performance.now()
        await journal.append({ op: 'apply', label, diff: d })
        appendMs += performance.now() - t
      }
      appended++
      recordEnds.push(journal.byteLength)
    }
    await journal.close()
    finalMask = mask.slice()
    console.log(`journal: ${appended} records, ${(statSync(path).size / 1e6).toFixed(2)} MB; append+fsync ${(appendMs / appended).toFixed(2)} ms/stroke`)

    const reopened = await EditJournal.open(path, { dims, baseChecksum })
    const replayed = base.slice()
    const t = performance.now()
    const result = reopened.replay(replayed)
    const replayMs = performance.now() - t
    await reopened.close()
    console.log(`journal: replay of ${result.applied} records ${replayMs.toFixed(1)} ms`)
    expect(result).toEqual({ applied: appended, tornTailBytes: 0 })
    expect(same(replayed, finalMask)).toBe(true)
    expect(same(replayed, base)).toBe(false)
  })

  it('ignores and truncates a torn last record at any cut point, and garbage after the last record', async () => {
    const rand = rng(3)
    const lastStart = recordEnds.at(-2)!
    const lastEnd = recordEnds.at(-1)!
    const cuts = [lastStart + 1, lastStart + 4, lastStart + 8, lastStart + 9, lastEnd - 1, ...Array.from({ length: 4 }, () => lastStart + 1 + Math.floor(rand() * (lastEnd - lastStart - 1)))]
    for (const cut of cuts) {
      const copy = join(root, `torn-${cut}.journal`)
      copyFileSync(path, copy)
      truncateSync(copy, cut)
      const j = await EditJournal.open(copy, { dims, baseChecksum })
      const m = base.slice()
      const r = j.replay(m)
      await j.close()
      expect(r.tornTailBytes).toBe(cut - lastStart)
      expect(r.applied).toBe(recordEnds.length - 1)
      expect(same(m, beforeLast)).toBe(true)
      expect(statSync(copy).size).toBe(lastStart)
    }
    for (const garbage of [Buffer.alloc(37), Buffer.from(Array.from({ length: 5000 }, () => Math.floor(rand() * 256)))]) {
      const copy = join(root, `garbage-${garbage.length}.journal`)
      copyFileSync(path, copy)
      appendFileSync(copy, garbage)
      const j = await EditJournal.open(copy, { dims, baseChecksum })
      const m = base.slice()
      const r = j.replay(m)
      // Appending after recovery continues a clean journal.
      await j.append({ op: 'apply', label: 'brush', diff: recordEdit(m, dims, sphere(dims, [5, 5, 5], 2, 4))! })
      await j.close()
      expect(r.tornTailBytes).toBe(garbage.length)
      const again = await EditJournal.open(copy, { dims, baseChecksum })
      const m2 = base.slice()
      expect(again.replay(m2)).toEqual({ applied: recordEnds.length + 1, tornTailBytes: 0 })
      await again.close()
      expect(same(m2, m)).toBe(true)
    }
  })

  it('refuses a journal corrupt before its last record, or belonging to another base', async () => {
    const copy = join(root, 'corrupt.journal')
    const file = readFileSync(path)
    file[recordEnds[10] + 20] ^= 0xff // inside record 12's payload
    writeFileSync(copy, file)
    await expect(EditJournal.open(copy, { dims, baseChecksum })).rejects.toThrow(InputError)
    await expect(EditJournal.open(copy, { dims, baseChecksum })).rejects.toThrow(/corrupt: record 12/)

    const lengthHit = readFileSync(path)
    lengthHit.writeUInt32LE(0x7fffffff, recordEnds[500]) // a record's length field points past the end
    writeFileSync(copy, lengthHit)
    await expect(EditJournal.open(copy, { dims, baseChecksum })).rejects.toThrow(/corrupt/)

    await expect(EditJournal.open(path, { dims, baseChecksum: baseChecksum ^ 1 })).rejects.toThrow(InputError)
    await expect(EditJournal.open(path, { dims: [128, 128, 95], baseChecksum })).rejects.toThrow(/another mask/)
    writeFileSync(copy, Buffer.from('not a journal at all, just text'))
    await expect(EditJournal.open(copy, { dims, baseChecksum })).rejects.toThrow(/bad magic/)
  })
})

describe('working mask', () => {
  const dims: Vec3 = [64, 64, 48]
  const n = dims[0] * dims[1] * dims[2]
  const base = new Uint8Array(n)
  sphere(dims, [32, 32, 24], 10, 1)((i, v) => { base[i] = v })

  it('recovers the last state after a crash (never closed), including undo history and a save', async () => {
    const dir = freshDir()
    const wm = await WorkingMask.open(dir, base, dims)
    const rand = rng(11)
    for (let s = 0; s < 80; s++) {
      const { label, edit } = randomStroke(dims, rand)
      await wm.apply(label, edit)
      if (s % 9 === 4) await wm.undo()
      if (s % 18 === 4) await wm.redo()
      if (s === 40) expect(await wm.save({ reader: 'test' })).toBe(1)
    }
    await wm.undo()
    await wm.undo()
    // "Crash": wm is never closed; a fresh process opens the folder.
    const again = await WorkingMask.open(dir, base, dims)
    expect(same(again.mask, wm.mask)).toBe(true)
    expect(again.version).toBe(1)
    // History since the last save is journaled, so it survives; what came before the save does not.
    const recoveredUndo = again.history.labels.undo
    expect(recoveredUndo.length).toBeGreaterThan(5)
    expect(recoveredUndo).toEqual(wm.history.labels.undo.slice(-recoveredUndo.length))
    expect(again.history.labels.redo).toEqual(wm.history.labels.redo)
    // Undo and redo still work on the recovered mask, identically.
    await again.redo()
    await wm.redo()
    await again.undo()
    await wm.undo()
    await again.undo()
    await wm.undo()
    expect(same(again.mask, wm.mask)).toBe(true)
    await again.close()
    await wm.close()
  })

  it('recovers when the machine died between saving a version and restarting the journal', async () => {
    const dir = freshDir()
    const wm = await WorkingMask.open(dir, base, dims)
    const rand = rng(5)
    let changed = 0
    for (let s = 0; s < 20; s++) if (await wm.apply('brush', randomStroke(dims, rand).edit)) changed++
    await saveMaskVersion(dir, wm.mask, dims, {}) // the version is written; the checkpoint never happened
    const again = await WorkingMask.open(dir, base, dims)
    expect(again.recovered.applied).toBe(changed)
    expect(again.version).toBe(1)
    expect(same(again.mask, wm.mask)).toBe(true)
    await again.apply('brush', sphere(dims, [3, 3, 3], 2, 1))
    expect(await again.save()).toBe(2)
    await again.close()
    const third = await WorkingMask.open(dir, base, dims)
    expect(third.recovered.applied).toBe(0)
    expect(same(third.mask, again.mask)).toBe(true)
    await third.close()
    await wm.close()
  })
})

describe('undo history', () => {
  it('stays within a 2 MB budget over 5,000 operations while the newest stay undoable', () => {
    const dims: Vec3 = [64, 64, 64]
    const n = dims[0] * dims[1] * dims[2]
    const budget = 2 * 1024 * 1024
    const history = new EditHistory(budget)
    const mask = new Uint8Array(n)
    const rand = rng(99)
    const kinds = ['brush', 'erase', 'fill', 'threshold', 'ai-rerun']
    const checksums = [crc32(mask)]
    const labels: string[] = []
    let maxEntry = 0
    let peak = 0
    for (let op = 0; op < 5000; op++) {
      const length = 1 + Math.floor(rand() ** 3 * 20000)
      const start = Math.floor(rand() * (n - length))
      const value = 1 + (op % 7)
      const diff = recordEdit(mask, dims, (set) => {
        for (let i = start; i < start + length; i++) set(i, value)
        for (let s = 0; s < 50; s++) set(Math.floor(rand() * n), value)
      })!
      const label = kinds[op % kinds.length]
      history.push(diff, label)
      labels.push(label)
      maxEntry = Math.max(maxEntry, diffByteSize(diff) + 2 * label.length)
      peak = Math.max(peak, history.bytesUsed)
      checksums.push(crc32(mask))
    }
    expect(peak).toBeLessThanOrEqual(budget)
    const depth = history.undoDepth
    expect(depth).toBeGreaterThanOrEqual(Math.floor(budget / maxEntry))
    expect(depth).toBeLessThan(5000)
    expect(history.labels.undo).toEqual(labels.slice(5000 - depth))
    console.log(`undo: ${depth} newest of 5000 operations kept in ${(history.bytesUsed / 1e6).toFixed(2)} MB (budget ${budget / 1e6} MB)`)

    for (let u = 1; u <= depth; u++) {
      expect(history.nextUndoLabel).toBe(labels[5000 - u])
      history.undo(mask)
      if (u % 25 === 0 || u === depth) expect(crc32(mask)).toBe(checksums[5000 - u])
    }
    expect(history.canUndo).toBe(false)
    expect(history.undo(mask)).toBeNull()
    for (let r = 1; r <= depth; r++) history.redo(mask)
    expect(crc32(mask)).toBe(checksums[5000])
    expect(history.canRedo).toBe(false)
    expect(history.bytesUsed).toBeLessThanOrEqual(budget)

    // A push clears redo.
    history.undo(mask)
    history.push(recordEdit(mask, dims, (set) => set(0, 200))!, 'brush')
    expect(history.canRedo).toBe(false)
    expect(history.undoDepth).toBe(depth)
  })

  it('keeps the newest operation even when it alone exceeds the budget', () => {
    const dims: Vec3 = [64, 64, 64]
    const n = dims[0] * dims[1] * dims[2]
    const mask = new Uint8Array(n)
    const history = new EditHistory(100_000)
    for (const value of [1, 2]) history.push(recordEdit(mask, dims, (set) => { for (let i = 0; i < n; i++) set(i, value) })!, 'fill')
    expect(history.undoDepth).toBe(1)
    expect(history.bytesUsed).toBeGreaterThan(100_000)
    expect(history.undo(mask)!.box).toEqual({ min: [0, 0, 0], max: [63, 63, 63] })
    expect(mask[n - 1]).toBe(1)
  })
})

describe('mask versions', () => {
  it('saves v0001, v0002, never overwrites, skips past an existing number, loads exact bytes', async () => {
    const dir = freshDir()
    const dims: Vec3 = [40, 30, 20]
    const rand = rng(2)
    const a = new Uint8Array(dims[0] * dims[1] * dims[2]).map(() => (rand() < 0.1 ? 1 : 0))
    const b = a.map((v, i) => (i % 97 === 0 ? 3 : v))
    const s1 = await saveMaskVersion(dir, a, dims, { spacingMm: [4, 4, 4], by: 'reader-1' })
    const s2 = await saveMaskVersion(dir, b, dims, {})
    expect([s1.version, s2.version]).toEqual([1, 2])
    expect(s1.path.endsWith('v0001.mask')).toBe(true)
    const v1Bytes = readFileSync(s1.path)

    writeFileSync(join(dir, 'v0003.mask'), 'placed by someone else')
    const s4 = await saveMaskVersion(dir, a, dims, {})
    expect(s4.version).toBe(4)
    expect(readFileSync(join(dir, 'v0003.mask'), 'utf8')).toBe('placed by someone else')
    expect(readFileSync(s1.path).equals(v1Bytes)).toBe(true)
    expect((await listMaskVersions(dir)).map((v) => v.version)).toEqual([1, 2, 3, 4])

    const l1 = await loadMaskVersion(dir, 1)
    const l2 = await loadMaskVersion(dir, 2)
    expect(same(l1.mask, a) && same(l2.mask, b)).toBe(true)
    expect(l1.header.meta).toEqual({ spacingMm: [4, 4, 4], by: 'reader-1' })
    await expect(loadMaskVersion(dir, 3)).rejects.toThrow(InputError)
    expect(statSync(s1.path).size).toBeLessThan(a.length / 2)
  })
})
