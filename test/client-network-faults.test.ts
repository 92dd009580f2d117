// The Node client through a TCP proxy that cuts links and black-holes them: it notices,
// reconnects, resubscribes, and delivers again.
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { CloseCode } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { startTcpProxy } from './helpers/tcp-proxy.js'
import { nextEvent, openClient } from './helpers/realtime-client.js'

const quick = { initialDelay: 10, maxDelay: 20 }

async function behindProxy (t: Parameters<typeof startServer>[0]) {
  const server = await startServer(t)
  const proxy = await startTcpProxy(t, (server.app.server.address() as AddressInfo).port)
  return { ...server, proxy }
}

t.test('a cut link: the client reconnects through the proxy, resubscribes and receives again', async (t) => {
  const { app, proxy } = await behindProxy(t)
  const client = openClient(t, proxy.url(), quick)
  const received: unknown[] = []
  const news = client.subscribe('news', (data) => received.push(data))
  await news.ready
  const resubscribed = nextEvent(client, 'subscribed')
  const closed = nextEvent(client, 'close')
  proxy.links[0]!.cut()
  t.match(await closed, { code: CloseCode.ABNORMAL, willReconnect: true })
  await resubscribed
  const delivered = nextEvent(client, 'message')
  await app.publish('news', 'after the cut')
  await delivered
  t.same(received, ['after the cut'])
  t.equal(proxy.links.length, 2)
})

t.test('a black-holed link with no traffic is found by the client heartbeat', async (t) => {
  const { app, proxy } = await behindProxy(t)
  const client = openClient(t, proxy.url(), { ...quick, pingInterval: 50, pingTimeout: 100 })
  await client.subscribe('news', () => {}).ready
  proxy.links[0]!.blackHole = true
  t.match(await nextEvent(client, 'close'), { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'heartbeat timeout', willReconnect: true })
  await nextEvent(client, 'subscribed')
  t.equal(client.state, 'open')
  const delivered = nextEvent(client, 'message')
  await app.publish('news', 'again')
  t.match(await delivered, { data: 'again' })
})
