/// <reference lib="dom" />
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { _electron as electron } from 'playwright-core'
import { repoRoot } from './support/server'

/** The Electron binary, if one is installed (it cannot be downloaded on CI machines). */
function electronBinary(): string | null {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown
    return typeof path === 'string' && existsSync(path) ? path : null
  } catch {
    return null
  }
}

const binary = electronBinary()
if (!binary) {
  console.log('Skipping the Electron end-to-end test: no Electron binary is installed here (see README, "Desktop app").')
}

describe.skipIf(!binary)('Electron app, end to end', () => {
  it('opens on the demo study over IPC with the views drawn', async () => {
    const app = await electron.launch({ executablePath: binary!, args: [repoRoot], cwd: repoRoot })
    try {
      const page = await app.firstWindow()
      await page.waitForFunction(() => (window as unknown as { lesionlabDebug?: { study(): unknown } }).lesionlabDebug?.study(), null, { timeout: 90_000 })
      expect(await page.evaluate(() => typeof (window as unknown as { lesionlabIpc?: unknown }).lesionlabIpc)).toBe('object')
      expect(await page.evaluate(() => typeof (window as unknown as { require?: unknown }).require)).toBe('undefined')
      await expect(page.locator('[data-testid=study-header]').textContent()).resolves.toContain('Demo')
    } finally {
      await app.close()
    }
  })
})
