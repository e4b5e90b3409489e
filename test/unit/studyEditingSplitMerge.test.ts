import { afterAll, describe, expect, it } from 'vitest'
import { makePhantomStudy } from '../../src/main/demo/phantom'
import { StudyEditor } from '../../src/main/editing/studyEditing'
import { makeTempDir } from './helpers/data'

const tmp = makeTempDir('lesionlab-splitmerge-')
afterAll(() => tmp.cleanup())
const phantom = makePhantomStudy({ tracer: 'FDG', scale: 'demo' })
const pet = { geometry: phantom.pet.geometry, voxels: phantom.pet.voxels as Float32Array }

describe('split and merge lesions (two clicks)', () => {
  it('merging joins the lesions under two points into one, and undo separates them again', async () => {
    const editor = await StudyEditor.open('merge-test', pet, phantom.mask.voxels as Uint8Array, { dataDir: tmp.dir })
    const before = editor.patient().lesionCount
    const [a, b] = [...editor.lesions()].sort((x, y) => y.mtvMl - x.mtvMl)
    const result = await editor.mergeAt(a.suvMaxLps, b.suvMaxLps)
    expect(result).not.toBeNull()
    expect(editor.patient().lesionCount).toBe(before - 1)
    await editor.undo()
    expect(editor.patient().lesionCount).toBe(before)
    await editor.close()
  })

  it('splitting cuts the lesion under the first point in two, erasing only the contact between the parts', async () => {
    const editor = await StudyEditor.open('split-test', pet, phantom.mask.voxels as Uint8Array, { dataDir: tmp.dir })
    const before = editor.patient().lesionCount
    const largest = [...editor.lesions()].sort((x, y) => y.mtvMl - x.mtvMl)[0]
    const volumeBefore = editor.patient().tmtvMl
    // A point at the lesion's edge along one box axis: the part nearer it is cut off.
    const edge: [number, number, number] = [largest.centroidLps[0], largest.centroidLps[1], largest.centroidLps[2]]
    const halfWidthMm = ((largest.boxMaxVoxel[2] - largest.boxMinVoxel[2]) / 2) * pet.geometry.spacingMm[2]
    edge[2] += halfWidthMm * 0.9
    const result = await editor.splitAt(largest.centroidLps, edge)
    expect(result).not.toBeNull()
    expect(editor.patient().lesionCount).toBe(before + 1)
    // Only a thin contact layer is erased.
    expect(editor.patient().tmtvMl).toBeLessThan(volumeBefore)
    expect(editor.patient().tmtvMl).toBeGreaterThan(volumeBefore - largest.mtvMl * 0.5)
    await editor.close()
  })
})
