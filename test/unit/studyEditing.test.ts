import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makePhantomStudy, type PhantomLesion, type PhantomStudy } from '../../src/main/demo/phantom'
import { loadMaskVersion, maskVersionPath } from '../../src/main/editing/maskVersions'
import { brushSphere, componentAt, growLesion, type GrowRule } from '../../src/main/editing/operations'
import { StudyEditor, studyWorkingDir, type EditResult } from '../../src/main/editing/studyEditing'
import { applyDiff, type VoxelDiff } from '../../src/main/editing/voxelDiff'
import { indexToWorld, worldToIndex, type Vec3 } from '../../src/shared/geometry'
import { voxelVolumeMl } from '../../src/main/metrics/lesionStats'

const root = mkdtempSync(join(tmpdir(), 'lesionlab-study-editing-'))
const editors: StudyEditor[] = []
afterAll(async () => {
  for (const e of editors) await e.close().catch(() => {})
  rmSync(root, { recursive: true, force: true })
})

const bytes = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength)
const same = (a: Uint8Array, b: Uint8Array): boolean => bytes(a).equals(bytes(b))
const P41: GrowRule = { kind: 'percentOfMax', percent: 41 }

let study: PhantomStudy
let pet: { geometry: PhantomStudy['pet']['geometry']; voxels: Float32Array }
let base: Uint8Array
let baseCopy: Uint8Array
let largest: PhantomLesion
let keyCount = 0
const freshKey = (): string => `demo:FDG:test-${++keyCount}`

async function open(key: string, from: Uint8Array = base): Promise<StudyEditor> {
  const e = await StudyEditor.open(key, pet, from, { dataDir: root })
  editors.push(e)
  return e
}

/** A renderer's copy patched from an EditResult must track the editor's mask. */
function patch(copy: Uint8Array, r: EditResult): void {
  const diff: VoxelDiff = { runs: r.runs, before: r.after, after: r.after, box: r.box }
  applyDiff(copy, diff, 'redo')
}

beforeAll(() => {
  study = makePhantomStudy({ tracer: 'FDG', scale: 'demo' })
  pet = { geometry: study.pet.geometry, voxels: study.pet.voxels as Float32Array }
  base = study.mask.voxels as Uint8Array
  baseCopy = base.slice()
  largest = [...study.lesions].sort((a, b) => b.voxelCount - a.voxelCount)[0]
}, 120_000)

describe('StudyEditor on the FDG demo phantom', () => {
  it('places the working mask under <dataDir>/studies/<sha256 prefix>/working', async () => {
    const key = freshKey()
    const dir = studyWorkingDir(key, root)
    expect(dir).toMatch(/studies[/\\][0-9a-f]{24}[/\\]working$/)
    const e = await open(key)
    expect(e.dir).toBe(dir)
    expect(e.recovered).toBe(false)
    expect(same(e.mask, base)).toBe(true)
    expect(e.mask === base).toBe(false)
    expect(e.lesions().length).toBe(study.lesions.length)
    await e.close()
  })

  it('brush sphere, undo, redo: exact mask bytes each time, measures change and come back; timing', async () => {
    const e = await open(freshKey())
    const g = pet.geometry
    const before = e.mask.slice()
    const patient0 = e.patient()
    const count0 = e.lesions().length
    // A point in the middle of the grid, 10 mm radius sphere.
    const centreIdx: Vec3 = [g.dims[0] / 2 + 0.3, g.dims[1] / 2 - 0.2, g.dims[2] / 2]
    const centreLps = indexToWorld(g, centreIdx)
    const sphere = brushSphere(g.dims, g.spacingMm, worldToIndex(g, centreLps), 10)
    const expected = before.slice()
    let newlySet = 0
    for (const p of sphere) {
      if (expected[p] === 0) newlySet++
      expected[p] = 1
    }
    expect(newlySet).toBeGreaterThan(0)

    const renderer = before.slice()
    const t0 = performance.now()
    const r = await e.brush(centreLps, 10, { shape: 'sphere' })
    const strokeMs = performance.now() - t0
    expect(r).not.toBeNull()
    patch(renderer, r!)
    expect(same(e.mask, expected)).toBe(true)
    expect(same(renderer, expected)).toBe(true)
    expect(r!.undoLabel).toMatch(/Brush sphere/)
    expect(r!.redoLabel).toBeUndefined()
    expect(r!.changedLesions.added.length + r!.changedLesions.changed.length).toBeGreaterThan(0)
    expect(e.patient().tmtvMl).toBeCloseTo(patient0.tmtvMl + newlySet * voxelVolumeMl(g.spacingMm), 6)

    const u = await e.undo()
    expect(u).not.toBeNull()
    patch(renderer, u!)
    expect(same(e.mask, before)).toBe(true)
    expect(same(renderer, before)).toBe(true)
    expect(u!.undoLabel).toBeUndefined()
    expect(u!.redoLabel).toMatch(/Brush sphere/)
    expect(e.lesions().length).toBe(count0)
    expect(e.patient().tmtvMl).toBeCloseTo(patient0.tmtvMl, 9)
    expect(e.patient().tlgMlSuv).toBeCloseTo(patient0.tlgMlSuv, 6)
    expect(await e.undo()).toBeNull()

    const d = await e.redo()
    patch(renderer, d!)
    expect(same(e.mask, expected)).toBe(true)
    expect(same(renderer, expected)).toBe(true)
    expect(e.patient().tmtvMl).toBeCloseTo(patient0.tmtvMl + newlySet * voxelVolumeMl(g.spacingMm), 6)
    expect(await e.redo()).toBeNull()

    // Stroke -> updated measures on the whole-body demo grid: several dabs along a line, journal fsync included.
    const times: number[] = []
    for (let s = 0; s < 8; s++) {
      const c = indexToWorld(g, [centreIdx[0] + 2 * s, centreIdx[1] + 6, centreIdx[2] + s])
      const t = performance.now()
      await e.brush(c, 8, { shape: s % 2 ? 'circle' : 'sphere' })
      e.patient()
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    console.log(
      `[studyEditing] grid ${g.dims.join('x')}: first brush stroke -> measures ${strokeMs.toFixed(1)} ms; ` +
        `8 more strokes median ${times[4].toFixed(1)} ms, max ${times[7].toFixed(1)} ms`,
    )
    expect(times[4]).toBeLessThan(500)
    expect(same(base, baseCopy)).toBe(true)
    await e.close()
  })

  it('erase brush with an SUV gate and label values, scissors fill/erase through slices', async () => {
    const e = await open(freshKey(), new Uint8Array(base.length))
    const g = pet.geometry
    const ci = worldToIndex(g, largest.centreLps).map(Math.round) as Vec3
    const c = indexToWorld(g, ci)
    // Fill a 5x5 (in-plane, 4 mm voxels) rectangle through 3 axial slices with label 2.
    const a = indexToWorld(g, [ci[0] - 2, ci[1] - 2, ci[2] - 1])
    const b = indexToWorld(g, [ci[0] + 2, ci[1] + 2, ci[2] - 1])
    const r = await e.scissors({ shape: 'rectangle', cornerALps: a, cornerBLps: b, mode: 'fill', label: 2, slices: { fromLps: a, toLps: indexToWorld(g, [ci[0], ci[1], ci[2] + 1]) } })
    expect(r!.after.length).toBe(75)
    expect(r!.after.every((v) => v === 2)).toBe(true)
    expect(e.lesions().length).toBe(1)
    expect(e.lesions()[0].voxelCount).toBe(75)
    // Circle scissors (erase) on the middle slice only, 4.5 mm: the centre voxel and its 4 neighbours.
    const cut = await e.scissors({ shape: 'circle', centreLps: c, radiusMm: 4.5 })
    expect(cut!.after.length).toBe(5)
    expect(e.lesions()[0].voxelCount).toBe(70)
    // Erase with an SUV gate leaves the cooler voxels.
    const hot = 0.5 * pet.voxels[ci[0] + g.dims[0] * (ci[1] + g.dims[1] * ci[2])]
    const gated = await e.brush(c, 20, { shape: 'sphere', erase: true, suvAbove: hot })
    let left = 0
    for (let p = 0; p < e.mask.length; p++) if (e.mask[p] !== 0) {
      left++
      expect(pet.voxels[p]).toBeLessThan(hot)
    }
    expect(gated!.after.length).toBe(70 - left)
    expect(e.patient().lesionCount).toBe(e.lesions().length)
    // Nothing changes: null, no history entry.
    const depth = e.undoLabel
    expect(await e.scissors({ shape: 'circle', centreLps: c, radiusMm: 4.5 })).toBeNull()
    expect(e.undoLabel).toBe(depth)
    await e.close()
  })

  it('grow: preview leaves the mask alone, accept adds the lesion; count and MTV update', async () => {
    const g = pet.geometry
    const seed = worldToIndex(g, largest.centreLps).map(Math.round) as Vec3
    const without = base.slice()
    for (const p of componentAt(base, g.dims, seed, 18)) without[p] = 0
    const e = await open(freshKey(), without)
    const count0 = e.lesions().length
    const tmtv0 = e.patient().tmtvMl
    expect(count0).toBe(study.lesions.length - 1)

    const click = indexToWorld(g, [seed[0] + 1, seed[1], seed[2]])
    const preview = e.growPreview(click, P41)!
    expect(preview.voxels.length).toBeGreaterThan(10)
    expect(preview.thresholdSuv).toBeCloseTo(0.41 * preview.localMaxSuv, 5)
    const direct = growLesion(pet.voxels, g.dims, worldToIndex(g, click), P41, {}, 18, g.spacingMm)
    expect(preview.voxels.length).toBe(direct.voxels.length)
    expect(same(e.mask, without)).toBe(true)

    const r = await e.growAccept(click, P41)
    expect(r!.changedLesions.added.length).toBe(1)
    expect(r!.after.length).toBe(preview.voxels.length)
    for (const p of preview.voxels) expect(e.mask[p]).toBe(1)
    expect(e.lesions().length).toBe(count0 + 1)
    expect(e.patient().tmtvMl).toBeCloseTo(tmtv0 + preview.voxels.length * voxelVolumeMl(g.spacingMm), 6)
    // It lands on the phantom lesion.
    let overlap = 0
    for (const p of preview.voxels) if (base[p]) overlap++
    expect(overlap / largest.voxelCount).toBeGreaterThan(0.5)

    await e.undo()
    expect(same(e.mask, without)).toBe(true)
    expect(e.lesions().length).toBe(count0)
    expect(e.growPreview([1e6, 1e6, 1e6], P41)).toBeNull()
    expect(same(base, baseCopy)).toBe(true)
    await e.close()
  })

  it('delete by click: one lesion fewer, its voxels 0, nothing else touched', async () => {
    const e = await open(freshKey())
    const g = pet.geometry
    const seed = worldToIndex(g, largest.centreLps).map(Math.round) as Vec3
    const component = componentAt(base, g.dims, seed, 18)
    expect(component.length).toBeGreaterThan(0)
    const r = await e.deleteLesionAt(largest.centreLps)
    expect(r!.changedLesions.removed.length).toBe(1)
    expect(e.lesions().length).toBe(study.lesions.length - 1)
    for (const p of component) expect(e.mask[p]).toBe(0)
    const expected = base.slice()
    for (const p of component) expected[p] = 0
    expect(same(e.mask, expected)).toBe(true)
    // A click on background deletes nothing.
    expect(await e.deleteLesionAt(largest.centreLps)).toBeNull()
    expect(same(base, baseCopy)).toBe(true)
    await e.close()
  })

  it('crash: edits, no close, reopen -> same bytes, recovered, undo still works; versions survive', async () => {
    const key = freshKey()
    const g = pet.geometry
    const e = await open(key)
    const states: Uint8Array[] = [e.mask.slice()]
    const other = study.lesions.find((l) => l.id !== largest.id)!
    await e.deleteLesionAt(largest.centreLps)
    states.push(e.mask.slice())
    await e.brush(indexToWorld(g, [g.dims[0] / 2, g.dims[1] / 2, g.dims[2] / 2]), 12, { shape: 'sphere' })
    states.push(e.mask.slice())
    await e.brush(other.centreLps, 6, { shape: 'circle', planeNormalAxis: 1, erase: true })
    states.push(e.mask.slice())
    await e.undo()
    await e.redo()
    const count3 = e.lesions().length
    const version = await e.saveVersion({ savedBy: 'test' })
    expect(version).toBe(1)
    expect(existsSync(maskVersionPath(e.dir, 1))).toBe(true)
    await e.growAccept(largest.centreLps, P41)
    states.push(e.mask.slice())
    const lesionsBefore = e.lesions().length
    const tmtvBefore = e.patient().tmtvMl
    // Dropped without close(): the journal handle stays open, as after a crash.

    const again = await open(key)
    expect(again.recovered).toBe(true)
    expect(again.replay.applied).toBeGreaterThan(0)
    expect(again.version).toBe(1)
    expect(same(again.mask, states[4])).toBe(true)
    expect(again.lesions().length).toBe(lesionsBefore)
    expect(again.patient().tmtvMl).toBeCloseTo(tmtvBefore, 9)
    // Undo history since the saved version came back through the journal.
    expect(again.undoLabel).toMatch(/Grow/)
    expect(await again.undo()).not.toBeNull()
    expect(same(again.mask, states[3])).toBe(true)
    expect(again.lesions().length).toBe(count3)
    expect(await again.redo()).not.toBeNull()
    expect(same(again.mask, states[4])).toBe(true)
    expect(await again.undo()).not.toBeNull()
    const saved = await loadMaskVersion(again.dir, 1)
    expect(same(saved.mask, states[3])).toBe(true)
    expect(saved.header.meta).toMatchObject({ savedBy: 'test', studyKey: key })
    expect(await again.saveVersion()).toBe(2)
    expect(await again.versions()).toEqual([1, 2])
    await again.close()

    // A clean reopen: state as left, versions intact, base untouched.
    const third = await open(key)
    expect(third.recovered).toBe(true)
    expect(same(third.mask, states[3])).toBe(true)
    expect(await third.versions()).toEqual([1, 2])
    expect(same(base, baseCopy)).toBe(true)
    await third.close()
  })
})
