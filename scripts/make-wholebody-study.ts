// Writes a whole-body-sized synthetic study (PET 400x400x500 at 2 mm, CT 512x512x500) for checking
// that the app stays responsive at clinical sizes:  npx tsx scripts/make-wholebody-study.ts <out-dir>
import { join } from 'node:path'
import type { VolumeGeometry } from '../src/shared/geometry'
import { makePhantomStudy } from '../src/main/demo/phantom'
import { resampleTrilinear } from '../src/main/imaging/resample/resampleTrilinear'
import { writeNiftiFile } from '../src/main/io/nifti/writeNifti'

const out = process.argv[2]
if (!out) {
  console.error('usage: npx tsx scripts/make-wholebody-study.ts <out-dir>')
  process.exit(2)
}
const phantom = makePhantomStudy({ tracer: 'FDG', scale: 'demo' })
const identity = phantom.pet.geometry.directionLps
const pet: VolumeGeometry = { dims: [400, 400, 500], spacingMm: [1.27, 1.27, 1.76], originLps: [-253.5, -253.5, -878], directionLps: identity }
const ct: VolumeGeometry = { dims: [512, 512, 500], spacingMm: [0.98, 0.98, 1.76], originLps: [-250, -250, -878], directionLps: identity }
const t0 = Date.now()
const petVoxels = resampleTrilinear(phantom.pet, pet, { outsideValue: 0 })
const ctFloat = resampleTrilinear(phantom.ct, ct, { outsideValue: -1024 })
const ctVoxels = new Int16Array(ctFloat.length)
for (let i = 0; i < ctFloat.length; i++) ctVoxels[i] = Math.round(ctFloat[i])
console.log(`resampled in ${Date.now() - t0} ms`)
await writeNiftiFile(join(out, 'PET/image.nii.gz'), pet, petVoxels)
await writeNiftiFile(join(out, 'CT/image.nii.gz'), ct, ctVoxels)
console.log(`wrote ${out}/CT/image.nii.gz and ${out}/PET/image.nii.gz`)
