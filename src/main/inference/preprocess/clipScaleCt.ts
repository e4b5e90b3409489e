/** §2.1: the CT window the network was trained on, in HU. */
export const CT_MIN_HU = -1024
export const CT_MAX_HU = 1024

/**
 * CT Hounsfield units clipped to [-1024, 1024] and scaled linearly to [0, 1], as MONAI's
 * `ScaleIntensityRange(a_min=-1024, a_max=1024, b_min=0, b_max=1, clip=True)` (method §2.1).
 * The divisor is a power of two, so the float32 results equal torch's bit for bit. NaN stays NaN (as
 * torch.clamp leaves it) and so never counts as foreground when cropping. The PET is not touched (§2.1:
 * raw SUV, neither clipped nor scaled); see `petAsFloat32`.
 */
export function clipScaleCt(hu: ArrayLike<number>, out: Float32Array = new Float32Array(hu.length)): Float32Array {
  if (out.length !== hu.length) throw new RangeError(`output holds ${out.length} values, the CT ${hu.length}`)
  const range = CT_MAX_HU - CT_MIN_HU
  for (let i = 0, n = hu.length; i < n; i++) {
    const v = (hu[i] - CT_MIN_HU) / range
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v
  }
  return out
}

/** The PET as float32 (MONAI's LoadImage dtype), values unchanged; a Float32Array is returned as is. */
export function petAsFloat32(suv: ArrayLike<number>): Float32Array {
  return suv instanceof Float32Array ? suv : Float32Array.from(suv)
}
