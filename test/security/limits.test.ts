// Every limit with its documented answer: error frames, close codes, HTTP statuses.
import t from 'tap'
import { once } from 'node:events'
import { CloseCode, ErrorCode } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { TestClient } from '../helpers/ws-client.js'
import { tryUpgrade } from '../helpers/handshake.js'
import type { FastifyInstance } from 'fastify'

/** Resolves once the server has removed the connection of `client`. */
async function serverSideClosed (app: FastifyInstance, client: TestClient): Promise<void> {
  const connection = app.realtime.connection(client.welcome.connectionId)
  if (connection === undefined) return
  const closed = once(connection.socket, 'close')
  await client.close()
  await closed
  // The handshake reservation is released by the TCP socket's own close event.
  await new Promise((resolve) => setImmediate(resolve))
}

t.test('subscriptions per connection: default 100, then too_many_subscriptions', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  for (let i = 0; i < 100; i++) client.send({ type: 'subscribe', channel: `c${i}`, id: `s${i}` })
  await client.next((frame) => frame.id === 's99')
  t.equal(client.seen((frame) => frame.type === 'subscribed').length, 100)
  t.same(await client.request({ type: 'subscribe', channel: 'one-more' }, 'over'), {
    type: 'error', code: ErrorCode.TOO_MANY_SUBSCRIPTIONS, message: 'At most 100 subscriptions per connection', id: 'over'
  })
  t.equal(app.realtime.subscriberCount('one-more'), 0)
  t.match(await client.subscribe('c5'), { type: 'subscribed' }, 'an existing subscription is not a new one')
  t.match(await client.request({ type: 'unsubscribe', channel: 'c0' }), { type: 'unsubscribed' })
  t.match(await client.subscribe('one-more'), { type: 'subscribed' }, 'room again after an unsubscribe')
})

t.test('a burst of concurrent subscribes cannot overshoot the limit', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { maxSubscriptionsPerConnection: 3 } })
  const client = await connect()
  for (let i = 0; i < 10; i++) client.send({ type: 'subscribe', channel: `c${i}`, id: `s${i}` })
  for (let i = 0; i < 10; i++) await client.next((frame) => frame.id === `s${i}`)
  t.equal(client.seen((frame) => frame.type === 'subscribed').length, 3)
  t.equal(client.seen((frame) => frame.code === ErrorCode.TOO_MANY_SUBSCRIPTIONS).length, 7)
  t.equal(app.realtime.connection(client.welcome.connectionId)?.channels.size, 3)
})

t.test('channel names never carry glob characters or exceed 200 characters', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  for (const channel of ['news*', 'n?ws', '[abc]', 'a b', 'é', 'x'.repeat(201), '']) {
    t.match(await client.subscribe(channel), { type: 'error', code: ErrorCode.INVALID_CHANNEL }, JSON.stringify(channel.slice(0, 20)))
  }
})

t.test('message rate: rate_limited over the bucket, 1008 for sustained abuse, others unaffected', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { rateLimit: { messagesPerSecond: 0.001, burst: 5, closeAfterRefused: 10 } } })
  const abuser = await connect()
  const bystander = await connect()
  for (let i = 0; i < 20; i++) abuser.send({ type: 'ping', ts: i })
  t.same((await abuser.closed).code, CloseCode.POLICY_VIOLATION)
  t.same(abuser.seen((frame) => frame.type === 'pong').map((frame) => frame.ts), [0, 1, 2, 3, 4], 'the burst is served')
  t.equal(abuser.seen((frame) => frame.type === 'error' && frame.code === ErrorCode.RATE_LIMITED).length, 9, 'then rate_limited until the 10th refusal')
  t.match(app.realtime.stats(), { rateLimited: 10, rateLimitClosed: 1 })
  bystander.send({ type: 'ping', ts: 42 })
  t.equal((await bystander.nextOfType('pong')).ts, 42)
})

t.test('message rate: a connection whose bucket refills is forgiven its earlier refusals', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { rateLimit: { messagesPerSecond: 10, burst: 2, closeAfterRefused: 3 } } })
  const client = await connect()
  const burst = async (from: number): Promise<void> => {
    for (let i = from; i < from + 4; i++) client.send({ type: 'ping', ts: i })
    await client.next((frame) => frame.type === 'pong' && frame.ts === from + 1)
    await client.next((frame) => frame.code === ErrorCode.RATE_LIMITED)
    await client.next((frame) => frame.code === ErrorCode.RATE_LIMITED)
  }
  await burst(0)
  // No event marks a refilled bucket: waiting out the refill (2 tokens at 10/s) is the behaviour under test.
  await new Promise((resolve) => setTimeout(resolve, 400))
  await burst(10)
  t.equal(client.socket.readyState, client.socket.OPEN, 'four refusals in all, but never three without a refill in between: still open')
  t.match(app.realtime.stats(), { rateLimited: 4, rateLimitClosed: 0 })
})

t.test('maxConnections: 503 before the upgrade, room again once one leaves', async (t) => {
  const { app, url, connect } = await startServer(t, { plugin: { maxConnections: 2 } })
  const first = await connect()
  await connect()
  const refused = await tryUpgrade(url)
  t.equal(refused.status, 503)
  t.equal(app.realtime.connectionCount, 2)
  await serverSideClosed(app, first)
  const again = await tryUpgrade(url)
  t.equal(again.status, 101)
  again.socket?.close()
})

t.test('maxConnectionsPerAddress uses the trustProxy address: 429 for the same client, others pass', async (t) => {
  const { app, url } = await startServer(t, { fastify: { trustProxy: true }, plugin: { maxConnectionsPerAddress: 2 } })
  const from = (address: string) => ({ headers: { 'x-forwarded-for': address } })
  const a1 = await TestClient.connect(url, from('203.0.113.1'))
  const a2 = await TestClient.connect(url, from('203.0.113.1'))
  t.teardown(() => Promise.all([a1.close(), a2.close()]))
  t.equal((await tryUpgrade(url, from('203.0.113.1'))).status, 429)
  const other = await tryUpgrade(url, from('203.0.113.2'))
  t.equal(other.status, 101, 'another address behind the same proxy still gets in')
  other.socket?.close()
  t.equal(app.realtime.connection(a1.welcome.connectionId)?.remoteAddress, '203.0.113.1')
  await serverSideClosed(app, a1)
  const back = await tryUpgrade(url, from('203.0.113.1'))
  t.equal(back.status, 101)
  back.socket?.close()
})

t.test('maxConnectionsPerAddress is off by default: many connections from one address', async (t) => {
  const { connect } = await startServer(t)
  const clients = await Promise.all(Array.from({ length: 30 }, () => connect()))
  t.equal(clients.length, 30)
})

t.test('upgrades during app.close() get 503', async (t) => {
  const { app, url, connect } = await startServer(t, { plugin: { closeGracePeriod: 5000 } })
  const lingering = await connect()
  // A client that does not read keeps the 1001 close unanswered, so app.close() waits.
  const raw = (lingering.socket as unknown as { _socket: import('node:net').Socket })._socket
  raw.pause()
  const closing = app.close()
  const status = (await tryUpgrade(url)).status
  t.equal(status, 503)
  raw.resume()
  await closing
  t.equal((await lingering.closed).code, CloseCode.GOING_AWAY)
})

t.test('maxPayload: default 64 KiB, a larger frame closes with 1009', async (t) => {
  const { connect } = await startServer(t)
  const fits = await connect()
  fits.send({ type: 'publish', channel: 'x', data: 'a'.repeat(64 * 1024 - 60), id: 'ok' })
  t.match(await fits.next((frame) => frame.id === 'ok'), { type: 'ack' })
  const tooBig = await connect()
  tooBig.send('a'.repeat(64 * 1024 + 1))
  t.equal((await tooBig.closed).code, CloseCode.MESSAGE_TOO_BIG)
})

t.test('with perMessageDeflate on, the inflated size is still bounded by maxPayload', async (t) => {
  const { connect } = await startServer(t, { plugin: { perMessageDeflate: true, maxPayload: 4096 } })
  const client = await connect({ perMessageDeflate: true })
  t.ok(client.socket.extensions.includes('permessage-deflate'), 'deflate negotiated')
  client.send({ type: 'ping', ts: 7 })
  t.equal((await client.nextOfType('pong')).ts, 7)
  // 1 MiB of one letter deflates to about a kilobyte: small on the wire, big once inflated.
  client.send(JSON.stringify({ type: 'publish', channel: 'x', data: 'a'.repeat(1024 * 1024) }))
  t.equal((await client.closed).code, CloseCode.MESSAGE_TOO_BIG)
})
