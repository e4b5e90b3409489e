import type { VolumeGeometry } from '../../shared/geometry'
import { deriveSeed, normalTable, xorshift32 } from './random'
import { paintLabelPlane, type PreparedShapes } from './raster'

/** CT number of everything outside the body. Left noise-free: scanners clip air, and it compresses well. */
export const CT_AIR_HU = -1000

/**
 * Synthesises the CT: each voxel centre takes the CT number of the last anatomy part containing it,
 * plus Gaussian noise (sd `noiseSdHu`) inside the body. Deterministic in `seed`.
 * `huByLabel[label]` is the CT number of label `label` (index 0, air, is not read).
 */
export function synthesizeCt(
  grid: VolumeGeometry,
  anatomy: PreparedShapes,
  huByLabel: Float32Array,
  seed: number,
  noiseSdHu: number,
): Int16Array {
  assertIdentityDirection(grid)
  const [nx, ny, nz] = grid.dims
  const plane = { x0Mm: grid.originLps[0], dxMm: grid.spacingMm[0], nx, y0Mm: grid.originLps[1], dyMm: grid.spacingMm[1], ny }
  const labels = new Uint8Array(nx * ny)
  const out = new Int16Array(nx * ny * nz)
  const noise = normalTable(seed)
  let state = deriveSeed(seed, 7) || 1
  for (let k = 0; k < nz; k++) {
    paintLabelPlane(anatomy, plane, grid.originLps[2] + k * grid.spacingMm[2], labels)
    const base = k * nx * ny
    for (let n = 0; n < labels.length; n++) {
      const label = labels[n]
      if (label === 0) {
        out[base + n] = CT_AIR_HU
        continue
      }
      state = xorshift32(state)
      const hu = Math.round(huByLabel[label] + noiseSdHu * noise[state & 0xffff])
      out[base + n] = hu < -32768 ? -32768 : hu > 32767 ? 32767 : hu
    }
  }
  return out
}

/** The phantom rasterises along world axes; a rotated grid would need a different painter. */
export function assertIdentityDirection(grid: VolumeGeometry): void {
  const d = grid.directionLps
  const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1]
  if (d.some((v, n) => Math.abs(v - identity[n]) > 1e-9)) {
    throw new Error('The phantom only rasterises grids with identity direction')
  }
}
