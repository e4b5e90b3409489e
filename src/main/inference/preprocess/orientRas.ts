import { indexToWorld, type Mat3, type Vec3, type VolumeGeometry } from '../../../shared/geometry'

/**
 * A reorientation by axis permutation and flips only (no resampling): output axis m is input axis
 * `perm[m]`, run backwards when `flip[m]`. An output voxel u therefore holds the input voxel whose
 * index along axis perm[m] is `flip[m] ? inputDims[perm[m]] - 1 - u[m] : u[m]`.
 */
export interface AxisTransform {
  perm: Vec3
  flip: [boolean, boolean, boolean]
  /** Dims of the array the transform applies to. */
  inputDims: Vec3
}

/** A Float32Array or any other typed array of voxels. */
type Voxels = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array

/** Dims of the array the transform produces. */
export function outputDims(t: AxisTransform): Vec3 {
  return [t.inputDims[t.perm[0]], t.inputDims[t.perm[1]], t.inputDims[t.perm[2]]]
}

export function isIdentity(t: AxisTransform): boolean {
  return t.perm[0] === 0 && t.perm[1] === 1 && t.perm[2] === 2 && !t.flip[0] && !t.flip[1] && !t.flip[2]
}

/** The transform that undoes `t` (applied to `t`'s output, it gives `t`'s input back). */
export function inverseAxisTransform(t: AxisTransform): AxisTransform {
  const perm: Vec3 = [0, 0, 0]
  const flip: [boolean, boolean, boolean] = [false, false, false]
  for (let m = 0; m < 3; m++) {
    perm[t.perm[m]] = m
    flip[t.perm[m]] = t.flip[m]
  }
  return { perm, flip, inputDims: outputDims(t) }
}

/** RAS+ direction matrix, row-major (r, c) = RAS component r of voxel axis c. */
function rasColumns(g: VolumeGeometry): number[] {
  const d = g.directionLps
  const sign = [-1, -1, 1]
  const m = new Array<number>(9)
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m[3 * r + c] = sign[r] * d[3 * c + r]
  return m
}

function inverse3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m
  const A = e * i - f * h, B = f * g - d * i, C = d * h - e * g
  const det = a * A + b * B + c * C
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new Error('Direction matrix is singular: the image axes are not independent')
  }
  const s = 1 / det
  return [A * s, (c * h - b * i) * s, (b * f - c * e) * s, B * s, (a * i - c * g) * s, (c * d - a * f) * s, C * s, (b * g - a * h) * s, (a * e - b * d) * s]
}

/**
 * The closest rotation(-reflection) to a direction matrix (polar decomposition), as nibabel's
 * `io_orientation` computes with an SVD: Newton's iteration X <- (X + X^-T) / 2 converges to the same
 * orthogonal factor, in one step for the orthonormal directions real images have.
 */
function orthogonalFactor(m: number[]): number[] {
  let x = m.slice()
  for (let it = 0; it < 50; it++) {
    const inv = inverse3(x)
    const next = x.map((v, idx) => 0.5 * (v + inv[3 * (idx % 3) + Math.floor(idx / 3)]))
    const change = next.reduce((s, v, idx) => Math.max(s, Math.abs(v - x[idx])), 0)
    x = next
    if (change < 1e-15) break
  }
  return x
}

/**
 * nibabel's `io_orientation` on our geometry: for each voxel axis in turn, the RAS world axis it is
 * closest to (largest absolute component, first on ties, each world axis used once) and whether it runs
 * along (+1) or against (-1) it.
 */
export function ioOrientation(g: VolumeGeometry): Array<{ worldAxis: number; sign: 1 | -1 }> {
  const r = orthogonalFactor(rasColumns(g))
  const out: Array<{ worldAxis: number; sign: 1 | -1 }> = []
  for (let c = 0; c < 3; c++) {
    let best = 0
    for (let row = 1; row < 3; row++) if (Math.abs(r[3 * row + c]) > Math.abs(r[3 * best + c])) best = row
    if (r[3 * best + c] === 0) throw new Error(`voxel axis ${c} has no orientation`)
    out.push({ worldAxis: best, sign: r[3 * best + c] < 0 ? -1 : 1 })
    for (let cc = 0; cc < 3; cc++) r[3 * best + cc] = 0
  }
  return out
}

/** Axis codes as nibabel writes them (the direction of increasing index): 'LAS' for a typical autoPET NIfTI. */
export function axisCodes(g: VolumeGeometry): string {
  const labels = [['L', 'R'], ['P', 'A'], ['I', 'S']]
  return ioOrientation(g).map((o) => labels[o.worldAxis][o.sign > 0 ? 1 : 0]).join('')
}

/**
 * The permutation and flips MONAI's `Orientation(axcodes='RAS')` applies (method §2.3): after it, voxel
 * axis 0 increases towards patient Right, axis 1 towards Anterior, axis 2 towards Superior.
 */
export function rasOrientation(g: VolumeGeometry): AxisTransform {
  const perm: Vec3 = [0, 0, 0]
  const flip: [boolean, boolean, boolean] = [false, false, false]
  ioOrientation(g).forEach((o, inputAxis) => {
    perm[o.worldAxis] = inputAxis
    flip[o.worldAxis] = o.sign < 0
  })
  return { perm, flip, inputDims: [...g.dims] }
}

/** The geometry of the transformed array: every voxel keeps its world position. */
export function transformGeometry(g: VolumeGeometry, t: AxisTransform): VolumeGeometry {
  if (g.dims.some((n, a) => n !== t.inputDims[a])) throw new RangeError(`transform made for ${t.inputDims.join('x')}, grid is ${g.dims.join('x')}`)
  const first: Vec3 = [0, 0, 0]
  const spacingMm: Vec3 = [0, 0, 0]
  const directionLps = new Array<number>(9) as Mat3
  for (let m = 0; m < 3; m++) {
    const a = t.perm[m]
    if (t.flip[m]) first[a] = g.dims[a] - 1
    spacingMm[m] = g.spacingMm[a]
    const s = t.flip[m] ? -1 : 1
    // `0 * -1` would leave -0 in the matrix: harmless, but it prints oddly.
    for (let r = 0; r < 3; r++) directionLps[3 * m + r] = g.directionLps[3 * a + r] * s + 0
  }
  return { dims: outputDims(t), spacingMm, originLps: indexToWorld(g, first), directionLps }
}

/**
 * The voxels rearranged by `t` (a new array of the same type). The inverse is
 * `applyAxisTransform(out, inverseAxisTransform(t))`, exact.
 */
export function applyAxisTransform<T extends Voxels>(voxels: T, t: AxisTransform): T {
  const [nx, ny, nz] = t.inputDims
  if (voxels.length !== nx * ny * nz) throw new RangeError(`${voxels.length} values for a ${t.inputDims.join('x')} grid`)
  const out = new (voxels.constructor as new (n: number) => T)(voxels.length)
  if (isIdentity(t)) {
    out.set(voxels)
    return out
  }
  const inputStride = [1, nx, nx * ny]
  const [ox, oy, oz] = outputDims(t)
  // Step (in input elements) per output index along each output axis, and the input index of output (0,0,0).
  const step = [0, 0, 0]
  let base = 0
  for (let m = 0; m < 3; m++) {
    const a = t.perm[m]
    step[m] = t.flip[m] ? -inputStride[a] : inputStride[a]
    if (t.flip[m]) base += (t.inputDims[a] - 1) * inputStride[a]
  }
  const [sx, sy, sz] = step
  let o = 0
  for (let k = 0; k < oz; k++) {
    for (let j = 0; j < oy; j++) {
      let p = base + j * sy + k * sz
      if (sx === 1) {
        out.set(voxels.subarray(p, p + ox), o)
        o += ox
        continue
      }
      for (let i = 0; i < ox; i++, p += sx) out[o++] = voxels[p]
    }
  }
  return out
}
