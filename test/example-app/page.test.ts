// The chat page on one node in Chromium, when the server refuses a channel: for good
// (a bad name) or for now (the node's Redis is away).
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { buildPage } from '../../example-app/build-page.js'
import type { ExampleAppOptions } from '../../example-app/app.js'
import { buildApp } from '../../example-app/app.js'
import { launchBrowser, openPage } from '../helpers/browser.js'
import { artifactsDir, startNode } from '../helpers/example-cluster.js'
import { eventually, freePort, startRedis } from '../helpers/redis-server.js'

// One bundle for this file, in its own folder so that concurrent runs do not share it.
const buildDir = await mkdtemp(join(tmpdir(), 'fastify-realtime-page-'))
t.teardown(() => rm(buildDir, { recursive: true, force: true }))
await buildPage(buildDir)

async function openChat (t: Test, options: ExampleAppOptions = {}): Promise<{ page: Page, pageErrors: Error[], node: Awaited<ReturnType<typeof startNode>> }> {
  const node = await startNode(t, { ...options, pageBuildDir: buildDir })
  const browser = await launchBrowser(t)
  const { page, pageErrors } = await openPage(t, browser, node.url, { consoleErrors: true })
  return { page, pageErrors, node }
}

function systemLines (page: Page): Promise<string[]> {
  return page.$$eval('#messages li.system .text', (items) => items.map((item) => item.textContent ?? ''))
}

t.test('a channel name the page cannot use is refused by the form, without a console error', async (t) => {
  const { page, pageErrors } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await page.fill('#new-channel', 'bad channel!')
  await page.press('#new-channel', 'Enter')
  t.equal(await page.$eval('#new-channel', (input) => (input as HTMLInputElement).validity.patternMismatch), true, 'the pattern attribute works')
  t.equal(await page.locator('#channels li[data-channel="bad channel!"]').count(), 0, 'nothing joined, nothing listed')
  await page.fill('#new-channel', 'team/eu-1')
  await page.press('#new-channel', 'Enter')
  await page.waitForSelector('#channels li[data-channel="team/eu-1"][data-subscribed="true"]')
  t.ok((await systemLines(page)).includes('joined #team/eu-1'), 'a valid name with / and - joins')
  t.same(pageErrors, [], 'no page error, no console error (the pattern compiles under the v flag, the favicon exists)')
})

t.test('a channel the server refuses says why, never "joined", and can be removed', async (t) => {
  const { page, pageErrors } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await page.fill('#new-channel', 'user:someone-else')
  await page.press('#new-channel', 'Enter')
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.system .text'))
    .some((item) => item.textContent?.startsWith('could not join #user:someone-else')))
  const lines = await systemLines(page)
  t.notOk(lines.includes('joined #user:someone-else'), '"joined" is said only after the server confirmed')
  const item = page.locator('#channels li[data-channel="user:someone-else"]')
  t.match(await item.getAttribute('class'), /\brefused\b/)
  t.match(await page.textContent('#room-note'), /^the server refused this channel: /)
  t.equal(await page.isDisabled('#text'), true, 'nothing can be sent to it')
  await item.locator('.remove').click()
  t.equal(await page.locator('#channels li[data-channel="user:someone-else"]').count(), 0, 'removed from the list')
  t.same(pageErrors, [])
})

t.test('a line typed while the server is away is shown as sending, then delivered once', async (t) => {
  const { page, pageErrors, node } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await node.app.close()
  await page.waitForSelector('#status[data-state="reconnecting"]')
  await page.fill('#text', 'typed while offline')
  await page.press('#text', 'Enter')
  const line = page.locator('#messages li.message', { hasText: 'typed while offline' })
  t.equal(await line.getAttribute('data-status'), 'sending')
  t.match(await line.locator('.delivery').textContent(), 'sending')

  // The same port again, as a restarted node would be.
  const again = await buildApp({ pageBuildDir: buildDir })
  t.teardown(() => again.close())
  await again.listen({ port: node.port, host: '127.0.0.1' })
  // The page's next attempt comes after its backoff, which a long outage (a loaded CI machine)
  // stretches up to maxDelay (30 s): wait that long, not playwright's default 10 s.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.message'))
    .some((item) => item.textContent?.includes('typed while offline') && !item.hasAttribute('data-status')), undefined, { timeout: 45_000 })
  t.equal(await page.locator('#messages li.message', { hasText: 'typed while offline' }).count(), 1, 'shown once, not again when it comes back from the server')
  const system = await systemLines(page)
  t.equal(system.filter((text) => text.startsWith('disconnected (')).length, 1, 'one line for the outage')
  t.ok(system.some((text) => /^reconnected after \d+ s/.test(text)), 'and one when it ends')
  t.same(pageErrors.filter((err) => !/WebSocket connection/.test(err.message)), [], 'no error but the refused reconnects of the outage')
})

t.test('a line the server refuses shows "not sent" with a retry', async (t) => {
  const { page, pageErrors } = await openChat(t, { realtime: { allowClientPublish: false } })
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await page.fill('#text', 'nobody may publish')
  await page.press('#text', 'Enter')
  const line = page.locator('#messages li.message', { hasText: 'nobody may publish' })
  await page.waitForSelector('#messages li.message[data-status="failed"]')
  t.match(await line.locator('.delivery').textContent(), /^not sent: /)
  await line.locator('.retry').click()
  await page.waitForSelector('#messages li.message[data-status="failed"]')
  t.equal(await page.locator('#messages li.message', { hasText: 'nobody may publish' }).count(), 1, 'a retry reuses the line')
  t.same(pageErrors, [])
})

for (const width of [1280, 390]) {
  t.test(`at ${width} px wide, long channel names and long words wrap inside the screen`, async (t) => {
    const node = await startNode(t, { pageBuildDir: buildDir })
    const browser = await launchBrowser(t)
    const { page, pageErrors } = await openPage(t, browser, node.url, { consoleErrors: true, context: { viewport: { width, height: 800 } } })
    await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
    const longChannel = `room-${'x'.repeat(195)}`
    await page.fill('#new-channel', longChannel)
    await page.press('#new-channel', 'Enter')
    await page.waitForSelector(`#channels li[data-channel="${longChannel}"][data-subscribed="true"]`)
    await page.fill('#text', `a-very-long-word-${'y'.repeat(300)}`)
    await page.press('#text', 'Enter')
    await page.waitForSelector('#messages li.message:not([data-status])')
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, viewport: window.innerWidth }))
    t.ok(widths.page <= widths.viewport, `the page (${widths.page} px) is not wider than the viewport (${widths.viewport} px)`)
    const send = await page.locator('#send').boundingBox()
    t.ok(send !== null && send.x + send.width <= width, 'the Send button is on screen')
    await mkdir(artifactsDir, { recursive: true })
    await page.screenshot({ path: join(artifactsDir, `chat-${width}px.png`), fullPage: true })
    t.same(pageErrors, [])
  })
}

t.test('a page that reloads shows the room\'s recent lines again, each once', async (t) => {
  const { page, pageErrors, node } = await openChat(t)
  for (const text of ['first', 'second']) {
    const response = await node.app.inject({ method: 'POST', url: '/api/channels/general/messages', payload: { text, from: 'ci' } })
    t.equal(response.statusCode, 200)
  }
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await page.fill('#text', 'typed before the reload')
  await page.press('#text', 'Enter')
  await page.waitForSelector('#messages li.message:not([data-status]) >> text=typed before the reload')
  await page.reload()
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  const texts = await page.$$eval('#messages li.message .text', (items) => items.map((item) => item.textContent))
  t.same(texts, ['first', 'second', 'typed before the reload'], 'from the history, in order, once each')
  await node.app.inject({ method: 'POST', url: '/api/channels/general/messages', payload: { text: 'live after the reload' } })
  await page.waitForSelector('#messages li.message >> text=live after the reload')
  t.equal(await page.locator('#messages li.message').count(), 4, 'no gap and no duplicate between the history and live lines')
  t.same(pageErrors, [])
})

t.test('a reconnect that cannot recover says so; "reconnect now" retries while waiting', async (t) => {
  const { page, pageErrors, node } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  t.equal(await page.isHidden('#reconnect-now'), true, 'no retry button while connected')
  await node.app.close()
  // While the node is away the page offers to retry at once; a retry that fails leaves it offered.
  await page.click('#reconnect-now')
  await page.waitForSelector('#reconnect-now:visible')
  // A new process' embedded broker starts a new epoch: what was published meanwhile is gone.
  const again = await buildApp({ pageBuildDir: buildDir })
  t.teardown(() => again.close())
  await again.listen({ port: node.port, host: '127.0.0.1' })
  await page.click('#reconnect-now').catch(() => {}) // gone already if the client's own retry got there first
  await page.waitForSelector('#status[data-state="open"]')
  t.equal(await page.isHidden('#reconnect-now'), true)
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.system .text'))
    .some((item) => item.textContent === 'some messages in #general were lost while disconnected (the server no longer had them)'))
  t.pass('the lost messages are told in the conversation')
  t.same(pageErrors.filter((err) => !/WebSocket connection/.test(err.message)), [])
})

t.test('after a final close (1008) the page says so and can start again without a reload', async (t) => {
  const { page, pageErrors, node } = await openChat(t)
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  for (const connection of node.app.realtime.connections()) connection.close(1008, 'session ended')
  await page.waitForSelector('#start-again:visible')
  t.ok((await systemLines(page)).some((line) => line.startsWith('disconnected for good (1008 session ended)')))
  t.equal(await page.getAttribute('#status', 'data-state'), 'closed')
  await page.click('#start-again')
  await page.waitForSelector('#status[data-state="open"]')
  await page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  t.equal(await page.isHidden('#start-again'), true)
  await node.app.inject({ method: 'POST', url: '/api/channels/general/messages', payload: { text: 'after starting again' } })
  await page.waitForSelector('#messages li.message >> text=after starting again')
  t.same(pageErrors, [])
})

t.test('the room shows who is in it, by the name each page chats under', async (t) => {
  const node = await startNode(t, { pageBuildDir: buildDir })
  const browser = await launchBrowser(t)
  const ada = await openPage(t, browser, node.url, { consoleErrors: true })
  await ada.page.fill('#name', 'ada')
  await ada.page.dispatchEvent('#name', 'change')
  await ada.page.reload()
  await ada.page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await ada.page.waitForFunction(() => document.getElementById('members')?.textContent === 'here: ada')
  const bob = await openPage(t, browser, node.url, { consoleErrors: true })
  await bob.page.fill('#name', 'bob')
  await bob.page.dispatchEvent('#name', 'change')
  await bob.page.reload()
  await bob.page.waitForSelector('#channels li[data-channel="general"][data-subscribed="true"]')
  await ada.page.waitForFunction(() => /^here: (ada, bob|bob, ada)$/.test(document.getElementById('members')?.textContent ?? ''))
  t.pass('ada sees bob join')
  await bob.page.close()
  await ada.page.waitForFunction(() => document.getElementById('members')?.textContent === 'here: ada')
  t.pass('and leave')
  t.same([...ada.pageErrors, ...bob.pageErrors], [])
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
  // The room's history cannot be read while Redis is away: that request is answered 503, which
  // Chromium reports on the console. Nothing else may be.
  t.same(pageErrors.filter((err) => !/status of 503/.test(err.message)), [])
})
