// The chat page on one node in Chromium, when the server refuses a channel: for good
// (a bad name) or for now (the node's Redis is away).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { buildPage } from '../../example-app/build-page.js'
import type { ExampleAppOptions } from '../../example-app/app.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { startNode } from '../helpers/example-cluster.js'
import { eventually, freePort, startRedis } from '../helpers/redis-server.js'

// One bundle for this file, in its own folder so that concurrent runs do not share it.
const buildDir = await mkdtemp(join(tmpdir(), 'fastify-realtime-page-'))
t.teardown(() => rm(buildDir, { recursive: true, force: true }))
await buildPage(buildDir)

async function openChat (t: Test, options: ExampleAppOptions = {}): Promise<{ page: Page, pageErrors: Error[], node: Awaited<ReturnType<typeof startNode>> }> {
  const node = await startNode(t, { ...options, pageBuildDir: buildDir })
  const browser = await launchBrowser(t)
  const { page, pageErrors } = await openPage(t, browser, node.url)
  return { page, pageErrors, node }
}

function systemLines (page: Page): Promise<string[]> {
  return page.$$eval('#messages li.system .text', (items) => items.map((item) => item.textContent ?? ''))
}

t.test('a channel the server refuses is shown as not joined, with the reason', async (t) => {
  const { page, pageErrors } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await page.fill('#new-channel', 'bad channel!')
  await page.press('#new-channel', 'Enter')
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.system .text'))
    .some((item) => item.textContent?.startsWith('could not join #bad channel!')))
  t.ok((await systemLines(page)).includes('could not join #bad channel!: Invalid channel name'))
  const item = page.locator('#channels li[data-channel="bad channel!"]')
  t.equal(await item.getAttribute('class'), 'active', 'listed, not joined and not pending')
  t.equal(await item.locator('.toggle').textContent(), 'join', 'the user can try again')
  t.equal(await page.isDisabled('#text'), true, 'nothing can be sent to it')
  t.same(pageErrors, [])
})

t.test('while the node cannot reach Redis the page says so once, and joins when Redis is back', async (t) => {
  const port = await freePort()
  const { page, pageErrors, node } = await openChat(t, { redis: { url: `redis://127.0.0.1:${port}`, startDegraded: true } })
  const note = 'the server cannot reach its message broker; channels join once it is back'
  await page.waitForFunction((note) => Array.from(document.querySelectorAll('#messages li.system .text')).some((item) => item.textContent === note), note)
  t.match(await page.getAttribute('#channels li[data-channel="general"]', 'class'), /\bjoined\b.*\bpending\b/, 'still joined, waiting')

  await startRedis(t, { port })
  await eventually(() => node.app.realtime.stats().broker === 'ready', 'the broker is ready')
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  t.equal((await systemLines(page)).filter((line) => line === note).length, 1, 'said once, not at every retry')
  t.same(pageErrors, [])
})
