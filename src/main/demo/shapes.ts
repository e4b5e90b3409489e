import type { Vec3 } from '../../shared/geometry'

/**
 * Solid primitives the phantom is built from, in LPS millimetres.
 *
 * Every primitive is convex, so the voxel centres it covers along one image row (a line parallel to the
 * x axis) form a single interval. Rasterising then costs one interval computation per row plus a
 * `fill`, instead of an inside test per voxel per shape.
 */
export type Shape =
  /** Axis-aligned ellipsoid. */
  | { kind: 'ellipsoid'; centreLps: Vec3; radiiMm: Vec3 }
  /** Elliptic cylinder whose axis runs along z (superior-inferior), cut flat at both ends. */
  | { kind: 'cylinderZ'; centreXyMm: [number, number]; radiiXyMm: [number, number]; zMinMm: number; zMaxMm: number }
  /** All points within radiusMm of the segment a-b (a sausage): limbs, bones, vessels, ribs. */
  | { kind: 'capsule'; aLps: Vec3; bLps: Vec3; radiusMm: number }

export interface BoundsLps {
  min: Vec3
  max: Vec3
}

export function shapeBounds(s: Shape): BoundsLps {
  switch (s.kind) {
    case 'ellipsoid': {
      const c = s.centreLps
      const r = s.radiiMm
      return { min: [c[0] - r[0], c[1] - r[1], c[2] - r[2]], max: [c[0] + r[0], c[1] + r[1], c[2] + r[2]] }
    }
    case 'cylinderZ': {
      const [cx, cy] = s.centreXyMm
      const [rx, ry] = s.radiiXyMm
      return { min: [cx - rx, cy - ry, s.zMinMm], max: [cx + rx, cy + ry, s.zMaxMm] }
    }
    case 'capsule': {
      const { aLps: a, bLps: b, radiusMm: r } = s
      return {
        min: [Math.min(a[0], b[0]) - r, Math.min(a[1], b[1]) - r, Math.min(a[2], b[2]) - r],
        max: [Math.max(a[0], b[0]) + r, Math.max(a[1], b[1]) + r, Math.max(a[2], b[2]) + r],
      }
    }
  }
}

/**
 * Interval [out[0], out[1]] of x (mm) where the row (·, yMm, zMm) lies inside the shape.
 * Returns false (and leaves out untouched) when the row misses the shape.
 */
export function rowSpanXMm(s: Shape, yMm: number, zMm: number, out: Float64Array): boolean {
  switch (s.kind) {
    case 'ellipsoid': {
      const c = s.centreLps
      const r = s.radiiMm
      const dy = (yMm - c[1]) / r[1]
      const dz = (zMm - c[2]) / r[2]
      const q = 1 - dy * dy - dz * dz
      if (q < 0) return false
      const half = r[0] * Math.sqrt(q)
      out[0] = c[0] - half
      out[1] = c[0] + half
      return true
    }
    case 'cylinderZ': {
      if (zMm < s.zMinMm || zMm > s.zMaxMm) return false
      const dy = (yMm - s.centreXyMm[1]) / s.radiiXyMm[1]
      const q = 1 - dy * dy
      if (q < 0) return false
      const half = s.radiiXyMm[0] * Math.sqrt(q)
      out[0] = s.centreXyMm[0] - half
      out[1] = s.centreXyMm[0] + half
      return true
    }
    case 'capsule':
      return capsuleRowSpan(s.aLps, s.bLps, s.radiusMm, yMm, zMm, out)
  }
}

/** True when the point lies inside (or on) the shape. */
export function shapeContains(s: Shape, p: Vec3): boolean {
  const span = scratchSpan
  return rowSpanXMm(s, p[1], p[2], span) && p[0] >= span[0] && p[0] <= span[1]
}

const scratchSpan = new Float64Array(2)

/**
 * A capsule is the union of two end spheres and a finite cylinder; the row meets each in an interval
 * (or not at all), and because the capsule is convex the union of those intervals is their hull.
 */
function capsuleRowSpan(a: Vec3, b: Vec3, r: number, y: number, z: number, out: Float64Array): boolean {
  let lo = Infinity
  let hi = -Infinity
  const r2 = r * r
  // End spheres.
  for (const c of [a, b]) {
    const q = r2 - (y - c[1]) ** 2 - (z - c[2]) ** 2
    if (q >= 0) {
      const half = Math.sqrt(q)
      lo = Math.min(lo, c[0] - half)
      hi = Math.max(hi, c[0] + half)
    }
  }
  // Finite cylinder, in u = x - a.x. Squared distance to the axis is A u^2 + B u + C0; the projection
  // parameter t = (u dx + g) / L2 must lie in [0, 1].
  const dx = b[0] - a[0]
  const dy = b[1] - a[1]
  const dz = b[2] - a[2]
  const l2 = dx * dx + dy * dy + dz * dz
  if (l2 > 0) {
    const e = y - a[1]
    const f = z - a[2]
    const g = e * dy + f * dz
    const A = 1 - (dx * dx) / l2
    const B = (-2 * dx * g) / l2
    const C = e * e + f * f - (g * g) / l2 - r2
    let uLo = -Infinity
    let uHi = Infinity
    let hit = true
    if (A < 1e-12) {
      // Axis parallel to the row: the distance to the axis is the same all along it.
      hit = C <= 0
    } else {
      const disc = B * B - 4 * A * C
      if (disc < 0) hit = false
      else {
        const sq = Math.sqrt(disc)
        uLo = (-B - sq) / (2 * A)
        uHi = (-B + sq) / (2 * A)
      }
    }
    if (hit) {
      if (Math.abs(dx) > 1e-12) {
        const t0 = -g / dx
        const t1 = (l2 - g) / dx
        uLo = Math.max(uLo, Math.min(t0, t1))
        uHi = Math.min(uHi, Math.max(t0, t1))
      } else if (g < 0 || g > l2) {
        hit = false
      }
      if (hit && uLo <= uHi) {
        lo = Math.min(lo, a[0] + uLo)
        hi = Math.max(hi, a[0] + uHi)
      }
    }
  }
  if (lo > hi) return false
  out[0] = lo
  out[1] = hi
  return true
}
