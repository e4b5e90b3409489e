// npm run bench:open — how long a whole-body study (PET 400x400x500, CT 512x512x500) takes to open
// in browser mode, and how quickly the viewer answers afterwards (preset change, crosshair drag).
// Headless Chromium renders with SwiftShader (CPU), so GPU machines are much faster than this.
import { existsSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '../test/e2e/support/browser'
import { startBrowserMode } from '../test/e2e/support/server'

const studyDir = join(tmpdir(), 'lesionlab-wholebody')
if (!existsSync(join(studyDir, 'PET/image.nii.gz'))) {
  console.log(`Writing the whole-body study to ${studyDir}…`)
  execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./make-wholebody-study.ts', import.meta.url)), studyDir], { stdio: 'inherit' })
}
const server = await startBrowserMode()
const browser = await launchChromium()
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  const logs: string[] = []
  page.on('console', (m) => m.text().startsWith('[lesionlab]') && logs.push(m.text()))
  await page.goto(server.url)
  await page.waitForFunction(() => (window as unknown as { lesionlabDebug?: { study(): unknown } }).lesionlabDebug?.study(), null, { timeout: 60_000 })
  const frame = (): Promise<unknown> => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))

  let t = Date.now()
  await page.click('[data-testid=menu-open]')
  await page.fill('[data-testid=open-path]', studyDir)
  await page.click('[data-testid=open-folder]')
  await page.waitForFunction(
    (name) => (window as unknown as { lesionlabDebug: { study(): { name: string } | undefined } }).lesionlabDebug.study()?.name === name,
    'lesionlab-wholebody',
    { timeout: 600_000 },
  )
  await frame()
  const openMs = Date.now() - t

  t = Date.now()
  await page.keyboard.press('2')
  await frame()
  const firstPresetMs = Date.now() - t
  t = Date.now()
  await page.keyboard.press('1')
  await frame()
  const presetMs = Date.now() - t

  const box = (await page.locator('[data-view=axial]').boundingBox())!
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.down()
  t = Date.now()
  const steps = 20
  for (let i = 0; i < steps; i++) {
    await page.mouse.move(box.x + box.width / 2 + i * 4, box.y + box.height / 2 + i * 3)
    await frame()
  }
  const dragStepMs = (Date.now() - t) / steps
  await page.mouse.up()

  console.log(logs.filter((l) => l.includes('lesionlab-wholebody')).join('\n'))
  console.log(`open (read, transfer, first frame): ${(openMs / 1000).toFixed(1)} s`)
  console.log(`CT preset change: first ${firstPresetMs} ms, then ${presetMs} ms`)
  console.log(`crosshair drag: ${dragStepMs.toFixed(0)} ms per step (${(1000 / dragStepMs).toFixed(1)} steps/s)`)
} finally {
  await browser.close()
  await server.stop()
}
