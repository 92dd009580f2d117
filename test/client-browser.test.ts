// The client in a real browser: Chromium loads a page that imports the esbuild bundle of
// fastify-realtime/client, subscribes, receives what an HTTP route publishes, survives a
// server restart on the same port and shows its latency.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startServer, type StartedServer } from './helpers/server.js'
import { launchBrowser, openPage } from './helpers/browser.js'
import { bundleClient } from './helpers/client-bundle.js'

const page = `<!doctype html>
<meta charset="utf-8">
<title>fastify-realtime client</title>
<p>state: <span id="state">-</span>, latency: <span id="latency">-</span></p>
<ul id="messages"></ul>
<script type="module">
  import { RealtimeClient } from '/client.js'
  const log = window.log = { states: [], subscribed: 0, messages: [], latencies: [] }
  // Short reconnect delays keep the test quick; the jitter stays on.
  const client = window.client = new RealtimeClient('ws://' + location.host + '/ws', { initialDelay: 50, maxDelay: 200 })
  client.on('state', (state) => {
    log.states.push(state)
    document.getElementById('state').textContent = state
  })
  client.on('subscribed', () => { log.subscribed++ })
  client.on('latency', (ms) => {
    log.latencies.push(ms)
    document.getElementById('latency').textContent = ms.toFixed(1) + ' ms'
  })
  client.on('open', () => { client.ping().catch(() => {}) })
  client.subscribe('news', (data) => {
    log.messages.push(data)
    const item = document.createElement('li')
    item.textContent = data.text
    document.getElementById('messages').append(item)
  })
</script>
`

async function serve (t: Parameters<typeof startServer>[0], bundle: string, port?: number): Promise<StartedServer> {
  return await startServer(t, {
    port,
    setup: (app: FastifyInstance) => {
      app.get('/', async (_request, reply) => reply.type('text/html').send(page))
      app.get('/client.js', async (_request, reply) => reply.type('text/javascript').send(bundle))
      app.post<{ Body: { text: string } }>('/publish', async (request) => {
        await app.publish('news', request.body)
        return { ok: true }
      })
    }
  })
}

async function publish (url: string, text: string): Promise<void> {
  const response = await fetch(url.replace('ws://', 'http://').replace(/\/ws$/, '/publish'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text })
  })
  if (!response.ok) throw new Error(`publish answered ${response.status}`)
}

t.test('the esbuild bundle holds only the client and the error table: no TypeBox, no Node modules', async (t) => {
  const bundle = await bundleClient()
  t.same(bundle.inputs.filter((input) => !input.startsWith('lib/client/')), ['lib/errors.ts'])
  t.notMatch(bundle.code, /typebox|node:/)
  t.comment(`client bundle: ${bundle.bytes} bytes minified, ${bundle.gzipBytes} bytes gzip`)
})

t.test('in Chromium: subscribe, receive from an HTTP route, survive a restart on the same port, show latency', async (t) => {
  const bundle = (await bundleClient()).code
  const first = await serve(t, bundle)
  const browser = await launchBrowser(t)
  const { page: tab, pageErrors } = await openPage(t, browser, first.url.replace('ws://', 'http://').replace(/\/ws$/, '/'))

  await tab.waitForFunction(() => (window as any).log.subscribed === 1)
  t.equal(first.app.realtime.subscriberCount('news'), 1, 'the server holds the page subscription')
  await publish(first.url, 'first')
  await tab.waitForFunction(() => (window as any).log.messages.length === 1)
  t.equal(await tab.textContent('#messages'), 'first')
  await tab.waitForFunction(() => (window as any).log.latencies.length >= 1)
  t.match(await tab.textContent('#latency'), /^\d+\.\d ms$/, 'the page shows its latency')

  await first.app.close()
  await tab.waitForFunction(() => (window as any).log.states.includes('reconnecting'))
  const second = await serve(t, bundle, Number(new URL(first.url).port))
  await tab.waitForFunction(() => (window as any).log.subscribed === 2)
  t.equal(second.app.realtime.subscriberCount('news'), 1, 'the page resubscribed on the new server')
  await publish(second.url, 'second')
  await tab.waitForFunction(() => (window as any).log.messages.length === 2)
  t.equal(await tab.textContent('#messages'), 'firstsecond')
  t.same(await tab.evaluate(() => (window as any).log.states), ['open', 'reconnecting', 'open'])
  t.equal(await tab.textContent('#state'), 'open')
  await tab.waitForFunction(() => (window as any).log.latencies.length >= 2)
  const [latencies, latency] = await tab.evaluate(() => [(window as any).log.latencies, (window as any).client.latency])
  t.equal(latency, latencies[1], 'client.latency holds the measurement taken after the restart')
  t.same(pageErrors, [], 'no uncaught error in the page')
})
