import type { Vec3 } from '../../shared/geometry'

/** Radius of a 1 cm³ sphere: (3 / (4π) · 1000 mm³)^(1/3) = 6.2035 mm, rounded as PERCIST states it. */
export const SUVPEAK_RADIUS_MM = 6.2

/** Sub-samples per axis across a voxel the sphere surface cuts (the axis-0 extent is integrated exactly). */
const CROSS_SAMPLES = 32

/** The rule every export states beside SUVpeak values (method.md §7). */
export const SUVPEAK_RULE =
  'SUVpeak: the highest mean SUV in a sphere of 1 cm³ (radius 6.2 mm) centred at the centre of a voxel of the lesion ' +
  '(the sphere may reach beyond the lesion); each PET voxel is weighted by the fraction of its volume inside the sphere ' +
  `(voxels wholly inside weigh 1; for voxels the sphere surface cuts, the fraction is integrated exactly along voxel axis 0 ` +
  `and on a ${CROSS_SAMPLES} x ${CROSS_SAMPLES} midpoint grid across it); PET voxels beyond the image edge are left out ` +
  'and the weights of those inside renormalised. SULpeak = SUVpeak x (SUL/SUVbw ratio of the patient).'

/** Fractional voxel weights of the SUVpeak sphere on one grid spacing. */
export interface SphereKernel {
  spacingMm: Vec3
  radiusMm: number
  /** Largest |offset| per axis with a nonzero weight. */
  halfWidth: Vec3
  /** Voxel offsets (di, dj, dk) of the voxels with nonzero weight, three per entry. */
  offsets: Int32Array
  /** Fraction (0..1] of each offset voxel's volume inside the sphere. */
  weights: Float64Array
  /** Sum of the weights: the sphere volume in voxels (≈ 4/3 π r³ / voxel volume). */
  totalWeight: number
}

const cache = new Map<string, SphereKernel>()

/**
 * The sphere's fractional weights for a grid spacing, computed once per spacing and cached. The
 * sphere is measured in the voxel axes (mm), which is exact for the orthonormal directions of
 * PET grids.
 */
export function suvPeakKernel(spacingMm: Vec3, radiusMm = SUVPEAK_RADIUS_MM): SphereKernel {
  const key = `${spacingMm.join(',')};${radiusMm}`
  const hit = cache.get(key)
  if (hit) return hit
  if (spacingMm.some((s) => !(s > 0)) || !(radiusMm > 0)) throw new RangeError(`bad SUVpeak kernel spacing ${spacingMm.join(' x ')} mm / radius ${radiusMm} mm`)
  const [s0, s1, s2] = spacingMm
  const r2 = radiusMm * radiusMm
  // A voxel at offset n touches the sphere when |n| s - s/2 < r.
  const half: Vec3 = [0, 1, 2].map((a) => Math.ceil(radiusMm / spacingMm[a] + 0.5) - 1) as Vec3
  const offsets: number[] = []
  const weights: number[] = []
  const gap = (n: number, s: number): number => Math.max(0, Math.abs(n) * s - s / 2)
  const reach = (n: number, s: number): number => Math.abs(n) * s + s / 2
  for (let dk = -half[2]; dk <= half[2]; dk++) {
    for (let dj = -half[1]; dj <= half[1]; dj++) {
      for (let di = -half[0]; di <= half[0]; di++) {
        const near = gap(di, s0) ** 2 + gap(dj, s1) ** 2 + gap(dk, s2) ** 2
        if (near >= r2) continue
        const far = reach(di, s0) ** 2 + reach(dj, s1) ** 2 + reach(dk, s2) ** 2
        const w = far <= r2 ? 1 : cutFraction(di * s0, dj * s1, dk * s2, spacingMm, r2)
        if (w <= 0) continue
        offsets.push(di, dj, dk)
        weights.push(w)
      }
    }
  }
  const kernel: SphereKernel = {
    spacingMm: [s0, s1, s2],
    radiusMm,
    halfWidth: half,
    offsets: Int32Array.from(offsets),
    weights: Float64Array.from(weights),
    totalWeight: weights.reduce((a, b) => a + b, 0),
  }
  cache.set(key, kernel)
  return kernel
}

/** Fraction of the voxel centred at (x, y, z) mm inside the sphere of radius² r2 centred at the origin. */
function cutFraction(x: number, y: number, z: number, spacingMm: Vec3, r2: number): number {
  const [s0, s1, s2] = spacingMm
  const x0 = x - s0 / 2
  const x1 = x + s0 / 2
  let inside = 0
  for (let b = 0; b < CROSS_SAMPLES; b++) {
    const zz = z - s2 / 2 + ((b + 0.5) * s2) / CROSS_SAMPLES
    for (let a = 0; a < CROSS_SAMPLES; a++) {
      const yy = y - s1 / 2 + ((a + 0.5) * s1) / CROSS_SAMPLES
      const rho2 = r2 - yy * yy - zz * zz
      if (rho2 <= 0) continue
      const rho = Math.sqrt(rho2)
      const length = Math.min(x1, rho) - Math.max(x0, -rho)
      if (length > 0) inside += length
    }
  }
  return inside / (CROSS_SAMPLES * CROSS_SAMPLES * s0)
}
