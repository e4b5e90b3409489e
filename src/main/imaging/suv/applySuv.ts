import type { Vec3 } from '../../../shared/geometry'

/**
 * Stored PET values (after RescaleSlope/Intercept, in the series' Units) to SUV: voxel (i, j, k) times the
 * factor of slice k (axis 2; index = i + nx (j + ny k), see shared/geometry.ts). One factor for all slices
 * is accepted too. Writes into `out` (pass `storedValues` itself to convert in place).
 *
 * Refuses non-finite factors: a NaN factor means computeSuvFactors reported problems, and an image of NaN
 * would hide that.
 */
export function applySuvFactors(
  storedValues: Float32Array,
  sliceFactors: Float64Array | readonly number[],
  dims: Readonly<Vec3>,
  out: Float32Array = new Float32Array(storedValues.length),
): Float32Array {
  const [nx, ny, nz] = dims
  const sliceSize = nx * ny
  if (storedValues.length !== sliceSize * nz) {
    throw new RangeError(`applySuvFactors: ${storedValues.length} values do not fill ${nx}×${ny}×${nz}`)
  }
  if (out.length !== storedValues.length) throw new RangeError('applySuvFactors: output length differs from input')
  if (sliceFactors.length !== nz && sliceFactors.length !== 1) {
    throw new RangeError(`applySuvFactors: ${sliceFactors.length} factors for ${nz} slices`)
  }
  for (let k = 0; k < sliceFactors.length; k++) {
    if (!Number.isFinite(sliceFactors[k])) {
      throw new RangeError(`applySuvFactors: the SUV factor of slice ${k} is ${sliceFactors[k]}; resolve the SUV problems first`)
    }
  }
  for (let k = 0; k < nz; k++) {
    const f = sliceFactors.length === 1 ? sliceFactors[0] : sliceFactors[k]
    const end = (k + 1) * sliceSize
    for (let o = k * sliceSize; o < end; o++) out[o] = storedValues[o] * f
  }
  return out
}
