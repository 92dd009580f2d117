// Launches Debian's Chromium through playwright-core, headless, and closes it at teardown.
// Shared by the client's browser test and the example app's.
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run'
]

/** A headless Chromium, closed at teardown. */
export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

export interface OpenedPage {
  page: Page
  /** Uncaught exceptions thrown in the page, in order. */
  pageErrors: Error[]
}

/** A fresh page (own context) at `url`; uncaught page errors are collected for the test to check. */
export async function openPage (t: Test, browser: Browser, url: string, timeoutMs = 10000): Promise<OpenedPage> {
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(timeoutMs)
  const pageErrors: Error[] = []
  page.on('pageerror', (err) => pageErrors.push(err))
  await page.goto(url)
  return { page, pageErrors }
}
