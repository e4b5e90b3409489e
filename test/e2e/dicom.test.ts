/// <reference lib="dom" />
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium, nonBlankCount, viewPixels } from './support/browser'
import { dataDir, repoRoot, startBrowserMode, type RunningServer } from './support/server'

const RAW_PET = resolve(dataDir, 'mirp-sts001-fdgpet-raw')
const artifacts = resolve(repoRoot, 'test-results/e2e')

interface DebugWindow {
  lesionlabDebug: {
    study(): { name: string; layout: string; pet: { unit: string } } | undefined
    focus(): [number, number, number]
    worldToCanvas(view: string, w: [number, number, number]): [number, number]
  }
}

async function probeSuvAt(page: Page, x: number, y: number): Promise<number> {
  const box = (await page.locator('[data-view=axial]').boundingBox())!
  await page.mouse.move(box.x + x - 3, box.y + y)
  await page.mouse.move(box.x + x, box.y + y)
  const text = await expect
    .poll(async () => (await page.textContent('[data-testid=probe]')) ?? '', { timeout: 5000 })
    .toMatch(/SUV \d+\.\d\d/)
    .then(() => page.textContent('[data-testid=probe]'))
  return Number(/SUV (\d+\.\d\d)/.exec(text ?? '')![1])
}

describe('DICOM PET through the UI, with exact SUV and the SUV panel', () => {
  let server: RunningServer
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true })
    server = await startBrowserMode()
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    await page.goto(server.url)
    await page.waitForFunction(() => (window as unknown as DebugWindow).lesionlabDebug?.study(), null, { timeout: 90_000 })
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('opens the raw Bq/ml PET DICOM folder, shows SUV under the cursor, and a corrected weight changes the values', async () => {
    await page.click('[data-testid=menu-open]')
    // Type once the dialog has listed its starting folder (the app keeps a typed path either way).
    await expect.poll(() => page.locator('[data-testid=open-path]').inputValue(), { timeout: 30_000 }).not.toBe('')
    await page.fill('[data-testid=open-path]', RAW_PET)
    await page.click('[data-testid=open-folder]')
    await page.waitForFunction(() => (window as unknown as DebugWindow).lesionlabDebug.study()?.layout === 'DICOM', null, { timeout: 120_000 })
    await page.waitForTimeout(1000)
    expect(await page.evaluate(() => (window as unknown as DebugWindow).lesionlabDebug.study()?.pet.unit)).toBe('SUVbw')
    const pixels = await viewPixels(page, 'axial')
    expect(nonBlankCount(pixels)).toBeGreaterThan(2000)
    await expect(page.locator('[data-testid=open-suv]').textContent()).resolves.toContain('71 kg')

    // A point with clear uptake: clicking the MIP jumps to the hottest voxel on that line.
    const mip = (await page.locator('[data-view=mip]').boundingBox())!
    await page.mouse.click(mip.x + mip.width / 2, mip.y + mip.height / 2)
    await page.waitForTimeout(500)
    const at = await page.evaluate(() => {
      const d = (window as unknown as DebugWindow).lesionlabDebug
      return d.worldToCanvas('axial', d.focus())
    })
    const before = await probeSuvAt(page, ...at)
    expect(before).toBeGreaterThan(1)

    await page.click('[data-testid=open-suv]')
    await expect(page.locator('[data-testid=suv-status]').textContent()).resolves.toContain('SUVbw')
    await page.fill('[data-testid=suv-weight]', '142')
    await page.click('[data-testid=suv-apply]')
    await expect.poll(() => page.locator('[data-testid=open-suv]').textContent(), { timeout: 30_000 }).toContain('142 kg')
    await page.waitForTimeout(800)
    const after = await probeSuvAt(page, ...at)
    // SUVbw is proportional to body weight: doubling the weight doubles every value.
    expect(after / before).toBeGreaterThan(1.9)
    expect(after / before).toBeLessThan(2.1)
    await page.screenshot({ path: join(artifacts, 'dicom-pet-suv.png') })
  })
})
