import type { Vec3, VolumeGeometry } from '../../shared/geometry'
import type { Volume } from '../../shared/volume'
import { PHANTOM_PARTS, TISSUES, type PhantomTracer } from './anatomy'
import { FWHM_PER_SIGMA, gaussianBlur3d } from './blur'
import { phantomGrids, type PhantomScale } from './grids'
import { placeLesions } from './lesions'
import { synthesizeCt } from './phantomCt'
import { addMultiplicativeNoise, paintLesions, petAnatomy } from './phantomPet'
import { deriveSeed } from './random'
import { prepareShapes } from './raster'

/**
 * The built-in demo study: a deterministic synthetic whole-body PET/CT with known lesions, used as the
 * app's demo and as a test fixture. Same options, same bytes, on every platform.
 */

export interface PhantomLesion {
  /** 1-based, in placement order. */
  id: number
  centreLps: Vec3
  radiiMm: Vec3
  /** True activity (SUVbw) inside the lesion, before partial volume, blur and noise. */
  suv: number
  /** Anatomical site, e.g. "liver", "bone", "pelvic lymph node". */
  site: string
  /** Mask voxels of this lesion (PET voxel centres inside its ellipsoid). */
  voxelCount: number
}

export interface PhantomStudy {
  tracer: PhantomTracer
  /** Int16 CT numbers on the CT's own, finer grid. */
  ct: Volume
  /** Float32 SUVbw. */
  pet: Volume
  /** Uint8 lesion mask (1 = lesion) on exactly the PET grid. */
  mask: Volume
  lesions: PhantomLesion[]
}

export interface PhantomOptions {
  tracer: PhantomTracer
  /** Moves lesions and noise; the anatomy never changes. */
  seed?: number
  /** 'demo': PET 4 mm, CT 2 x 2 x 3 mm. 'small': half the voxels per axis, for fast tests. */
  scale?: PhantomScale
}

export const DEFAULT_PHANTOM_SEED = 1
const CT_NOISE_SD_HU = 8
const PET_NOISE_RELATIVE_SD = 0.08

export function makePhantomStudy(options: PhantomOptions): PhantomStudy {
  const { tracer, seed = DEFAULT_PHANTOM_SEED, scale = 'demo' } = options
  const grids = phantomGrids(scale)
  const anatomy = prepareShapes(PHANTOM_PARTS.map((p) => p.shape))
  // Lookup tables by label (0 = air, part n = label n + 1).
  const huByLabel = Float32Array.from([0, ...PHANTOM_PARTS.map((p) => TISSUES[p.tissue].hu)])
  const suvByLabel = Float32Array.from([0, ...PHANTOM_PARTS.map((p) => TISSUES[p.tissue].suv[tracer])])

  const ctVoxels = synthesizeCt(grids.ct, anatomy, huByLabel, deriveSeed(seed, 2), CT_NOISE_SD_HU)

  const planned = placeLesions(tracer, seed, grids.pet, anatomy)
  const petVoxels = petAnatomy(grids.pet, anatomy, suvByLabel)
  const maskVoxels = new Uint8Array(petVoxels.length)
  const voxelCounts = paintLesions(petVoxels, maskVoxels, grids.pet, planned)
  const sigmaVox = grids.pet.spacingMm.map((mm) => grids.psfFwhmMm / FWHM_PER_SIGMA / mm) as Vec3
  gaussianBlur3d(petVoxels, grids.pet.dims, sigmaVox)
  addMultiplicativeNoise(petVoxels, PET_NOISE_RELATIVE_SD, deriveSeed(seed, 3))

  return {
    tracer,
    ct: { geometry: grids.ct, modality: 'CT', unit: 'HU', voxels: ctVoxels },
    pet: { geometry: grids.pet, modality: 'PT', unit: 'SUVbw', voxels: petVoxels },
    mask: { geometry: copyGeometry(grids.pet), modality: 'SEG', unit: 'label', voxels: maskVoxels },
    lesions: planned.map((l, n) => ({ id: n + 1, ...l, voxelCount: voxelCounts[n] })),
  }
}

/** The mask gets its own geometry object, so editing one volume's geometry never moves the other. */
function copyGeometry(g: VolumeGeometry): VolumeGeometry {
  return { dims: [...g.dims], spacingMm: [...g.spacingMm], originLps: [...g.originLps], directionLps: [...g.directionLps] }
}
