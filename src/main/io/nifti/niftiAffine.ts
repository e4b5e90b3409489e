import type { Mat3, Vec3, VolumeGeometry } from '../../../shared/geometry'

/**
 * NIfTI's voxel-to-world affine is RAS+; our geometry is LPS. Converting negates the first two world
 * rows. The 4x4 is row-major (affine[r][c]), columns 0..2 are the voxel axes scaled by their spacing.
 */
export function geometryFromRasAffine(affine: number[][], dims: Vec3): VolumeGeometry {
  const lpsSign = [-1, -1, 1]
  const spacingMm: Vec3 = [0, 0, 0]
  const directionLps = new Array<number>(9).fill(0) as Mat3
  for (let axis = 0; axis < 3; axis++) {
    const column = [0, 1, 2].map((r) => affine[r][axis] * lpsSign[r])
    const length = Math.hypot(column[0], column[1], column[2])
    if (!(length > 0) || !Number.isFinite(length)) {
      throw new Error(`voxel axis ${axis} has zero or invalid length in the header's affine`)
    }
    spacingMm[axis] = length
    for (let r = 0; r < 3; r++) directionLps[3 * axis + r] = column[r] / length
  }
  const originLps: Vec3 = [affine[0][3] * lpsSign[0], affine[1][3] * lpsSign[1], affine[2][3] * lpsSign[2]]
  return { dims, spacingMm, originLps, directionLps }
}

/** Inverse of `geometryFromRasAffine`: the RAS+ 4x4 affine (row-major) of an LPS geometry. */
export function rasAffineFromGeometry(g: VolumeGeometry): number[][] {
  const lpsSign = [-1, -1, 1]
  const rows: number[][] = []
  for (let r = 0; r < 3; r++) {
    rows.push([
      g.directionLps[r] * g.spacingMm[0] * lpsSign[r],
      g.directionLps[3 + r] * g.spacingMm[1] * lpsSign[r],
      g.directionLps[6 + r] * g.spacingMm[2] * lpsSign[r],
      g.originLps[r] * lpsSign[r],
    ])
  }
  rows.push([0, 0, 0, 1])
  return rows
}

/**
 * The NIfTI quaternion (b, c, d, qfac) of a rotation matrix R (RAS, columns = axis directions),
 * as nifti1_io.c's nifti_mat44_to_quatern does. Needed so written files carry a valid qform too,
 * which some readers (and older ITK) prefer over the sform.
 */
export function quaternionFromRotation(rasDirection: number[][]): { b: number; c: number; d: number; qfac: number } {
  const r = rasDirection.map((row) => row.slice())
  let det =
    r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
    r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
    r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0])
  let qfac = 1
  if (det < 0) {
    // A left-handed axis set: NIfTI stores it as a proper rotation with the third axis flipped.
    qfac = -1
    for (let i = 0; i < 3; i++) r[i][2] = -r[i][2]
    det = -det
  }
  const [r11, r12, r13] = r[0]
  const [r21, r22, r23] = r[1]
  const [r31, r32, r33] = r[2]
  let a = r11 + r22 + r33 + 1
  let b: number, c: number, d: number
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a)
    b = (0.25 * (r32 - r23)) / a
    c = (0.25 * (r13 - r31)) / a
    d = (0.25 * (r21 - r12)) / a
  } else {
    const xd = 1 + r11 - (r22 + r33)
    const yd = 1 + r22 - (r11 + r33)
    const zd = 1 + r33 - (r11 + r22)
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd); c = (0.25 * (r12 + r21)) / b; d = (0.25 * (r13 + r31)) / b; a = (0.25 * (r32 - r23)) / b
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd); b = (0.25 * (r12 + r21)) / c; d = (0.25 * (r23 + r32)) / c; a = (0.25 * (r13 - r31)) / c
    } else {
      d = 0.5 * Math.sqrt(zd); b = (0.25 * (r13 + r31)) / d; c = (0.25 * (r23 + r32)) / d; a = (0.25 * (r21 - r12)) / d
    }
    if (a < 0) { b = -b; c = -c; d = -d }
  }
  return { b, c, d, qfac }
}

/** The header fields that define a NIfTI-1 or NIfTI-2 voxel-to-world transform. */
export interface NiftiTransformFields {
  qform_code: number
  sform_code: number
  quatern_b: number
  quatern_c: number
  quatern_d: number
  qoffset_x: number
  qoffset_y: number
  qoffset_z: number
  pixDims: number[]
  /** As nifti-reader-js computed it: srow_* when the sform is used (always, for NIfTI-2). */
  affine: number[][]
}

/**
 * The header's RAS+ affine, choosing the transform as nifti-reader-js does (the qform when its code is
 * the higher one, else the sform), but computing the qform as nifti1_io.c's nifti_quatern_to_mat44:
 * nifti-reader-js takes sqrt(1 - (b² + c² + d²)) unguarded, which is NaN when float32 rounding puts
 * b² + c² + d² just above 1 (rotations near 180°), and it never reads the qform of a NIfTI-2 header.
 */
export function rasAffineOfHeader(h: NiftiTransformFields): number[][] {
  if (!(h.qform_code > 0 && h.sform_code < h.qform_code)) return h.affine
  let b = h.quatern_b
  let c = h.quatern_c
  let d = h.quatern_d
  let a = 1 - (b * b + c * c + d * d)
  if (a < 1e-7) {
    // a = 0: a 180-degree rotation; normalise (b, c, d).
    const n = 1 / Math.sqrt(b * b + c * c + d * d)
    b *= n
    c *= n
    d *= n
    a = 0
  } else {
    a = Math.sqrt(a)
  }
  const xd = h.pixDims[1] > 0 ? h.pixDims[1] : 1
  const yd = h.pixDims[2] > 0 ? h.pixDims[2] : 1
  const zd = (h.pixDims[3] > 0 ? h.pixDims[3] : 1) * (h.pixDims[0] < 0 ? -1 : 1)
  return [
    [(a * a + b * b - c * c - d * d) * xd, 2 * (b * c - a * d) * yd, 2 * (b * d + a * c) * zd, h.qoffset_x],
    [2 * (b * c + a * d) * xd, (a * a + c * c - b * b - d * d) * yd, 2 * (c * d - a * b) * zd, h.qoffset_y],
    [2 * (b * d - a * c) * xd, 2 * (c * d + a * b) * yd, (a * a + d * d - c * c - b * b) * zd, h.qoffset_z],
    [0, 0, 0, 1],
  ]
}
