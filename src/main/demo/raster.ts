import type { Vec3 } from '../../shared/geometry'
import { rowSpanXMm, shapeBounds, shapeContains, type Shape } from './shapes'

/**
 * Rasterising an ordered list of shapes into label planes. Labels are 1-based shape indices (0 = none),
 * later shapes overwriting earlier ones.
 */

/** Shapes with their bounding boxes unpacked into flat arrays, so per-plane culling is a few compares. */
export interface PreparedShapes {
  shapes: readonly Shape[]
  minLps: Float64Array
  maxLps: Float64Array
}

export function prepareShapes(shapes: readonly Shape[]): PreparedShapes {
  const minLps = new Float64Array(3 * shapes.length)
  const maxLps = new Float64Array(3 * shapes.length)
  shapes.forEach((s, n) => {
    const b = shapeBounds(s)
    minLps.set(b.min, 3 * n)
    maxLps.set(b.max, 3 * n)
  })
  return { shapes, minLps, maxLps }
}

/**
 * An axis-aligned plane of voxel centres at one z: x = x0Mm + i * dxMm (fastest), y = y0Mm + j * dyMm.
 * The phantom builds its own grids with identity direction, so rows run along world x.
 */
export interface PlaneGrid {
  x0Mm: number
  dxMm: number
  nx: number
  y0Mm: number
  dyMm: number
  ny: number
}

/** Writes into `out` (nx * ny) the label of the last shape containing each voxel centre of the plane. */
export function paintLabelPlane(prep: PreparedShapes, plane: PlaneGrid, zMm: number, out: Uint8Array): void {
  const { x0Mm, dxMm, nx, y0Mm, dyMm, ny } = plane
  const span = new Float64Array(2)
  out.fill(0, 0, nx * ny)
  for (let n = 0; n < prep.shapes.length; n++) {
    if (zMm < prep.minLps[3 * n + 2] || zMm > prep.maxLps[3 * n + 2]) continue
    const shape = prep.shapes[n]
    const label = n + 1
    const jLo = Math.max(0, Math.ceil((prep.minLps[3 * n + 1] - y0Mm) / dyMm))
    const jHi = Math.min(ny - 1, Math.floor((prep.maxLps[3 * n + 1] - y0Mm) / dyMm))
    for (let j = jLo; j <= jHi; j++) {
      if (!rowSpanXMm(shape, y0Mm + j * dyMm, zMm, span)) continue
      const iLo = Math.max(0, Math.ceil((span[0] - x0Mm) / dxMm))
      const iHi = Math.min(nx - 1, Math.floor((span[1] - x0Mm) / dxMm))
      if (iLo <= iHi) out.fill(label, j * nx + iLo, j * nx + iHi + 1)
    }
  }
}

/** Label of the last shape containing a point (0 when none): the same answer a raster gives there. */
export function labelAtPoint(prep: PreparedShapes, p: Vec3): number {
  const { minLps: lo, maxLps: hi } = prep
  for (let n = prep.shapes.length - 1; n >= 0; n--) {
    const b = 3 * n
    if (p[0] < lo[b] || p[0] > hi[b] || p[1] < lo[b + 1] || p[1] > hi[b + 1] || p[2] < lo[b + 2] || p[2] > hi[b + 2]) continue
    if (shapeContains(prep.shapes[n], p)) return n + 1
  }
  return 0
}
