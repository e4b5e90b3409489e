import type { PhantomTracer } from '../../demo/anatomy'
import type { PhantomScale } from '../../demo/grids'
import { makePhantomStudy } from '../../demo/phantom'
import { resampleTrilinear } from '../../imaging/resample/resampleTrilinear'
import type { TrainingCaseSource } from './prepareTrainingCase'

/**
 * A synthetic phantom (src/main/demo) as a training case: the CT resampled onto the PET grid as the app
 * does for every study, the PET in SUV and the phantom's true lesion mask. `seed` moves the lesions and
 * the noise, so different seeds are different patients for training and held-out validation.
 */
export function phantomTrainingSource(tracer: PhantomTracer, seed: number, scale: PhantomScale = 'demo'): TrainingCaseSource {
  const phantom = makePhantomStudy({ tracer, seed, scale })
  const grid = phantom.pet.geometry
  const ct = resampleTrilinear({ geometry: phantom.ct.geometry, voxels: phantom.ct.voxels }, grid, { outsideValue: -1024 })
  return {
    name: `phantom ${tracer} seed ${seed}`,
    ctOnPetGrid: { geometry: grid, voxels: ct },
    pet: { geometry: grid, voxels: phantom.pet.voxels },
    label: Uint8Array.from(phantom.mask.voxels),
  }
}
