// The client in Chromium when the network goes away (playwright's context.setOffline): it
// stops retrying and waits for the network, then checks the link at once when it returns;
// the page shows each channel's subscription state.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { startServer } from './helpers/server.js'
import { launchBrowser, openPage } from './helpers/browser.js'
import { bundleClient } from './helpers/client-bundle.js'

const page = `<!doctype html>
<meta charset="utf-8">
<title>fastify-realtime client: network</title>
<p>state: <span id="state">-</span>, news: <span id="news">-</span>, secret: <span id="secret">-</span></p>
<script type="module">
  import { RealtimeClient } from '/client.js'
  const log = window.log = { states: [], network: [], news: [], secret: [], attempts: 0, waited: false }
  // A long backoff: coming back within the test proves the online event retried at once.
  const client = window.client = new RealtimeClient('ws://' + location.host + '/ws', {
    initialDelay: 60000, maxDelay: 60000, probeTimeout: 500
  })
  client.on('state', (state) => {
    log.states.push(state)
    document.getElementById('state').textContent = state + (client.waitingForNetwork ? ' (waiting for network)' : '')
  })
  client.on('network', ({ online }) => log.network.push(online))
  client.on('reconnecting', () => { log.attempts++ })
  client.on('close', () => { log.waited = log.waited || client.waitingForNetwork })
  for (const channel of ['news', 'secret']) {
    const { subscription } = client.subscribe(channel, () => {})
    subscription.on('state', (state) => {
      log[channel].push(state)
      document.getElementById(channel).textContent = state
    })
  }
</script>
`

t.test('in Chromium: offline stops retrying and waits; online reconnects at once; subscription states show', async (t) => {
  const bundle = (await bundleClient()).code
  const { app } = await startServer(t, {
    plugin: { authorize: ({ channel }) => channel !== 'secret' },
    setup: (app: FastifyInstance) => {
      app.get('/', async (_request, reply) => reply.type('text/html').send(page))
      app.get('/client.js', async (_request, reply) => reply.type('text/javascript').send(bundle))
    }
  })
  const address = app.server.address() as { port: number }
  const browser = await launchBrowser(t)
  const { page: tab, pageErrors } = await openPage(t, browser, `http://127.0.0.1:${address.port}/`)
  await tab.waitForFunction(() => (window as any).log.news.includes('subscribed'))
  await tab.waitForFunction(() => (window as any).log.secret.includes('failed'))
  t.equal(await tab.textContent('#news'), 'subscribed')
  t.equal(await tab.textContent('#secret'), 'failed', 'the refused channel shows failed')

  await tab.context().setOffline(true)
  await tab.waitForFunction(() => (window as any).client.waitingForNetwork)
  t.equal(await tab.textContent('#state'), 'reconnecting (waiting for network)')
  t.equal(await tab.textContent('#news'), 'subscribing', 'held, to be asked again')
  const log = await tab.evaluate(() => (window as any).log)
  t.same(log.network, [false])
  t.equal(log.attempts, 0, 'no retry scheduled while offline')

  await tab.context().setOffline(false)
  await tab.waitForFunction(() => (window as any).log.news.at(-1) === 'subscribed')
  t.equal(await tab.textContent('#state'), 'open')
  t.same(await tab.evaluate(() => (window as any).log.network), [false, true])
  t.same(await tab.evaluate(() => (window as any).log.states), ['open', 'reconnecting', 'open'])
  t.equal(await tab.evaluate(() => (window as any).log.attempts), 0, 'back without waiting out the 60 s backoff')
  t.equal(app.realtime.subscriberCount('news'), 1)
  t.same(pageErrors, [])
})
