import { indexToWorld, type Vec3, type VolumeGeometry } from '../../../shared/geometry'

/** A box of voxel indices: `start` inclusive, `end` exclusive, per axis. */
export interface CropBox {
  start: Vec3
  end: Vec3
}

/** What cropping did, enough to pad a cropped array back onto the full grid. */
export interface CropRecord {
  fullDims: Vec3
  box: CropBox
}

/**
 * Bounding box of the voxels whose value is > `threshold`, no margin: MONAI's CropForeground with its
 * default `select_fn = x > 0` and margin 0 (method §2.2: on the scaled CT, i.e. HU > -1024, which in
 * practice is the CT field of view). Null when no voxel qualifies.
 */
export function foregroundBox(values: ArrayLike<number>, dims: Vec3, threshold = 0): CropBox | null {
  const [nx, ny, nz] = dims
  if (values.length !== nx * ny * nz) throw new RangeError(`${values.length} values for a ${dims.join('x')} grid`)
  let x0 = nx, x1 = -1, y0 = ny, y1 = -1, z0 = nz, z1 = -1
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k)
      let first = -1
      for (let i = 0; i < nx; i++) {
        if (values[row + i] > threshold) { first = i; break }
      }
      if (first < 0) continue
      let last = first
      // Only the part of the row beyond what the box already covers can move its right edge.
      for (let i = nx - 1; i > first && i > x1; i--) {
        if (values[row + i] > threshold) { last = i; break }
      }
      if (first < x0) x0 = first
      if (last > x1) x1 = last
      if (j < y0) y0 = j
      if (j > y1) y1 = j
      if (k < z0) z0 = k
      if (k > z1) z1 = k
    }
  }
  if (x1 < 0) return null
  return { start: [x0, y0, z0], end: [x1 + 1, y1 + 1, z1 + 1] }
}

export function boxDims(box: CropBox): Vec3 {
  return [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]]
}

function checkBox(box: CropBox, dims: Vec3): void {
  for (let a = 0; a < 3; a++) {
    if (!(box.start[a] >= 0 && box.start[a] < box.end[a] && box.end[a] <= dims[a])) {
      throw new RangeError(`crop box ${box.start.join(',')}..${box.end.join(',')} does not fit a ${dims.join('x')} grid`)
    }
  }
}

/** The grid of the cropped voxels: same spacing and directions, origin at the box's first voxel. */
export function cropGeometry(g: VolumeGeometry, box: CropBox): VolumeGeometry {
  checkBox(box, g.dims)
  return {
    dims: boxDims(box),
    spacingMm: [...g.spacingMm],
    originLps: indexToWorld(g, box.start),
    directionLps: [...g.directionLps],
  }
}

/** The voxels inside `box`, as a new array of the box's size. */
export function cropVolume(voxels: Float32Array, dims: Vec3, box: CropBox): Float32Array {
  checkBox(box, dims)
  const [nx, ny] = dims
  const [cx, cy, cz] = boxDims(box)
  const out = new Float32Array(cx * cy * cz)
  let o = 0
  for (let k = 0; k < cz; k++) {
    for (let j = 0; j < cy; j++, o += cx) {
      const from = box.start[0] + nx * (box.start[1] + j + ny * (box.start[2] + k))
      out.set(voxels.subarray(from, from + cx), o)
    }
  }
  return out
}

/** Inverse of `cropVolume`: the cropped voxels put back in place on the full grid, `fill` elsewhere. */
export function uncropVolume(
  cropped: Float32Array,
  record: CropRecord,
  fill = 0,
  out: Float32Array = new Float32Array(record.fullDims[0] * record.fullDims[1] * record.fullDims[2]),
): Float32Array {
  const { fullDims, box } = record
  checkBox(box, fullDims)
  const [nx, ny, nz] = fullDims
  const [cx, cy, cz] = boxDims(box)
  if (cropped.length !== cx * cy * cz) throw new RangeError(`${cropped.length} values for a ${cx}x${cy}x${cz} box`)
  if (out.length !== nx * ny * nz) throw new RangeError(`output holds ${out.length} values, the grid ${nx * ny * nz}`)
  out.fill(fill)
  let o = 0
  for (let k = 0; k < cz; k++) {
    for (let j = 0; j < cy; j++, o += cx) {
      out.set(cropped.subarray(o, o + cx), box.start[0] + nx * (box.start[1] + j + ny * (box.start[2] + k)))
    }
  }
  return out
}
