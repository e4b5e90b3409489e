import type { Vec3, VolumeGeometry } from '../../../shared/geometry'

/** §2.4: the network's voxel size. */
export const TARGET_SPACING_MM = 2

/** What the resampling did, enough to resample back (`resampleBack`). */
export interface ResampleRecord {
  inputDims: Vec3
  inputSpacingMm: Vec3
  outputDims: Vec3
  outputSpacingMm: Vec3
}

/** numpy's `np.round`: to the nearest integer, halves to the even one. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x)
  const d = x - f
  if (d > 0.5) return f + 1
  if (d < 0.5) return f
  return f % 2 === 0 ? f : f + 1
}

/**
 * Output size of MONAI's Spacing on one axis (method §2.4, from `compute_shape_offset` without
 * scale_extent): the span between the first and last voxel centres, in output voxels, plus one.
 */
export function resampledLength(n: number, spacingMm: number, targetMm = TARGET_SPACING_MM): number {
  return Math.max(1, roundHalfEven(((n - 1) * spacingMm) / targetMm + 1))
}

/**
 * The 2 mm grid MONAI's `Spacing(pixdim=2, diagonal=False)` makes of an (already RAS-oriented) grid:
 * same directions, same first voxel centre (so same origin), sizes by `resampledLength`.
 */
export function planIsotropic(g: VolumeGeometry, targetMm = TARGET_SPACING_MM): { geometry: VolumeGeometry; record: ResampleRecord } {
  const outputDims: Vec3 = [0, 1, 2].map((a) => resampledLength(g.dims[a], g.spacingMm[a], targetMm)) as Vec3
  const outputSpacingMm: Vec3 = [targetMm, targetMm, targetMm]
  return {
    geometry: { dims: outputDims, spacingMm: outputSpacingMm, originLps: [...g.originLps], directionLps: [...g.directionLps] },
    record: { inputDims: [...g.dims], inputSpacingMm: [...g.spacingMm], outputDims, outputSpacingMm },
  }
}

/** Per-axis interpolation table: lower and upper neighbour (already multiplied by the axis stride) and weight. */
interface AxisTable {
  lo: Int32Array
  hi: Int32Array
  w: Float64Array
}

/**
 * Output index j reads input index `j * outSpacing / inSpacing` (voxel centre to voxel centre, the
 * first centres aligned), clamped to [0, n - 1]: torch grid_sample's border padding.
 */
function axisTable(outLength: number, inLength: number, outSpacingMm: number, inSpacingMm: number, stride: number): AxisTable {
  const lo = new Int32Array(outLength)
  const hi = new Int32Array(outLength)
  const w = new Float64Array(outLength)
  for (let j = 0; j < outLength; j++) {
    let x = (j * outSpacingMm) / inSpacingMm
    if (x > inLength - 1) x = inLength - 1
    if (x < 0) x = 0
    const x0 = Math.floor(x)
    const x1 = x0 + 1 < inLength ? x0 + 1 : inLength - 1
    lo[j] = x0 * stride
    hi[j] = x1 * stride
    w[j] = x - x0
  }
  return { lo, hi, w }
}

/**
 * Separable-grid trilinear resampling: output voxel (i, j, k) is the trilinear interpolation of `src`
 * at input index (i * outSpacing[0] / inSpacing[0], ...), border-clamped. One kernel serves the
 * forward (§2.4) and the inverse (§4) direction.
 */
function resampleAxes(
  src: Float32Array,
  inDims: Vec3,
  inSpacingMm: Vec3,
  outDims: Vec3,
  outSpacingMm: Vec3,
  out: Float32Array,
): Float32Array {
  const [nx, ny, nz] = inDims
  if (src.length !== nx * ny * nz) throw new RangeError(`${src.length} values for a ${inDims.join('x')} grid`)
  const [ox, oy, oz] = outDims
  if (out.length !== ox * oy * oz) throw new RangeError(`output holds ${out.length} values, the grid ${ox * oy * oz}`)
  const tx = axisTable(ox, nx, outSpacingMm[0], inSpacingMm[0], 1)
  const ty = axisTable(oy, ny, outSpacingMm[1], inSpacingMm[1], nx)
  const tz = axisTable(oz, nz, outSpacingMm[2], inSpacingMm[2], nx * ny)
  const { lo: xlo, hi: xhi, w: xw } = tx
  let o = 0
  for (let k = 0; k < oz; k++) {
    const z0 = tz.lo[k], z1 = tz.hi[k], fz = tz.w[k]
    for (let j = 0; j < oy; j++) {
      const y0 = ty.lo[j], y1 = ty.hi[j], fy = ty.w[j]
      const r00 = y0 + z0, r10 = y1 + z0, r01 = y0 + z1, r11 = y1 + z1
      for (let i = 0; i < ox; i++, o++) {
        const x0 = xlo[i], x1 = xhi[i], fx = xw[i]
        const a = src[r00 + x0], b = src[r10 + x0], c = src[r01 + x0], d = src[r11 + x0]
        const c00 = a + fx * (src[r00 + x1] - a)
        const c10 = b + fx * (src[r10 + x1] - b)
        const c01 = c + fx * (src[r01 + x1] - c)
        const c11 = d + fx * (src[r11 + x1] - d)
        const c0 = c00 + fy * (c10 - c00)
        const c1 = c01 + fy * (c11 - c01)
        out[o] = c0 + fz * (c1 - c0)
      }
    }
  }
  return out
}

/** §2.4: `src` (on the record's input grid) resampled to the 2 mm grid of `planIsotropic`. */
export function resampleIsotropic(
  src: Float32Array,
  record: ResampleRecord,
  out: Float32Array = new Float32Array(record.outputDims[0] * record.outputDims[1] * record.outputDims[2]),
): Float32Array {
  return resampleAxes(src, record.inputDims, record.inputSpacingMm, record.outputDims, record.outputSpacingMm, out)
}

/**
 * §4: the inverse of `resampleIsotropic`, as MONAI's `SpatialResample.inverse` does it: the same
 * trilinear, border-padded, voxel-centre-aligned resampling from the 2 mm grid back to the original
 * size (original index u reads 2 mm index `u * inSpacing / 2`).
 */
export function resampleBack(
  src: Float32Array,
  record: ResampleRecord,
  out: Float32Array = new Float32Array(record.inputDims[0] * record.inputDims[1] * record.inputDims[2]),
): Float32Array {
  return resampleAxes(src, record.outputDims, record.outputSpacingMm, record.inputDims, record.inputSpacingMm, out)
}

/**
 * §5: a label volume onto the grid of `planIsotropic` by nearest neighbour (MONAI Spacingd with
 * mode "nearest" for the label): output index j takes input index round(j * outSpacing / inSpacing),
 * clamped, so labels stay 0/1 and no lesion is smeared.
 */
export function resampleIsotropicNearest(
  src: Uint8Array,
  record: ResampleRecord,
  out: Uint8Array = new Uint8Array(record.outputDims[0] * record.outputDims[1] * record.outputDims[2]),
): Uint8Array {
  const [nx, ny, nz] = record.inputDims
  if (src.length !== nx * ny * nz) throw new RangeError(`${src.length} labels for a ${record.inputDims.join('x')} grid`)
  const nearest = (outLength: number, inLength: number, axis: number, stride: number): Int32Array =>
    Int32Array.from({ length: outLength }, (_, j) => Math.min(inLength - 1, Math.max(0, Math.round((j * record.outputSpacingMm[axis]) / record.inputSpacingMm[axis]))) * stride)
  const [ox, oy, oz] = record.outputDims
  const tx = nearest(ox, nx, 0, 1)
  const ty = nearest(oy, ny, 1, nx)
  const tz = nearest(oz, nz, 2, nx * ny)
  let o = 0
  for (let k = 0; k < oz; k++) for (let j = 0; j < oy; j++) for (let i = 0; i < ox; i++, o++) out[o] = src[tz[k] + ty[j] + tx[i]]
  return out
}
