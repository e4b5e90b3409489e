import type { Mat3, Vec3, VolumeGeometry } from '../../shared/geometry'

/**
 * The phantom's PET and CT grids. Both are identity-direction LPS grids (axis 0 -> patient left,
 * 1 -> posterior, 2 -> superior, so slice 0 is the most inferior) over about the same field of view,
 * but, as on real PET/CT scanners, the CT has finer voxels and its own origin, shifted by a fraction of
 * a voxel on every axis so that no CT voxel centre lines up with a PET one along x. Code that quietly assumes CT and PET share a grid
 * shows up as misregistration on the demo study.
 */

export type PhantomScale = 'demo' | 'small'

export interface PhantomGrids {
  pet: VolumeGeometry
  ct: VolumeGeometry
  /** Scanner resolution (FWHM of the Gaussian PSF), mm. */
  psfFwhmMm: number
}

const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]
/** Field of view: 512 mm square in-plane, 880 mm from mid thigh (z = -880) to just above the head (z = 0). */
const FOV_MM: Vec3 = [512, 512, 880]
const FOV_CENTRE_LPS: Vec3 = [0, 0, -440]
/**
 * Where the CT's field of view is centred relative to the PET's, mm. Small enough that the CT still
 * covers every PET voxel centre at both scales.
 */
const CT_SHIFT_MM: Vec3 = [0.5, -1.5, 1]

const SCALES: Record<PhantomScale, { petMm: number; ctMm: Vec3 }> = {
  demo: { petMm: 4, ctMm: [2, 2, 3] },
  small: { petMm: 8, ctMm: [4, 4, 6] },
}

/** A grid of whole voxels centred on `centre`, covering `fovMm` (rounded to whole voxels) along each axis. */
function centredGrid(spacingMm: Vec3, fovMm: Vec3, centre: Vec3): VolumeGeometry {
  const dims = [0, 1, 2].map((a) => Math.round(fovMm[a] / spacingMm[a])) as Vec3
  const originLps = [0, 1, 2].map((a) => centre[a] - ((dims[a] - 1) * spacingMm[a]) / 2) as Vec3
  return { dims, spacingMm: [...spacingMm], originLps, directionLps: [...IDENTITY] }
}

export function phantomGrids(scale: PhantomScale): PhantomGrids {
  const { petMm, ctMm } = SCALES[scale]
  const pet = centredGrid([petMm, petMm, petMm], FOV_MM, FOV_CENTRE_LPS)
  const ctCentre = [0, 1, 2].map((a) => FOV_CENTRE_LPS[a] + CT_SHIFT_MM[a]) as Vec3
  const ct = centredGrid(ctMm, FOV_MM, ctCentre)
  // The scanner's PSF is physical: the same at either scale.
  return { pet, ct, psfFwhmMm: 7 }
}
