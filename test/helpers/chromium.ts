// Debian's Chromium driven by playwright-core, headless, closed at teardown.
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

/** Screenshots and other things a person looks at after a run; gitignored. */
export const artifactsDir = fileURLToPath(new URL('../artifacts/', import.meta.url))

export async function launchChromium (t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(() => browser.close())
  await mkdir(artifactsDir, { recursive: true })
  return browser
}
