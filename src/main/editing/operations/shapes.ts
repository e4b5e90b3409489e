import type { Vec3 } from '../../../shared/geometry'

/**
 * Which voxels a brush or scissors stroke covers: sorted, unique voxel indices, clipped to the grid.
 * Pure geometry in index space scaled by the spacing (mm), so anisotropic grids get true circles and
 * spheres. Compose with `thresholdGate` ("SUV above threshold only") and `paint` / `erase`.
 *
 * A plane is named by its normal axis (0, 1 or 2); its two in-plane axes are the other two, in
 * ascending order (u, v). A voxel is inside a round shape when its centre is within the radius.
 */

export type Axis = 0 | 1 | 2

export function inPlaneAxes(normal: Axis): [Axis, Axis] {
  return normal === 0 ? [1, 2] : normal === 1 ? [0, 2] : [0, 1]
}

/** Brush circle on slice `round(centre[normal])` of the view plane. `centre` is a continuous voxel index. */
export function brushCircle(dims: Vec3, spacingMm: Vec3, centre: Vec3, radiusMm: number, normal: Axis): Int32Array {
  const slice = Math.round(centre[normal])
  const [u, v] = inPlaneAxes(normal)
  return circleThroughSlices(dims, spacingMm, normal, [centre[u], centre[v]], radiusMm, [slice, slice])
}

/** Brush sphere: voxel centres within `radiusMm` of `centre` (continuous voxel index). */
export function brushSphere(dims: Vec3, spacingMm: Vec3, centre: Vec3, radiusMm: number): Int32Array {
  const [nx, ny] = dims
  const r2 = radiusMm * radiusMm
  const lo = [0, 1, 2].map((a) => Math.max(0, Math.ceil(centre[a] - radiusMm / spacingMm[a]))) as Vec3
  const hi = [0, 1, 2].map((a) => Math.min(dims[a] - 1, Math.floor(centre[a] + radiusMm / spacingMm[a]))) as Vec3
  const out = new Growing()
  for (let k = lo[2]; k <= hi[2]; k++) {
    const z = (k - centre[2]) * spacingMm[2]
    for (let j = lo[1]; j <= hi[1]; j++) {
      const y = (j - centre[1]) * spacingMm[1]
      const rest = r2 - z * z - y * y
      if (rest < 0) continue
      // Solve the row's extent instead of testing every voxel.
      const half = Math.sqrt(rest) / spacingMm[0]
      const i0 = Math.max(lo[0], Math.ceil(centre[0] - half))
      const i1 = Math.min(hi[0], Math.floor(centre[0] + half))
      const row = nx * (j + ny * k)
      for (let i = i0; i <= i1; i++) out.push(row + i)
    }
  }
  return out.done()
}

/**
 * Circle scissors through slices `slices[0] .. slices[1]` (inclusive, any order) along `normal`:
 * the same in-plane disc (centre (u, v) continuous indices) on every slice.
 */
export function circleThroughSlices(
  dims: Vec3, spacingMm: Vec3, normal: Axis, centreUv: [number, number], radiusMm: number, slices: [number, number],
): Int32Array {
  const [u, v] = inPlaneAxes(normal)
  const r2 = radiusMm * radiusMm
  const rows: [number, number, number][] = []
  const v0 = Math.max(0, Math.ceil(centreUv[1] - radiusMm / spacingMm[v]))
  const v1 = Math.min(dims[v] - 1, Math.floor(centreUv[1] + radiusMm / spacingMm[v]))
  for (let b = v0; b <= v1; b++) {
    const y = (b - centreUv[1]) * spacingMm[v]
    const half = Math.sqrt(r2 - y * y) / spacingMm[u]
    const a0 = Math.max(0, Math.ceil(centreUv[0] - half))
    const a1 = Math.min(dims[u] - 1, Math.floor(centreUv[0] + half))
    if (a0 <= a1) rows.push([b, a0, a1])
  }
  return throughSlices(dims, normal, slices, (emit) => {
    for (const [b, a0, a1] of rows) for (let a = a0; a <= a1; a++) emit(a, b)
  })
}

/**
 * Rectangle scissors: in-plane voxels between two corners (inclusive, continuous indices rounded, any
 * order) on slices `slices[0] .. slices[1]` along `normal`.
 */
export function rectangleThroughSlices(
  dims: Vec3, normal: Axis, cornerA: [number, number], cornerB: [number, number], slices: [number, number],
): Int32Array {
  const [u, v] = inPlaneAxes(normal)
  const a0 = Math.max(0, Math.round(Math.min(cornerA[0], cornerB[0])))
  const a1 = Math.min(dims[u] - 1, Math.round(Math.max(cornerA[0], cornerB[0])))
  const b0 = Math.max(0, Math.round(Math.min(cornerA[1], cornerB[1])))
  const b1 = Math.min(dims[v] - 1, Math.round(Math.max(cornerA[1], cornerB[1])))
  return throughSlices(dims, normal, slices, (emit) => {
    for (let b = b0; b <= b1; b++) for (let a = a0; a <= a1; a++) emit(a, b)
  })
}

/** Voxels of a sorted list whose SUV is >= minSuv (and <= maxSuv when given): "SUV above threshold only". */
export function thresholdGate(pet: Float32Array, voxels: Int32Array, minSuv: number, maxSuv = Infinity): Int32Array {
  let n = 0
  const out = new Int32Array(voxels.length)
  for (let m = 0; m < voxels.length; m++) {
    const s = pet[voxels[m]]
    if (s >= minSuv && s <= maxSuv) out[n++] = voxels[m]
  }
  return out.slice(0, n)
}

/** Runs an in-plane pattern (u, v) over a slice range along `normal`, returning sorted indices. */
function throughSlices(dims: Vec3, normal: Axis, slices: [number, number], pattern: (emit: (a: number, b: number) => void) => void): Int32Array {
  const [u, v] = inPlaneAxes(normal)
  const s0 = Math.max(0, Math.round(Math.min(slices[0], slices[1])))
  const s1 = Math.min(dims[normal] - 1, Math.round(Math.max(slices[0], slices[1])))
  const stride: Vec3 = [1, dims[0], dims[0] * dims[1]]
  const out = new Growing()
  for (let s = s0; s <= s1; s++) {
    pattern((a, b) => out.push(a * stride[u] + b * stride[v] + s * stride[normal]))
  }
  // Emission order is raster order only when the normal is axis 2; sort keeps the contract for all.
  return normal === 2 ? out.done() : out.done().sort()
}

class Growing {
  private data = new Int32Array(256)
  private n = 0
  push(p: number): void {
    if (this.n === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2)
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.n++] = p
  }
  done(): Int32Array {
    return this.data.slice(0, this.n)
  }
}
