// A publish larger than the server's maxPayload made the server close with 1009; the client
// reconnected and the publish rejected with `disconnected`, inviting a retry loop. The server
// now announces maxPayload in `welcome` and the client refuses such a frame without sending it.
import t from 'tap'
import { ErrorCode } from '../../lib/client/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient, record } from '../helpers/realtime-client.js'

t.test('a publish over the announced maxPayload fails at once with payload_too_large and is never sent', async (t) => {
  const { app, url } = await startServer(t, { plugin: { maxPayload: 1024 } })
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 20, requestTimeout: 2000 })
  await nextEvent(client, 'open')
  const connectionId = client.connectionId
  const closes = record(client, 'close')
  await t.rejects(client.publish('news', 'x'.repeat(2000)), { code: ErrorCode.PAYLOAD_TOO_LARGE })
  t.throws(() => client.send({ type: 'publish', channel: 'news', data: 'y'.repeat(2000) }), { code: ErrorCode.PAYLOAD_TOO_LARGE })
  await client.publish('news', 'small')
  t.same(closes, [], 'the connection was never closed')
  t.equal(client.connectionId, connectionId, 'still the first connection')
  t.equal(app.realtime.stats().messagesIn, 1, 'only the small publish reached the server')
})
