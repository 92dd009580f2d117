// Launches Debian's Chromium through playwright-core, headless, and closes it at teardown.
// Shared by the client's browser test and the example app's.
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
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
  /** Uncaught exceptions thrown in the page (and console errors, when watched), in order. */
  pageErrors: Error[]
}

export interface OpenPageOptions {
  timeoutMs?: number
  context?: BrowserContextOptions
  /** Count console errors as page errors too (an invalid `pattern`, a 404 for a favicon...). */
  consoleErrors?: boolean
}

/**
 * Collects what a page reports as wrong: uncaught exceptions and, with `consoleErrors`,
 * console errors, so a test can insist on none.
 */
export function watchErrors (page: Page, errors: Error[] = [], consoleErrors = true): Error[] {
  page.on('pageerror', (err) => errors.push(err))
  if (consoleErrors) {
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(new Error(`console error: ${message.text()} (${message.location().url})`))
    })
  }
  return errors
}

/** A fresh page (own context) at `url`; page errors are collected for the test to check. */
export async function openPage (t: Test, browser: Browser, url: string, options: OpenPageOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext(options.context)
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(options.timeoutMs ?? 10000)
  const pageErrors = watchErrors(page, [], options.consoleErrors ?? false)
  await page.goto(url)
  return { page, pageErrors }
}
