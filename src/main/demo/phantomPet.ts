import type { VolumeGeometry } from '../../shared/geometry'
import type { PlannedLesion } from './lesions'
import { assertIdentityDirection } from './phantomCt'
import { deriveSeed, normalTable, xorshift32 } from './random'
import { paintLabelPlane, type PreparedShapes } from './raster'

/**
 * PET synthesis steps, each a pure function over the PET voxel array (axis 0 fastest).
 */

/**
 * Physiological activity: the mean SUV over 2 x 2 x 2 sub-samples of every voxel, so organ edges get
 * the partial-volume values a real scanner's large voxels show. Rasterised two fine planes per PET
 * slice, so the fine grid never exists in full (it would be 8x the PET in memory).
 */
export function petAnatomy(grid: VolumeGeometry, anatomy: PreparedShapes, suvByLabel: Float32Array): Float32Array {
  assertIdentityDirection(grid)
  const [nx, ny, nz] = grid.dims
  const [sx, sy, sz] = grid.spacingMm
  const fine = {
    x0Mm: grid.originLps[0] - sx / 4, dxMm: sx / 2, nx: 2 * nx,
    y0Mm: grid.originLps[1] - sy / 4, dyMm: sy / 2, ny: 2 * ny,
  }
  const labels = new Uint8Array(fine.nx * fine.ny)
  const out = new Float32Array(nx * ny * nz)
  for (let k = 0; k < nz; k++) {
    const slice = out.subarray(k * nx * ny, (k + 1) * nx * ny)
    const zMm = grid.originLps[2] + k * sz
    for (const dz of [-sz / 4, sz / 4]) {
      paintLabelPlane(anatomy, fine, zMm + dz, labels)
      for (let jf = 0; jf < fine.ny; jf++) {
        const row = (jf >> 1) * nx
        const fineRow = jf * fine.nx
        for (let i = 0; i < nx; i++) {
          slice[row + i] += suvByLabel[labels[fineRow + 2 * i]] + suvByLabel[labels[fineRow + 2 * i + 1]]
        }
      }
    }
    for (let n = 0; n < slice.length; n++) slice[n] *= 0.125
  }
  return out
}

/**
 * Puts lesions into the PET and the mask. Activity: each voxel becomes the volume-weighted mix of its
 * anatomy and the lesion SUV (the lesion displaces tissue rather than adding to it), with the lesion
 * fraction sampled at about 1 mm, finely enough that a 3 mm lesion still shows in an 8 mm voxel.
 * Mask: 1 exactly where the voxel centre lies inside the lesion. Returns each lesion's mask voxel count.
 */
export function paintLesions(pet: Float32Array, mask: Uint8Array, grid: VolumeGeometry, lesions: readonly PlannedLesion[]): number[] {
  assertIdentityDirection(grid)
  const { dims, spacingMm: s, originLps: o } = grid
  const sub = s.map((mm) => Math.max(2, Math.ceil(mm))) as [number, number, number]
  return lesions.map(({ centreLps: c, radiiMm: r, suv }) => {
    let count = 0
    const lo = [0, 1, 2].map((a) => Math.max(0, Math.ceil((c[a] - r[a] - s[a] / 2 - o[a]) / s[a])))
    const hi = [0, 1, 2].map((a) => Math.min(dims[a] - 1, Math.floor((c[a] + r[a] + s[a] / 2 - o[a]) / s[a])))
    // Squared normalised offsets of every sub-sample (and of the voxel centre) along one axis.
    const offsets = (a: number, index: number): { subs: Float64Array; centre: number } => {
      const centre = (o[a] + index * s[a] - c[a]) / r[a]
      const subs = new Float64Array(sub[a])
      for (let q = 0; q < sub[a]; q++) subs[q] = (centre + (((q + 0.5) / sub[a] - 0.5) * s[a]) / r[a]) ** 2
      return { subs, centre: centre * centre }
    }
    const xs = Array.from({ length: hi[0] - lo[0] + 1 }, (_, n) => offsets(0, lo[0] + n))
    const subCount = sub[0] * sub[1] * sub[2]
    for (let k = lo[2]; k <= hi[2]; k++) {
      const zk = offsets(2, k)
      for (let j = lo[1]; j <= hi[1]; j++) {
        const yj = offsets(1, j)
        for (let i = lo[0]; i <= hi[0]; i++) {
          const xi = xs[i - lo[0]]
          let inside = 0
          for (const z2 of zk.subs) for (const y2 of yj.subs) {
            const rest = 1 - z2 - y2
            if (rest < 0) continue
            for (const x2 of xi.subs) if (x2 <= rest) inside++
          }
          const idx = i + dims[0] * (j + dims[1] * k)
          if (inside > 0) {
            const f = inside / subCount
            pet[idx] = (1 - f) * pet[idx] + f * suv
          }
          if (xi.centre + yj.centre + zk.centre <= 1) {
            mask[idx] = 1
            count++
          }
        }
      }
    }
    return count
  })
}

/** Multiplies every voxel by (1 + relativeSd * N(0, 1)), clamped at zero: count noise grows with activity. */
export function addMultiplicativeNoise(voxels: Float32Array, relativeSd: number, seed: number): void {
  const noise = normalTable(seed)
  let state = deriveSeed(seed, 7) || 1
  for (let n = 0; n < voxels.length; n++) {
    state = xorshift32(state)
    const v = voxels[n] * (1 + relativeSd * noise[state & 0xffff])
    voxels[n] = v > 0 ? v : 0
  }
}
