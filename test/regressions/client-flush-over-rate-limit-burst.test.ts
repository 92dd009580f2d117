// Flushing the offline queue wrote every resubscribe and queued frame at once, past the
// server's rate-limit burst; the `rate_limited` answers carried no request id, so each
// refused publish waited out requestTimeout and rejected as `request_timeout`.
import t from 'tap'
import { ErrorCode } from '../../lib/client/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'
import { TestClient } from '../helpers/ws-client.js'

const rateLimit = { burst: 5, messagesPerSecond: 50, closeAfterRefused: 1000 }

t.test('a refused frame is answered rate_limited with its request id', async (t) => {
  const { connect } = await startServer(t, { plugin: { rateLimit } })
  const client: TestClient = await connect()
  for (let i = 1; i <= 8; i++) client.send({ id: `r${i}`, type: 'ping' })
  client.send({ type: 'publish', channel: 'news', data: 'x'.repeat(300), id: 'late-id' })
  const refused = []
  for (let i = 0; i < 4; i++) refused.push(await client.nextOfType('error'))
  t.same(refused.map((frame) => [frame.code, frame.id]), [
    [ErrorCode.RATE_LIMITED, 'r6'], [ErrorCode.RATE_LIMITED, 'r7'], [ErrorCode.RATE_LIMITED, 'r8'], [ErrorCode.RATE_LIMITED, 'late-id']
  ])
})

t.test('the client paces its flush below the announced burst: every queued publish is acked', async (t) => {
  const { app, url } = await startServer(t, { plugin: { rateLimit } })
  const client = openClient(t, url, { requestTimeout: 2000, queueLimit: 50 })
  const channels = ['a', 'b', 'c'].map((channel) => client.subscribe(channel, () => {}))
  // Queued before the first welcome: 3 subscribes and 12 publishes, three times the burst.
  const published = Array.from({ length: 12 }, (_, n) => client.publish('a', n))
  await nextEvent(client, 'open')
  t.same(await Promise.all(published), Array(12).fill(undefined), 'all acked, none refused')
  await Promise.all(channels.map((subscription) => subscription.ready))
  t.equal(app.realtime.stats().rateLimited, 0, 'the server refused nothing')
})
