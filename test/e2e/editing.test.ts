/// <reference lib="dom" />
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from './support/browser'
import { repoRoot, startBrowserMode, type RunningServer } from './support/server'

type Vec3 = [number, number, number]
interface DebugWindow {
  lesionlabDebug: {
    study(): { name: string; masks: { label: string }[]; workingMaskId?: string } | undefined
    focus(): Vec3
    worldToCanvas(view: string, w: Vec3): [number, number]
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'lesionlab-e2e-editing-'))

async function lesionCount(page: Page): Promise<number> {
  const text = (await page.textContent('[data-testid=patient-measures]')) ?? ''
  return Number(/Lesions\s*(\d+)/.exec(text)?.[1] ?? NaN)
}

async function tmtv(page: Page): Promise<string> {
  return /TMTV\s*([\d.]+)/.exec((await page.textContent('[data-testid=patient-measures]')) ?? '')?.[1] ?? ''
}

async function openPage(browser: Browser, server: RunningServer): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  await page.goto(server.url)
  await page.waitForFunction(() => (window as unknown as DebugWindow).lesionlabDebug?.study(), null, { timeout: 90_000 })
  await page.waitForFunction(() => /Lesions\s*\d+/.test(document.querySelector('[data-testid=patient-measures]')?.textContent ?? ''), null, { timeout: 30_000 })
  return page
}

/** Canvas position (in page coordinates) of the crosshair in the axial view. */
async function focusOnAxial(page: Page): Promise<{ x: number; y: number }> {
  const at = await page.evaluate(() => {
    const d = (window as unknown as DebugWindow).lesionlabDebug
    return d.worldToCanvas('axial', d.focus())
  })
  const box = (await page.locator('[data-view=axial]').boundingBox())!
  return { x: box.x + at[0], y: box.y + at[1] }
}

describe('review and correction in the browser, on the demo study', () => {
  let server: RunningServer
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    server = await startBrowserMode([], { LESIONLAB_DATA_DIR: dataDir })
    browser = await launchChromium()
    page = await openPage(browser, server)
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('paints a brush stroke, undoes it and redoes it (one stroke, one undo step)', async () => {
    const before = await lesionCount(page)
    await page.keyboard.press('b')
    const box = (await page.locator('[data-view=axial]').boundingBox())!
    // Outside the body on the left of the axial view: a new, separate lesion.
    await page.mouse.move(box.x + 60, box.y + 60)
    await page.mouse.down()
    for (let i = 1; i <= 6; i++) await page.mouse.move(box.x + 60 + i * 5, box.y + 60)
    await page.mouse.up()
    await expect.poll(() => lesionCount(page), { timeout: 20_000 }).toBe(before + 1)
    expect(await page.evaluate(() => (window as unknown as DebugWindow).lesionlabDebug.study()?.workingMaskId)).toBeTruthy()
    await page.keyboard.press('Control+z')
    await expect.poll(() => lesionCount(page), { timeout: 20_000 }).toBe(before)
    await page.keyboard.press('Control+y')
    await expect.poll(() => lesionCount(page), { timeout: 20_000 }).toBe(before + 1)
  })

  it('deletes a lesion by a click, grows it back from a click and accepts it; the comparison with the truth updates', async () => {
    await page.keyboard.press('Escape')
    // The hottest lesion: its table row centres the views on its SUVmax.
    await page.locator('[data-testid=lesion-table] tbody tr').first().click()
    const lesion = await focusOnAxial(page)
    const before = await lesionCount(page)
    await page.keyboard.press('d')
    await page.mouse.click(lesion.x, lesion.y)
    await expect.poll(() => lesionCount(page), { timeout: 20_000 }).toBe(before - 1)

    await page.locator('[data-testid=reference-mask]').selectOption({ label: 'Lesions (phantom truth)' })
    await expect.poll(async () => (await page.textContent('[data-testid=comparison]')) ?? '', { timeout: 20_000 }).toMatch(/FNV\s*[1-9]/)

    // Shortcuts go to the views, not to the select that has the focus.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    await page.keyboard.press('g')
    await expect.poll(() => page.locator('[data-testid=tool-grow]').getAttribute('class')).toContain('active')
    const again = await focusOnAxial(page)
    await page.mouse.click(again.x, again.y)
    await page.waitForTimeout(800)
    expect(await lesionCount(page)).toBe(before - 1) // a preview is not an edit
    await page.keyboard.press('Enter')
    await expect.poll(() => lesionCount(page), { timeout: 20_000 }).toBe(before)
    const comparison = (await page.textContent('[data-testid=comparison]')) ?? ''
    expect(comparison).toMatch(/DSC\s*0\.\d{3}/)
    await page.keyboard.press('Escape')
    await page.screenshot({ path: join(repoRoot, 'test-results/e2e/editing.png') })
  })

  it('keeps every edit when the server is killed mid-session, and shows them on reopening', async () => {
    const count = await lesionCount(page)
    const volume = await tmtv(page)
    server.process.kill('SIGKILL')
    await server.stop()
    server = await startBrowserMode([], { LESIONLAB_DATA_DIR: dataDir })
    await page.close()
    page = await openPage(browser, server)
    await expect.poll(() => page.evaluate(() => (window as unknown as DebugWindow).lesionlabDebug.study()?.workingMaskId), { timeout: 30_000 }).toBeTruthy()
    await expect.poll(() => lesionCount(page), { timeout: 30_000 }).toBe(count)
    expect(await tmtv(page)).toBe(volume)
  })
})
