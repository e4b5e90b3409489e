import type { Types } from '@cornerstonejs/core'
import type { Vec3 } from '../../../shared/geometry'

/**
 * The crosshair drawn over a view: two SVG lines through the shared focus point, projected with the
 * view's own camera. Kept out of Cornerstone's annotation state because it is view state, not data.
 */
export class CrosshairOverlay {
  private readonly svg: SVGSVGElement
  private readonly horizontal: SVGLineElement
  private readonly vertical: SVGLineElement

  constructor(host: HTMLElement, colour: string) {
    const ns = 'http://www.w3.org/2000/svg'
    this.svg = document.createElementNS(ns, 'svg')
    this.svg.setAttribute('class', 'crosshair-overlay')
    this.svg.style.cssText = 'position:absolute;inset:0;width:100%;height:100%;pointer-events:none;z-index:5'
    this.horizontal = document.createElementNS(ns, 'line')
    this.vertical = document.createElementNS(ns, 'line')
    for (const line of [this.horizontal, this.vertical]) {
      line.setAttribute('stroke', colour)
      line.setAttribute('stroke-width', '1')
      line.setAttribute('stroke-opacity', '0.8')
      line.setAttribute('stroke-dasharray', '6 4')
      this.svg.appendChild(line)
    }
    host.appendChild(this.svg)
  }

  draw(viewport: Pick<Types.IViewport, 'worldToCanvas' | 'canvas'>, worldLps: Vec3): void {
    const [x, y] = viewport.worldToCanvas(worldLps as Types.Point3)
    const { width, height } = viewport.canvas.getBoundingClientRect()
    if (!Number.isFinite(x) || !Number.isFinite(y)) return
    set(this.horizontal, 0, y, width, y)
    set(this.vertical, x, 0, x, height)
  }
}

function set(line: SVGLineElement, x1: number, y1: number, x2: number, y2: number): void {
  line.setAttribute('x1', String(x1))
  line.setAttribute('y1', String(y1))
  line.setAttribute('x2', String(x2))
  line.setAttribute('y2', String(y2))
}
