import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { PNG } from 'pngjs'

/** Debian's Chromium (CI installs it with apt); override with CHROMIUM_PATH. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[]
  const found = candidates.find((p) => existsSync(p))
  if (!found) throw new Error(`No Chromium found (tried ${candidates.join(', ')}); install it with "apt-get install -y chromium" or set CHROMIUM_PATH`)
  return found
}

/** Headless Chromium with WebGL2 through SwiftShader (stack notes' recipe); playwright gives each launch a fresh profile. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  })
}

export interface Pixels {
  width: number
  height: number
  rgba: Uint8Array
}

export async function viewPixels(page: Page, view: string): Promise<Pixels> {
  const png = PNG.sync.read(await page.locator(`[data-view=${view}]`).screenshot())
  return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) }
}

/** Pixels that are not (near) black. */
export function nonBlankCount(p: Pixels): number {
  let n = 0
  for (let i = 0; i < p.rgba.length; i += 4) if (p.rgba[i] + p.rgba[i + 1] + p.rgba[i + 2] > 30) n++
  return n
}

/** Pixels that differ between two same-size images, and their centroid. */
export function difference(a: Pixels, b: Pixels, threshold = 30): { count: number; centroid: [number, number] } {
  let n = 0
  let sx = 0
  let sy = 0
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const i = 4 * (y * a.width + x)
      const d = Math.abs(a.rgba[i] - b.rgba[i]) + Math.abs(a.rgba[i + 1] - b.rgba[i + 1]) + Math.abs(a.rgba[i + 2] - b.rgba[i + 2])
      if (d > threshold) {
        n++
        sx += x
        sy += y
      }
    }
  }
  return { count: n, centroid: n ? [sx / n, sy / n] : [NaN, NaN] }
}

/** Mean colour of the pixels in a square around a point. */
export function meanColour(p: Pixels, at: [number, number], half = 3): [number, number, number] {
  const sum = [0, 0, 0]
  let n = 0
  for (let y = Math.round(at[1]) - half; y <= Math.round(at[1]) + half; y++) {
    for (let x = Math.round(at[0]) - half; x <= Math.round(at[0]) + half; x++) {
      if (x < 0 || y < 0 || x >= p.width || y >= p.height) continue
      const i = 4 * (y * p.width + x)
      sum[0] += p.rgba[i]
      sum[1] += p.rgba[i + 1]
      sum[2] += p.rgba[i + 2]
      n++
    }
  }
  return sum.map((s) => s / Math.max(1, n)) as [number, number, number]
}
