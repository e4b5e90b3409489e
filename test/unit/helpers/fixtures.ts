import type { Mat3, Vec3 } from '../../../src/shared/geometry'

/** A rotation about `axis` as our direction layout (axis N = column N of the rotation matrix). */
export function rotation(axis: Vec3, angleRad: number): Mat3 {
  const n = Math.hypot(...axis)
  const [x, y, z] = axis.map((v) => v / n)
  const c = Math.cos(angleRad)
  const s = Math.sin(angleRad)
  const t = 1 - c
  const R = [
    [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
    [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
    [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
  ]
  const d = new Array<number>(9).fill(0) as Mat3
  for (let a = 0; a < 3; a++) for (let r = 0; r < 3; r++) d[3 * a + r] = R[r][a]
  return d
}

/** Dice of two masks read as nonzero = set (NaN when both are empty). */
export function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let na = 0
  let nb = 0
  let both = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0
    const y = b[i] !== 0
    if (x) na++
    if (y) nb++
    if (x && y) both++
  }
  return (2 * both) / (na + nb)
}
