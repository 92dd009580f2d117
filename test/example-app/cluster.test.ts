// The example cluster end to end, as a user runs it: redis-server, two nodes with the Redis
// broker, nginx in front (the repository's nginx.conf with the cookie-hash upstream, so the
// test can pin each browser to a node), and two Chromium pages of the chat.
import { join } from 'node:path'
import t from 'tap'
import type { BrowserContext, Page } from 'playwright-core'
import { buildPage } from '../../example-app/build-page.js'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { launchBrowser, watchErrors } from '../helpers/browser.js'
import { artifactsDir, startNginxFor, startNode, startRedisFor } from '../helpers/example-cluster.js'

/** An rt_affinity cookie value that nginx's consistent hash sends to each node. */
async function cookiesPerNode (nginxUrl: string, nodeIds: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  for (let i = 0; i < 100 && found.size < nodeIds.length; i++) {
    const cookie = `browser-${i}`
    const response = await fetch(`${nginxUrl}/api/stats`, { headers: { cookie: `rt_affinity=${cookie}` } })
    const { nodeId } = await response.json() as { nodeId: string }
    if (!found.has(nodeId)) found.set(nodeId, cookie)
  }
  return found
}

const pageErrors: Error[] = []

async function openChat (context: BrowserContext, url: string, name: string): Promise<Page> {
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  watchErrors(page, pageErrors)
  await page.goto(url)
  await page.fill('#name', name)
  return page
}

function nodeShown (page: Page, nodeId: string): Promise<unknown> {
  return page.waitForFunction((id) => document.getElementById('node-id')?.textContent === id, nodeId)
}

function channelReady (page: Page, channel: string): Promise<unknown> {
  return page.waitForSelector(`#channels li[data-channel="${channel}"][data-subscribed="true"]`)
}

function messageShown (page: Page, from: string, text: string): Promise<unknown> {
  return page.waitForFunction(([from, text]) => Array.from(document.querySelectorAll('#messages li.message')).some((item) =>
    item.querySelector('.from')?.textContent === from && item.querySelector('.text')?.textContent === text), [from, text])
}

async function send (page: Page, text: string): Promise<void> {
  await page.fill('#text', text)
  await page.press('#text', 'Enter')
}

async function post (url: string, body: unknown): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return response.status
}

t.test('two browsers on two nodes chat through nginx and Redis, and survive a node going away', async (t) => {
  // Into a folder of its own, so that concurrent runs do not write one bundle.
  const pageBuildDir = await mkdtemp(join(tmpdir(), 'fastify-realtime-page-'))
  t.teardown(() => rm(pageBuildDir, { recursive: true, force: true }))
  await buildPage(pageBuildDir)
  const redis = await startRedisFor(t)
  const nodeOptions = { redis: { url: redis.url }, trustProxy: '127.0.0.1', pageBuildDir }
  const node1 = await startNode(t, { ...nodeOptions, nodeId: 'node-1' })
  const node2 = await startNode(t, { ...nodeOptions, nodeId: 'node-2' })
  const nginx = await startNginxFor(t, { nodePorts: [node1.port, node2.port], affinity: 'cookie' })

  const cookies = await cookiesPerNode(nginx.url, ['node-1', 'node-2'])
  t.equal(cookies.size, 2, 'nginx spreads rt_affinity cookies over both nodes')

  const browser = await launchBrowser(t)
  await mkdir(artifactsDir, { recursive: true })
  const contexts = await Promise.all(['node-1', 'node-2'].map(async (nodeId) => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } })
    await context.addCookies([{ name: 'rt_affinity', value: cookies.get(nodeId)!, url: nginx.url }])
    return context
  }))
  const alice = await openChat(contexts[0]!, nginx.url, 'alice')
  const bob = await openChat(contexts[1]!, nginx.url, 'bob')

  await t.test('each page shows its node, the connection, latency and stats', async (t) => {
    await nodeShown(alice, 'node-1')
    await nodeShown(bob, 'node-2')
    for (const page of [alice, bob]) {
      await page.waitForSelector('#status[data-state="open"]')
      t.equal(await page.textContent('#status-text'), 'connected')
      await page.waitForFunction(() => /^\d+ ms$/.test(document.getElementById('latency')?.textContent ?? ''))
      await page.waitForFunction(() => document.querySelector('[data-stat="broker"]')?.textContent === 'ready')
      await channelReady(page, 'general')
    }
    t.match(await bob.textContent('#stats-node'), 'node-2', 'stats come from the node the page is on')
  })

  await t.test('a message typed on one page appears on the other', async (t) => {
    await send(alice, 'hello from node 1')
    await messageShown(bob, 'alice', 'hello from node 1')
    await messageShown(alice, 'alice', 'hello from node 1')
    await send(bob, 'hi alice, bob on node 2 here')
    await messageShown(alice, 'bob', 'hi alice, bob on node 2 here')
    t.match(await bob.textContent('#messages li.message:last-child .time'), /^\d{2}:\d{2}:\d{2}/, 'messages show their time')
    await bob.screenshot({ path: join(artifactsDir, 'chat-connected.png') })
  })

  await t.test('a POST to one node reaches the pages on both nodes', async (t) => {
    t.equal(await post(`${node1.url}/api/channels/general/messages`, { text: 'deploy finished', from: 'ci' }), 200)
    await messageShown(alice, 'ci', 'deploy finished')
    await messageShown(bob, 'ci', 'deploy finished')
  })

  await t.test('stopping node 2 sends 1001; its page reconnects through nginx to node 1 with its channels', async (t) => {
    await bob.fill('#new-channel', 'ops-room')
    await bob.press('#new-channel', 'Enter')
    await channelReady(bob, 'ops-room')
    // Record every state the indicator shows, so a short reconnect cannot slip by unseen.
    await bob.evaluate(() => {
      const status = document.getElementById('status')!
      const seen: string[] = []
      ;(window as unknown as { seenStates: string[] }).seenStates = seen
      new MutationObserver(() => seen.push(`${status.dataset.state}: ${status.textContent?.trim()}`))
        .observe(status, { attributes: true, childList: true, subtree: true, characterData: true })
    })

    await node2.app.close()
    await nodeShown(bob, 'node-1')
    await channelReady(bob, 'ops-room')
    await channelReady(bob, 'general')
    await bob.waitForSelector('#status[data-state="open"]')

    const seen = await bob.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates)
    t.ok(seen.some((state) => /^reconnecting: reconnecting( in \d+ s|…)$/.test(state)), `showed reconnecting (${seen.join(' | ')})`)
    const lines = await bob.$$eval('#messages li.system .text', (items) => items.map((item) => item.textContent ?? ''))
    t.equal(lines.filter((line) => line.startsWith('disconnected (1001')).length, 1, 'the page was told 1001 (going away), once')
    t.ok(lines.some((line) => /^reconnected after \d+ s, to node node-1$/.test(line)), 'and how long the outage lasted')

    t.equal(await post(`${node1.url}/api/channels/ops-room/messages`, { text: 'ops still reaches bob', from: 'pager' }), 200)
    await bob.click('#channels li[data-channel="ops-room"] .name')
    await messageShown(bob, 'pager', 'ops still reaches bob')
    await bob.click('#channels li[data-channel="general"] .name')
    await send(alice, 'are you back?')
    await messageShown(bob, 'alice', 'are you back?')
  })

  // Chromium reports failed WebSocket handshakes on the console: from here on every node is down on purpose.
  t.same(pageErrors, [], 'no page or console error in either page')

  await t.test('with every node down the page counts down to its next attempt', async (t) => {
    await node1.app.close()
    await alice.waitForFunction(() => /^reconnecting in \d+ s$/.test(document.getElementById('status-text')?.textContent ?? ''))
    t.equal(await alice.getAttribute('#status', 'data-state'), 'reconnecting')
    t.equal(await alice.textContent('#node-id'), '–', 'no node while disconnected')
    t.equal(await alice.textContent('[data-stat="connections"]'), '–', 'no stale stats while disconnected')
    await alice.screenshot({ path: join(artifactsDir, 'chat-reconnecting.png') })
  })

  t.same(pageErrors.filter((err) => !/^console error/.test(err.message)), [], 'no uncaught error in either page')
})
