import { invertMat3, type Vec3, type VolumeGeometry } from '../../../../shared/geometry'

/** How far (in voxels) a plane or a pixel centre may sit from the target grid and still count as on it. */
export const GRID_TOLERANCE_VOXELS = 0.25

/**
 * Where a 2-D frame (rows x columns of pixels) lands on a target grid: pixel (column c, row r) is voxel
 * (i0 + ic*c + ir*r, j0 + jc*c + jr*r, k). The four steps are -1, 0 or 1 (a signed permutation),
 * so frames stored flipped or transposed relative to the target land too.
 */
export interface FramePlacement {
  k: number
  i0: number
  j0: number
  ic: number
  ir: number
  jc: number
  jr: number
}

export type PlacementResult = { ok: true; placement: FramePlacement } | { ok: false; reason: string }

export interface FramePlane {
  /** ImagePositionPatient: LPS centre of the first transmitted pixel. */
  positionLps: Vec3
  /** ImageOrientationPatient: row direction (along which the column index grows), then column direction. */
  orientation: [number, number, number, number, number, number]
  /** PixelSpacing as DICOM stores it: [between rows, between columns] (mm). */
  pixelSpacingMm: [number, number]
  rows: number
  columns: number
}

/**
 * Place a frame on the target grid by its geometry alone (position, orientation, spacing): this is
 * what makes a SEG land right even when its source-image references are missing or point elsewhere.
 * The frame must lie in a target slice plane (within a quarter slice) with matching pixel spacing and
 * pixel centres on voxel centres (within a quarter voxel over the whole frame).
 */
export function placeFrame(target: VolumeGeometry, plane: FramePlane): PlacementResult {
  const inv = invertMat3(target.directionLps)
  const toIndexDelta = (v: Vec3, mm: number): Vec3 => {
    const out: Vec3 = [0, 0, 0]
    for (let a = 0; a < 3; a++) {
      out[a] = ((inv[3 * a] * v[0] + inv[3 * a + 1] * v[1] + inv[3 * a + 2] * v[2]) * mm) / target.spacingMm[a]
    }
    return out
  }
  const o = plane.orientation
  const perColumn = toIndexDelta([o[0], o[1], o[2]], plane.pixelSpacingMm[1])
  const perRow = toIndexDelta([o[3], o[4], o[5]], plane.pixelSpacingMm[0])
  const p = plane.positionLps
  const offset: Vec3 = [p[0] - target.originLps[0], p[1] - target.originLps[1], p[2] - target.originLps[2]]
  const start = toIndexDelta(offset, 1)
  const lastColumn = Math.max(plane.columns - 1, 1)
  const lastRow = Math.max(plane.rows - 1, 1)

  // Tilt out of the slice plane, accumulated across the frame, in slices.
  const tilt = Math.abs(perColumn[2]) * lastColumn + Math.abs(perRow[2]) * lastRow
  if (tilt > GRID_TOLERANCE_VOXELS) {
    return { ok: false, reason: 'its plane is not parallel to the target slices (different orientation)' }
  }
  const steps = [perColumn[0], perRow[0], perColumn[1], perRow[1]].map(Math.round)
  const [ic, ir, jc, jr] = steps
  const isSignedPermutation =
    steps.every((s) => s === -1 || s === 0 || s === 1) && Math.abs(ic * jr - ir * jc) === 1
  const drift =
    (Math.abs(perColumn[0] - ic) + Math.abs(perColumn[1] - jc)) * lastColumn +
    (Math.abs(perRow[0] - ir) + Math.abs(perRow[1] - jr)) * lastRow
  if (!isSignedPermutation || drift > GRID_TOLERANCE_VOXELS) {
    return { ok: false, reason: 'its pixel spacing or in-plane orientation differs from the target grid' }
  }
  const k = Math.round(start[2])
  const slabOffset = Math.abs(start[2] - k)
  if (slabOffset > GRID_TOLERANCE_VOXELS) {
    return { ok: false, reason: `its plane lies between target slices (${slabOffset.toFixed(2)} slice spacings off)` }
  }
  if (k < 0 || k >= target.dims[2]) {
    return { ok: false, reason: `its plane is outside the target volume (slice ${k} of 0..${target.dims[2] - 1})` }
  }
  const i0 = Math.round(start[0])
  const j0 = Math.round(start[1])
  if (Math.abs(start[0] - i0) > GRID_TOLERANCE_VOXELS || Math.abs(start[1] - j0) > GRID_TOLERANCE_VOXELS) {
    return { ok: false, reason: 'its pixel centres fall between target voxel centres (in-plane shift)' }
  }
  return { ok: true, placement: { k, i0, j0, ic, ir, jc, jr } }
}
