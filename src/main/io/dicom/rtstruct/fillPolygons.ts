/**
 * Even-odd fill of closed polygons at pixel centres on an nx x ny slice. Coordinates are continuous
 * pixel indices (pixel (i, j) has its centre at (i, j)). All polygons are filled together, so a
 * polygon inside another one cuts a hole, as the even-odd rule of RTSTRUCT contours wants.
 *
 * Written by hand: Cornerstone's contour tools fill in canvas/world space for display, and no library
 * at hand rasterises to a voxel grid in Node. A pixel is inside when a ray from its centre towards +i
 * crosses an odd number of edges; edges count half-open in j (from <= j < to), so a vertex on a scan
 * line is counted once and horizontal edges never.
 *
 * Calls `visit(index)` (index = i + nx * j) for every pixel inside; returns how many there were.
 */
export function fillPolygonsEvenOdd(
  polygons: readonly Float64Array[],
  nx: number,
  ny: number,
  visit: (index: number) => void,
): number {
  let jMin = Infinity
  let jMax = -Infinity
  for (const poly of polygons) {
    for (let p = 1; p < poly.length; p += 2) {
      if (poly[p] < jMin) jMin = poly[p]
      if (poly[p] > jMax) jMax = poly[p]
    }
  }
  const firstRow = Math.max(0, Math.ceil(jMin))
  const lastRow = Math.min(ny - 1, Math.floor(jMax))
  const crossings: number[] = []
  let filled = 0
  for (let j = firstRow; j <= lastRow; j++) {
    crossings.length = 0
    for (const poly of polygons) {
      const n = poly.length / 2
      for (let a = 0, b = n - 1; a < n; b = a++) {
        const ya = poly[2 * a + 1]
        const yb = poly[2 * b + 1]
        if (ya <= j !== yb <= j) {
          const xa = poly[2 * a]
          const xb = poly[2 * b]
          crossings.push(xa + ((j - ya) * (xb - xa)) / (yb - ya))
        }
      }
    }
    crossings.sort((u, v) => u - v)
    // Inside where an odd number of crossings lie at or beyond i: i in [x0, x1), [x2, x3), ...
    for (let c = 0; c + 1 < crossings.length; c += 2) {
      const from = Math.max(0, Math.ceil(crossings[c]))
      const to = Math.min(nx - 1, Math.ceil(crossings[c + 1]) - 1)
      for (let i = from; i <= to; i++) {
        visit(i + nx * j)
        filled++
      }
    }
  }
  return filled
}
