/// <reference lib="dom" />
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from './support/browser'
import { repoRoot, startBrowserMode, type RunningServer } from './support/server'

/** The shipped demonstration model set (`npm run train:demo`). LESIONLAB_SHIPPED_MODELS moves the folder, as it does for the app. */
const shippedModels = process.env.LESIONLAB_SHIPPED_MODELS ?? resolve(repoRoot, 'resources/models')
const DEMO_SET = 'lesionlab-demo-synthetic-phantoms'
const demoDir = join(shippedModels, DEMO_SET)
const artifacts = resolve(repoRoot, 'test-results/e2e')

// The user's model folder (where fine-tuned sets go) is temporary and starts empty.
const dataDir = mkdtempSync(join(tmpdir(), 'lesionlab-e2e-finetune-'))
const userModels = join(dataDir, 'models')

interface DebugWindow {
  lesionlabDebug: { study(): { name: string } | undefined }
}

/** sha256 of every file of a model set folder, by name. */
function hashFolder(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir).sort()) out[name] = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')
  return out
}

function userModelEntries(): string[] {
  return existsSync(userModels) ? readdirSync(userModels).sort() : []
}

async function stepShown(page: Page): Promise<number> {
  const text = (await page.locator('[data-testid=ft-step]').textContent()) ?? ''
  return Number(/Step\s+(\d+)/.exec(text)?.[1] ?? NaN)
}

async function openFineTune(page: Page): Promise<void> {
  await page.locator('[data-testid=open-fine-tune]').click()
  await page.locator('[data-testid=fine-tune-panel]').waitFor({ timeout: 10_000 })
  await expect.poll(() => page.locator('[data-testid=ft-base]').inputValue(), { timeout: 20_000 }).not.toBe('')
}

describe('fine-tuning in the browser, from the demo study', () => {
  let server: RunningServer
  let browser: Browser
  let page: Page
  let baseHashes: Record<string, string>
  const pageErrors: string[] = []

  beforeAll(async () => {
    if (!existsSync(join(demoDir, 'model.json'))) throw new Error(`${demoDir} is missing: make the demo model set with "npm run train:demo"`)
    mkdirSync(artifacts, { recursive: true })
    baseHashes = hashFolder(demoDir)
    server = await startBrowserMode([], { LESIONLAB_DATA_DIR: dataDir })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(server.url)
    await page.waitForFunction(() => (window as unknown as DebugWindow).lesionlabDebug?.study()?.name === 'Demo FDG phantom', null, { timeout: 90_000 })
  })

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('fine-tunes the demo set on the open study into a new set, leaving the original byte for byte as it was', async () => {
    // The shortcut opens the panel and Escape closes it (no run going).
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
    await page.keyboard.press('Shift+T')
    await page.locator('[data-testid=fine-tune-panel]').waitFor({ timeout: 10_000 })
    await page.keyboard.press('Escape')
    await page.locator('[data-testid=fine-tune-panel]').waitFor({ state: 'detached', timeout: 10_000 })

    await openFineTune(page)
    expect(await page.locator('[data-testid=ft-base]').inputValue()).toBe(DEMO_SET)
    expect(await page.locator('[data-testid=ft-base] option:checked').textContent()).toContain('demonstration')
    expect(await page.locator('[data-testid=ft-name]').inputValue()).toMatch(new RegExp(`^${DEMO_SET}-tuned-\\d{8}-\\d{4}`))
    expect(await page.locator('[data-testid=ft-use-current]').isChecked()).toBe(true)
    expect(await page.locator('[data-testid=ft-review-state]').textContent()).toContain('unreviewed')
    // The study's review is not done: refused until the user says to use it anyway.
    expect(await page.locator('[data-testid=ft-start]').isDisabled()).toBe(true)
    await page.locator('[data-testid=ft-include-unreviewed]').check()
    expect(await page.locator('[data-testid=ft-start]').isDisabled()).toBe(false)

    // Defaults are the main process's; a bad value is said inline and blocks Start.
    expect(await page.locator('[data-testid=ft-steps]').inputValue()).toBe('200')
    expect(await page.locator('[data-testid=ft-patch]').inputValue()).toBe('64')
    await page.locator('[data-testid=ft-lr]').fill('0')
    expect(await page.locator('[data-testid=ft-start]').isDisabled()).toBe(true)
    expect(await page.locator('[data-testid=fine-tune-panel]').textContent()).toContain('Greater than 0')
    await page.locator('[data-testid=ft-lr]').fill('0.00002')
    await page.locator('[data-testid=ft-folds]').fill('3')
    expect(await page.locator('[data-testid=ft-start]').isDisabled()).toBe(true)
    expect(await page.locator('[data-testid=fine-tune-panel]').textContent()).toContain('This set has 1 fold(s)')
    await page.locator('[data-testid=ft-folds]').fill('0')

    await page.locator('[data-testid=ft-steps]').fill('4')
    await page.locator('[data-testid=ft-patch]').selectOption('32')
    await page.locator('[data-testid=ft-batch]').fill('1')
    await page.locator('[data-testid=ft-validation]').selectOption('current')
    await page.locator('[data-testid=ft-validate-every]').fill('2')
    await page.locator('[data-testid=ft-threads]').fill('1')
    const started = Date.now()
    await page.locator('[data-testid=ft-start]').click()
    await page.locator('[data-testid=ft-result]').or(page.locator('[data-testid=ft-error]')).waitFor({ timeout: 120_000 })
    expect(await page.locator('[data-testid=ft-error]').count(), (await page.locator('[data-testid=ft-error]').textContent().catch(() => '')) ?? '').toBe(0)
    console.info(`[fine-tune e2e] 4 steps with validation in ${((Date.now() - started) / 1000).toFixed(1)} s`)

    const newId = ((await page.locator('[data-testid=ft-result-id]').textContent()) ?? '').trim()
    expect(newId).toMatch(new RegExp(`^${DEMO_SET}-tuned-`))
    expect(await page.locator('[data-testid=ft-dice-before]').first().textContent()).toMatch(/^\d\.\d{3}$/)
    expect(await page.locator('[data-testid=ft-dice-after]').first().textContent()).toMatch(/^\d\.\d{3}$/)
    expect(await page.locator('[data-testid=ft-result]').textContent()).toContain('The original model set is unchanged')
    expect(await page.locator('[data-testid=ft-loss-plot] polyline').getAttribute('points')).toMatch(/\d+(\.\d+)?,\d+(\.\d+)? .+/)
    await page.screenshot({ path: join(artifacts, 'fine-tune-result.png') })

    // The new set is in the user's folder, and both sets are listed.
    expect(existsSync(join(userModels, newId, 'model.json'))).toBe(true)
    await page.locator('[data-testid=ft-close]').click()
    await openFineTune(page)
    const listed = await page.locator('[data-testid=ft-base] option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))
    expect(listed).toEqual(expect.arrayContaining([DEMO_SET, newId]))
    // A next run gets a fresh name, not the one just taken.
    expect(await page.locator('[data-testid=ft-name]').inputValue()).not.toBe(newId)

    // The base set is untouched, file for file.
    expect(hashFolder(demoDir)).toEqual(baseHashes)

    // "Segment with the new set" opens Segment on it.
    await page.locator('[data-testid=ft-segment-new]').click()
    await page.locator('[data-testid=segment-panel]').waitFor({ timeout: 10_000 })
    await expect.poll(() => page.locator('[data-testid=model-set]').inputValue(), { timeout: 20_000 }).toBe(newId)
    await page.keyboard.press('Escape')
    await page.locator('[data-testid=segment-panel]').waitFor({ state: 'detached', timeout: 10_000 })
    expect(pageErrors).toEqual([])
  })

  it('pauses (the step count stops), resumes and cancels a run; no model set is left behind', async () => {
    const before = userModelEntries()
    await openFineTune(page)
    await page.locator('[data-testid=ft-include-unreviewed]').check()
    await page.locator('[data-testid=ft-steps]').fill('500')
    await page.locator('[data-testid=ft-patch]').selectOption('32')
    await page.locator('[data-testid=ft-batch]').fill('1')
    await page.locator('[data-testid=ft-validation]').selectOption('none')
    await page.locator('[data-testid=ft-threads]').fill('1')
    await page.locator('[data-testid=ft-start]').click()
    await page.locator('[data-testid=ft-step]').waitFor({ timeout: 60_000 })
    expect(await page.locator('[data-testid=ft-progress]').textContent()).toContain('Step')

    // Escape does not close the panel of a running run.
    await page.keyboard.press('Escape')
    await page.waitForTimeout(200)
    expect(await page.locator('[data-testid=fine-tune-panel]').count()).toBe(1)

    await page.locator('[data-testid=ft-pause]').click()
    await expect.poll(() => page.locator('[data-testid=ft-pause]').textContent(), { timeout: 10_000 }).toBe('Resume')
    // The worker says so once the step under way has finished and the run stands still.
    await expect.poll(() => page.locator('[data-testid=ft-progress]').textContent(), { timeout: 30_000 }).toContain('Paused after step')
    const pausedAt = await stepShown(page)
    expect(pausedAt).toBeGreaterThan(0)
    await page.waitForTimeout(2000)
    expect(await stepShown(page)).toBe(pausedAt)

    await page.locator('[data-testid=ft-pause]').click()
    await expect.poll(() => page.locator('[data-testid=ft-pause]').textContent(), { timeout: 10_000 }).toBe('Pause')
    await expect.poll(() => stepShown(page), { timeout: 30_000 }).toBeGreaterThan(pausedAt)

    // Hidden and reopened, the panel follows the same run.
    await page.locator('[data-testid=ft-close]').click()
    await page.locator('[data-testid=fine-tune-panel]').waitFor({ state: 'detached', timeout: 10_000 })
    await page.locator('[data-testid=open-fine-tune]').click()
    await page.locator('[data-testid=ft-step]').waitFor({ timeout: 10_000 })
    expect(await page.locator('[data-testid=ft-start]').count()).toBe(0)

    // A reloaded window finds the run again (train.status) and can still cancel it.
    await page.reload()
    await page.locator('[data-testid=open-fine-tune]').waitFor({ timeout: 60_000 })
    await expect.poll(() => page.locator('[data-testid=open-fine-tune]').getAttribute('class'), { timeout: 20_000 }).toContain('active')
    await page.locator('[data-testid=open-fine-tune]').click()
    await page.locator('[data-testid=ft-step]').waitFor({ timeout: 20_000 })
    expect(await page.locator('[data-testid=ft-start]').count()).toBe(0)

    console.info(`[fine-tune e2e] paused at step ${pausedAt}, cancelling at step ${await stepShown(page)} of 500`)
    await page.locator('[data-testid=ft-cancel]').click()
    await page.locator('[data-testid=ft-cancelled]').or(page.locator('[data-testid=ft-error]')).waitFor({ timeout: 30_000 })
    expect(await page.locator('[data-testid=ft-cancelled]').textContent()).toContain('cancelled')
    expect(await page.locator('[data-testid=ft-result]').count()).toBe(0)
    // The form is back for another try.
    expect(await page.locator('[data-testid=ft-start]').isVisible()).toBe(true)
    // No new set, and no half-written one.
    await expect.poll(() => userModelEntries(), { timeout: 10_000 }).toEqual(before)
    expect(hashFolder(demoDir)).toEqual(baseHashes)
    expect(pageErrors).toEqual([])
  })
})
