// npm run bench:edit — time from a brush stroke to updated lesion measures on a whole-body study
// (PET 400x400x326 at 2.036x2.036x3 mm, as an autoPET case), through the editing service the app uses:
// the stroke is applied, journaled (fsync) and the touched lesions re-measured incrementally.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Vec3, VolumeGeometry } from '../src/shared/geometry'
import { indexToWorld } from '../src/shared/geometry'
import { makePhantomStudy } from '../src/main/demo/phantom'
import { resampleTrilinear } from '../src/main/imaging/resample/resampleTrilinear'
import { StudyEditor } from '../src/main/editing/studyEditing'
import { labelComponents } from '../src/main/metrics/connectedComponents'
import { measureLesions } from '../src/main/metrics/lesionStats'

const phantom = makePhantomStudy({ tracer: 'FDG', scale: 'demo' })
const grid: VolumeGeometry = { dims: [400, 400, 326], spacingMm: [2.036, 2.036, 3], originLps: [-406, -406, -878], directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1] }
const pet = resampleTrilinear(phantom.pet, grid, { outsideValue: 0 })
const maskFloat = resampleTrilinear({ geometry: phantom.mask.geometry, voxels: phantom.mask.voxels }, grid, { outsideValue: 0 })
const mask = new Uint8Array(maskFloat.length)
for (let i = 0; i < mask.length; i++) mask[i] = maskFloat[i] >= 0.5 ? 1 : 0

const dir = mkdtempSync(join(tmpdir(), 'lesionlab-bench-edit-'))
try {
  let t = performance.now()
  const editor = await StudyEditor.open('bench-edit', { geometry: grid, voxels: pet }, mask, { dataDir: dir })
  console.log(`open (copy, first measures): ${(performance.now() - t).toFixed(0)} ms, ${editor.patient().lesionCount} lesions`)
  t = performance.now()
  measureLesions(labelComponents(editor.mask, grid.dims, 18), grid, pet)
  const fullMs = performance.now() - t
  console.log(`full re-measure of the whole mask: ${fullMs.toFixed(0)} ms`)

  const times: number[] = []
  for (let s = 0; s < 30; s++) {
    // A stroke of 8 circle dabs (radius 6 mm) across the liver region, alternating paint and erase.
    const start = indexToWorld(grid, [150 + (s % 5) * 10, 200, 160 + (s % 7) * 3])
    const centres: Vec3[] = Array.from({ length: 8 }, (_, n) => [start[0] + n * 3, start[1], start[2]])
    t = performance.now()
    await editor.brushStroke(centres, 6, { shape: 'circle', planeNormalAxis: 2, erase: s % 2 === 1 })
    editor.patient()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]
  console.log(`brush stroke → journaled → measures updated: median ${median.toFixed(1)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms`)
  console.log(`incremental vs full re-measure: ${(fullMs / median).toFixed(0)}x faster (goal: under 50 ms per stroke)`)
  t = performance.now()
  await editor.undo()
  console.log(`undo → measures: ${(performance.now() - t).toFixed(1)} ms`)
  await editor.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
