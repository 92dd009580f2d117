// The fan-out fast path read back by Chromium's own WebSocket: every published frame arrives as
// a text frame whose text equals what was published, in order, across the frame-length
// encodings and unicode.
import t from 'tap'
import { launchBrowser, openPage } from './helpers/browser.js'
import { startServer } from './helpers/server.js'
import { expectedFrame } from './helpers/frames.js'

t.test('Chromium decodes every fanned-out frame to exactly the published text, in order', async (t) => {
  const { app, url } = await startServer(t, {
    setup: (app) => {
      app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>fan-out</title>'))
    }
  })
  const browser = await launchBrowser(t)
  const { page, pageErrors } = await openPage(t, browser, url.replace('ws://', 'http://').replace(/\/ws$/, '/'))

  // A bare browser WebSocket, no client library: what arrives is what Chromium decoded.
  await page.evaluate(async (wsUrl) => {
    const state = { texts: [] as string[], nonText: 0 }
    ;(globalThis as unknown as { received: typeof state }).received = state
    const socket = new WebSocket(wsUrl)
    await new Promise<void>((resolve, reject) => {
      socket.onerror = () => reject(new Error('websocket error'))
      socket.onmessage = (event) => {
        if (typeof event.data !== 'string') { state.nonText++; return }
        const frame = JSON.parse(event.data) as { type: string }
        if (frame.type === 'welcome') socket.send(JSON.stringify({ type: 'subscribe', channel: 'bytes' }))
        else if (frame.type === 'subscribed') resolve()
        else state.texts.push(event.data)
      }
    })
  }, url)

  const overhead = expectedFrame('bytes', '', Date.now()).length
  const frameLengths = [125, 126, 127, 65535, 65536, 65537]
  const payloads: unknown[] = frameLengths.map((length) => 'x'.repeat(length - overhead))
  payloads.push({ text: 'héllo wörld €, 中文, emoji 😀🎉, \u2028 \u2029', nested: [1, null, true, { ключ: 'значение' }] }, '😀'.repeat(20_000), '')
  for (let i = 0; i < 300; i++) payloads.push({ burst: i })
  for (const data of payloads) await app.publish('bytes', data)

  await page.waitForFunction((count) => (globalThis as unknown as { received: { texts: string[] } }).received.texts.length >= count, payloads.length)
  const received = await page.evaluate(() => (globalThis as unknown as { received: { texts: string[], nonText: number } }).received)
  t.equal(received.nonText, 0, 'every frame was a text frame')
  t.equal(received.texts.length, payloads.length, 'one frame per publish')
  let same = 0
  for (let i = 0; i < payloads.length; i++) {
    const text = received.texts[i]!
    const ts = (JSON.parse(text) as { ts: number }).ts
    if (text === expectedFrame('bytes', payloads[i], ts)) same++
    else t.fail(`publish ${i}: decoded text differs from what was published`)
  }
  t.equal(same, payloads.length, 'all frames equal what was published, in publish order')
  t.same(pageErrors, [])
})
