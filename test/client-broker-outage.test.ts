// The Node client while the server's broker is away: a channel refused with
// broker_unavailable is kept and asked for again until Redis is back.
import t from 'tap'
import { ErrorCode } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { nextEvent, openClient } from './helpers/realtime-client.js'
import { eventually, freePort, startRedis } from './helpers/redis-server.js'

t.test('a channel refused with broker_unavailable is kept and subscribed once Redis is back', async (t) => {
  const port = await freePort()
  // No Redis yet: the node starts degraded and refuses subscribes with broker_unavailable.
  const { app, url } = await startServer(t, { plugin: { redis: { url: `redis://127.0.0.1:${port}`, startDegraded: true } } })
  const client = openClient(t, url, { initialDelay: 20, maxDelay: 50 })
  const received: unknown[] = []
  const refused = nextEvent(client, 'error')
  const subscription = client.subscribe('news', (data) => received.push(data))
  let settled = false
  subscription.ready.then(() => { settled = true }, () => { settled = true })
  t.match(await refused, { code: ErrorCode.BROKER_UNAVAILABLE }, 'the refusal is reported')
  t.same(client.channels, ['news'], 'and the channel is still held')
  t.equal(settled, false, 'ready waits')

  const confirmed = nextEvent(client, 'subscribed')
  await startRedis(t, { port })
  await eventually(() => app.realtime.stats().broker === 'ready', 'the broker is ready')
  t.same(await confirmed, { channel: 'news' }, 'a retry got through')
  await subscription.ready
  t.equal(client.state, 'open', 'on the same connection')
  t.equal(app.realtime.subscriberCount('news'), 1)
  const delivered = nextEvent(client, 'message')
  await app.publish('news', 'back')
  await delivered
  t.same(received, ['back'])
})

t.test('unsubscribing a channel waiting for its retry stops the retries', async (t) => {
  const port = await freePort()
  const { app, url } = await startServer(t, { plugin: { redis: { url: `redis://127.0.0.1:${port}`, startDegraded: true } } })
  const client = openClient(t, url, { initialDelay: 20, maxDelay: 50 })
  const refused = nextEvent(client, 'error')
  const unsubscribe = client.subscribe('gone', () => {})
  await refused
  unsubscribe()
  t.same(client.channels, [])
  const confirmed = nextEvent(client, 'subscribed')
  const kept = client.subscribe('kept', () => {})
  await startRedis(t, { port })
  await eventually(() => app.realtime.stats().broker === 'ready', 'the broker is ready')
  t.same(await confirmed, { channel: 'kept' }, 'the first confirmation is for the channel still held')
  await kept.ready
  await client.ping()
  t.equal(app.realtime.subscriberCount('gone'), 0, 'the dropped channel was not asked for again')
})
