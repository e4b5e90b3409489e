/// <reference lib="dom" />
import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { indexToWorld, type Vec3 } from '../../src/shared/geometry'
import { readNiftiFile } from '../../src/main/io/nifti/readNifti'
import { difference, launchChromium, meanColour, nonBlankCount, viewPixels } from './support/browser'
import { dataDir, repoRoot, startBrowserMode, type RunningServer } from './support/server'

const STS_001 = resolve(dataDir, 'mirp-sts-petct/STS_001')
const artifacts = resolve(repoRoot, 'test-results/e2e')

interface DebugWindow {
  lesionlabDebug: {
    study(): { name: string } | undefined
    setFocus(w: Vec3): void
    focus(): Vec3
    worldToCanvas(view: string, w: Vec3): [number, number]
  }
}

async function waitForStudy(page: Page, name: string): Promise<void> {
  try {
    await page.waitForFunction((n) => (window as unknown as DebugWindow).lesionlabDebug?.study()?.name === n, name, { timeout: 90_000 })
  } catch (e) {
    // Say what the page showed instead: its errors and toasts, and a screenshot.
    await page.screenshot({ path: join(artifacts, `waiting-for-${name.replace(/\W+/g, '_')}.png`) }).catch(() => undefined)
    const shown = await page.locator('[data-testid=error]').allTextContents().catch(() => [])
    throw new Error(`study "${name}" did not open: ${(e as Error).message}; error toasts: ${JSON.stringify(shown)}`)
  }
  await page.waitForTimeout(800) // let the GPU (SwiftShader) finish the frame
}

async function pollUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let value = await read()
  while (!ok(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 300))
    value = await read()
  }
  return value
}

describe('browser mode, end to end in Chromium', () => {
  let server: RunningServer
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true })
    server = await startBrowserMode()
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(server.url)
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('starts on the built-in demo study with all four views drawn', async () => {
    await waitForStudy(page, 'Demo FDG phantom')
    for (const view of ['axial', 'coronal', 'sagittal', 'mip']) {
      const pixels = await pollUntil(() => viewPixels(page, view), (p) => nonBlankCount(p) > 2000)
      expect(nonBlankCount(pixels), `${view} view is blank`).toBeGreaterThan(2000)
    }
    await expect(page.locator('[data-testid=study-header]').textContent()).resolves.toContain('FDG')
  })

  it('opens a real PET/CT study (STS_001) through File > Open study and shows it fused, with its mask', async () => {
    await page.click('[data-testid=menu-open]')
    // Type once the dialog has listed its starting folder (the app keeps a typed path either way).
    await expect.poll(() => page.locator('[data-testid=open-path]').inputValue(), { timeout: 30_000 }).not.toBe('')
    await page.fill('[data-testid=open-path]', STS_001)
    await page.click('[data-testid=open-folder]')
    await waitForStudy(page, 'STS_001')

    for (const view of ['axial', 'coronal', 'sagittal', 'mip']) {
      const pixels = await pollUntil(() => viewPixels(page, view), (p) => nonBlankCount(p) > 5000)
      expect(nonBlankCount(pixels), `${view} view is blank`).toBeGreaterThan(5000)
    }

    // Centre the views on the mask's centroid, then compare the axial view with the mask shown and hidden.
    const mask = await readNiftiFile(join(STS_001, 'PET/nifti/mask/mask.nii.gz'))
    const [nx, ny] = mask.geometry.dims
    const sum = [0, 0, 0]
    let count = 0
    mask.voxels.forEach((v, i) => {
      if (!v) return
      sum[0] += i % nx
      sum[1] += Math.floor(i / nx) % ny
      sum[2] += Math.floor(i / (nx * ny))
      count++
    })
    expect(count).toBeGreaterThan(10)
    const centroidWorld = indexToWorld(mask.geometry, sum.map((s) => Math.round(s / count)) as Vec3)
    await page.evaluate((w) => (window as unknown as DebugWindow).lesionlabDebug.setFocus(w), centroidWorld)
    await page.waitForTimeout(800)
    const at = await page.evaluate((w) => (window as unknown as DebugWindow).lesionlabDebug.worldToCanvas('axial', w), centroidWorld)
    const withMask = await viewPixels(page, 'axial')
    await page.keyboard.press('m')
    const withoutMask = await pollUntil(() => viewPixels(page, 'axial'), (p) => difference(withMask, p).count > 200)
    const diff = difference(withMask, withoutMask)
    expect(diff.count, 'hiding the mask changed nothing').toBeGreaterThan(200)
    // The overlay sits where the mask is: the changed pixels centre near the mask's centroid ...
    expect(Math.hypot(diff.centroid[0] - at[0], diff.centroid[1] - at[1])).toBeLessThan(60)
    // ... and is drawn green over the lesion.
    const greenGain = meanColour(withMask, at)[1] - meanColour(withoutMask, at)[1]
    expect(greenGain).toBeGreaterThan(10)
    await page.keyboard.press('m')

    // A preset key changes the CT window.
    await page.keyboard.press('1')
    await page.waitForTimeout(500)
    const softTissue = await viewPixels(page, 'axial')
    await page.keyboard.press('2')
    const lung = await pollUntil(() => viewPixels(page, 'axial'), (p) => difference(softTissue, p).count > 2000)
    expect(difference(softTissue, lung).count).toBeGreaterThan(2000)
    await expect(page.locator('[data-testid=ct-lung]').getAttribute('class')).resolves.toContain('active')
    await page.keyboard.press('1')

    // SUV and HU under the cursor.
    const box = (await page.locator('[data-view=axial]').boundingBox())!
    await page.mouse.move(box.x + at[0], box.y + at[1])
    await expect.poll(() => page.textContent('[data-testid=probe]'), { timeout: 5000 }).toMatch(/SUV \d+\.\d\d.*HU -?\d+/)

    await page.waitForTimeout(500)
    await page.screenshot({ path: join(artifacts, 'sts001-browser-mode.png') })
    expect(pageErrors).toEqual([])
  })

  it('opens CT and PET NIfTI files dropped on the window (same file names, roles from content)', async () => {
    const files = ['CT', 'PET'].map((m) => ({
      name: 'image.nii.gz',
      base64: readFileSync(join(dataDir, `mirp-sts-petct/STS_002/${m}/nifti/image/image.nii.gz`)).toString('base64'),
    }))
    // PET first: the app must still find the CT by its content.
    files.reverse()
    await page.evaluate((dropped) => {
      const transfer = new DataTransfer()
      for (const f of dropped) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))
        transfer.items.add(new File([bytes], f.name))
      }
      document.querySelector('.app')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }))
    }, files)
    await waitForStudy(page, 'Dropped study')
    const pixels = await pollUntil(() => viewPixels(page, 'axial'), (p) => nonBlankCount(p) > 5000)
    expect(nonBlankCount(pixels)).toBeGreaterThan(5000)
    const header = await page.locator('[data-testid=study-header]').textContent()
    expect(header).toContain('dropped CT + PET files')
  })

  it('says clearly when a study cannot be opened, and keeps the open one', async () => {
    const missing = join(dataDir, 'no-such-study')
    await page.click('[data-testid=menu-open]')
    // Type once the dialog has listed its starting folder (the app keeps a typed path either way).
    await expect.poll(() => page.locator('[data-testid=open-path]').inputValue(), { timeout: 30_000 }).not.toBe('')
    await page.fill('[data-testid=open-path]', missing)
    await page.click('[data-testid=open-folder]')
    const toast = page.locator('[data-testid=error]').last()
    await expect.poll(() => toast.textContent(), { timeout: 15_000 }).toContain(missing)
    expect(await page.evaluate(() => (window as unknown as DebugWindow).lesionlabDebug.study()?.name)).toBe('Dropped study')
  })
})

describe('browser mode, segmenting out of the box', () => {
  it('segments the demo study with the shipped demo model set (labelled a demonstration)', async () => {
    const server = await startBrowserMode()
    const browser = await launchChromium()
    const pageErrors: string[] = []
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
      page.on('pageerror', (e) => pageErrors.push(e.message))
      await page.goto(server.url)
      await waitForStudy(page, 'Demo FDG phantom')
      await page.click('[data-testid=open-segment]')
      const select = page.locator('[data-testid=model-set]')
      await expect.poll(() => select.textContent(), { timeout: 15_000 }).toContain('demonstration, not for clinical use')
      await page.click('[data-testid=segment-run]')
      const masks = () => page.evaluate(() => ((window as unknown as DebugWindow).lesionlabDebug.study() as unknown as { masks: { label: string }[] }).masks.map((m) => m.label))
      const labels = await pollUntil(masks, (l) => l.some((x) => x.startsWith('Automatic (LesionLab demo')), 120_000)
      expect(labels.some((x) => x.startsWith('Automatic (LesionLab demo'))).toBe(true)
      expect(await page.locator('[data-testid=segment-error]').count()).toBe(0)
      // The new mask is shown over the images, which stay drawn (a re-shown mask once blanked the views).
      const axial = await pollUntil(() => viewPixels(page, 'axial'), (p) => nonBlankCount(p) > 5000)
      expect(nonBlankCount(axial)).toBeGreaterThan(5000)
      expect(pageErrors).toEqual([])
      await page.screenshot({ path: join(artifacts, 'demo-segmented.png') })
      // The panel closes by itself when the result is in.
      await expect.poll(() => page.locator('[data-testid=segment-panel]').count()).toBe(0)
      await expect.poll(() => page.locator('[data-testid=loading]').count(), { timeout: 30_000 }).toBe(0)
      expect(pageErrors).toEqual([])
    } finally {
      await browser.close()
      await server.stop()
    }
  })
})

describe('browser mode without any model set', () => {
  it('Segment… says plainly that no model set is installed and how to add one', async () => {
    const empty = join(repoRoot, 'test-results', 'no-models')
    mkdirSync(empty, { recursive: true })
    const server = await startBrowserMode([], { LESIONLAB_SHIPPED_MODELS: empty })
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
      await page.goto(server.url)
      await waitForStudy(page, 'Demo FDG phantom')
      await page.click('[data-testid=open-segment]')
      const message = page.locator('[data-testid=no-models]')
      await expect.poll(() => message.textContent(), { timeout: 15_000 }).toContain('lesionlab model add')
      await expect(page.locator('[data-testid=segment-run]').isDisabled()).resolves.toBe(true)
    } finally {
      await browser.close()
      await server.stop()
    }
  })
})

describe('browser mode with a study path on the command line', () => {
  it('opens that study at start-up instead of the demo', async () => {
    const server = await startBrowserMode([resolve(dataDir, 'mirp-sts-petct/STS_003')])
    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
      await page.goto(server.url)
      await waitForStudy(page, 'STS_003')
      const pixels = await pollUntil(() => viewPixels(page, 'coronal'), (p) => nonBlankCount(p) > 3000)
      expect(nonBlankCount(pixels)).toBeGreaterThan(3000)
    } finally {
      await browser.close()
      await server.stop()
    }
  })
})
