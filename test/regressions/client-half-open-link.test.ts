// A half-open link (no FIN, traffic black-holed) went unnoticed for about 34 s with the
// defaults while the state stayed `open`, even when requests were timing out on it.
// A request timeout now triggers a liveness ping with a short timeout.
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { CloseCode, ErrorCode } from '../../lib/client/index.js'
import { startServer } from '../helpers/server.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

t.test('a request timing out on a black-holed link makes the client check the link and reconnect', async (t) => {
  const { app } = await startServer(t)
  const proxy = await startTcpProxy(t, (app.server.address() as AddressInfo).port)
  // Default pingInterval and pingTimeout: only the request timeout can reveal the dead link in time.
  const client = openClient(t, proxy.url(), { initialDelay: 10, maxDelay: 20, requestTimeout: 200 })
  const firstLink = proxy.nextLink()
  await nextEvent(client, 'open')
  ;(await firstLink).blackHole = true
  const closed = nextEvent(client, 'close')
  await t.rejects(client.publish('news', 1), { code: ErrorCode.REQUEST_TIMEOUT })
  t.match(await closed, { code: CloseCode.HEARTBEAT_TIMEOUT, willReconnect: true })
  await nextEvent(client, 'open')
  await client.publish('news', 2)
  t.pass('a new link carries the next publish')
})
