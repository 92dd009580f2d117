// The Node client when connections go away: server restarts on the same port, silent
// servers, final close codes, the attempt limit and counter reset, close().
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import Type from 'typebox'
import { WebSocketServer } from 'ws'
import { CloseCode, ErrorCode, FINAL_CLOSE_CODES } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { nextEvent, openClient, record } from './helpers/realtime-client.js'

// Fast, still jittered: reconnects within 0-50 ms instead of 0-1000 ms.
const quick = { initialDelay: 20, maxDelay: 50 }

function portOf (url: string): number {
  return Number(new URL(url).port)
}

t.test('after a server restart on the same port the client reconnects, resubscribes and receives again', async (t) => {
  const first = await startServer(t)
  const client = openClient(t, first.url, quick)
  const received: unknown[] = []
  client.subscribe('news', (data) => received.push(data))
  await nextEvent(client, 'subscribed')
  const firstConnection = client.connectionId
  await first.app.publish('news', 'before')

  const closed = nextEvent(client, 'close')
  const reconnecting = nextEvent(client, 'reconnecting')
  await first.app.close()
  t.match(await closed, { code: CloseCode.GOING_AWAY, willReconnect: true })
  t.match(await reconnecting, { attempt: 1 })
  t.equal(client.state, 'reconnecting')

  const resubscribed = nextEvent(client, 'subscribed')
  const reopened = nextEvent(client, 'open')
  const second = await startServer(t, { port: portOf(first.url) })
  t.same(await reopened, { reconnected: true })
  t.same(await resubscribed, { channel: 'news' })
  t.equal(second.app.realtime.subscriberCount('news'), 1, 'the new server has the subscription')
  t.not(client.connectionId, firstConnection, 'a new connection id from the new welcome')

  const delivered = nextEvent(client, 'message')
  await second.app.publish('news', 'after')
  await delivered
  t.same(received, ['before', 'after'])
})

t.test('frames sent while disconnected are queued, then flushed in order after resubscribing', async (t) => {
  const first = await startServer(t)
  const client = openClient(t, first.url, { ...quick, queueLimit: 3 })
  const received: unknown[] = []
  client.subscribe('queue', (data) => received.push(data))
  await nextEvent(client, 'subscribed')
  const reconnecting = nextEvent(client, 'reconnecting')
  await first.app.close()
  await reconnecting

  const published = [1, 2, 3].map((n) => client.publish('queue', n))
  await t.rejects(client.publish('queue', 4), { code: ErrorCode.QUEUE_FULL }, 'past the bound a send fails at once')
  t.throws(() => client.send({ type: 'ping' }), { code: ErrorCode.QUEUE_FULL })

  const delivered = new Promise<void>((resolve) => client.on('message', () => { if (received.length === 3) resolve() }))
  await startServer(t, { port: portOf(first.url) })
  t.same(await Promise.all(published), [undefined, undefined, undefined], 'every queued publish was acked')
  await delivered
  t.same(received, [1, 2, 3], 'in order, and after the resubscribe (the client received its own publishes)')
})

t.test('a request in flight when the connection drops rejects with disconnected', async (t) => {
  const { app, url } = await startServer(t, {
    setup: (app) => { app.realtime.handle('stall', Type.Object({}), () => new Promise(() => {})) }
  })
  const client = openClient(t, url, quick)
  await nextEvent(client, 'open')
  const stalled = client.request({ type: 'stall' })
  await client.ping() // the stall frame has reached the server
  app.realtime.connection(client.connectionId!)!.socket.terminate()
  await t.rejects(stalled, { code: ErrorCode.DISCONNECTED })
  await nextEvent(client, 'open')
  t.equal(client.state, 'open', 'and the client still reconnects')
})

t.test('a server that accepts and then stays silent is detected by the heartbeat, and the client reconnects', async (t) => {
  const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => silent.once('listening', resolve))
  t.teardown(() => new Promise((resolve) => {
    for (const socket of silent.clients) socket.terminate()
    silent.close(resolve)
  }))
  let connections = 0
  const secondConnection = new Promise<void>((resolve) => {
    silent.on('connection', () => { if (++connections === 2) resolve() })
  })
  const { port } = silent.address() as AddressInfo
  const client = openClient(t, `ws://127.0.0.1:${port}/ws`, { ...quick, pingInterval: 30, pingTimeout: 60 })
  await nextEvent(client, 'open')
  t.match(await nextEvent(client, 'close'), { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'heartbeat timeout', willReconnect: true })
  await secondConnection
  t.equal(connections, 2, 'the client came back on its own')
})

t.test('a server that accepts TCP but never answers the handshake hits connectTimeout', async (t) => {
  const sockets = new Set<Socket>()
  const tcp = createServer((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy()
    tcp.close(resolve)
  }))
  const { port } = tcp.address() as AddressInfo
  const client = openClient(t, `ws://127.0.0.1:${port}/ws`, { ...quick, connectTimeout: 50 })
  t.equal(client.state, 'connecting')
  t.match(await nextEvent(client, 'close'), { code: CloseCode.ABNORMAL, reason: 'connect timeout', willReconnect: true })
  t.equal(client.state, 'reconnecting')
})

t.test('no reconnect after close(): queued and waiting work fails with disconnected', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, quick)
  client.subscribe('news', () => {})
  await nextEvent(client, 'subscribed')
  const reconnects = record(client, 'reconnecting')
  const serverSide = app.realtime.connection(client.connectionId!)!
  const serverClosed = new Promise<number>((resolve) => serverSide.socket.once('close', resolve))
  t.throws(() => client.close(999), 'a close code the WebSocket refuses throws')
  t.equal(client.state, 'open', 'and changes nothing')
  const closeEvent = nextEvent(client, 'close')
  client.close()
  t.equal(client.state, 'closed')
  t.same(await closeEvent, { code: 1000, reason: '', willReconnect: false })
  t.equal(await serverClosed, 1000, 'the server saw a normal close')
  t.same(reconnects, [], 'the decision not to reconnect is taken with the close event')
  await t.rejects(client.publish('news', 1), { code: ErrorCode.DISCONNECTED, message: 'Client is closed' })
  t.throws(() => client.subscribe('other', () => {}), { code: ErrorCode.DISCONNECTED })
  client.close()
  t.equal(client.state, 'closed', 'closing twice is harmless')
})

t.test('close() while waiting to reconnect cancels the reconnect and fails the queue', async (t) => {
  const first = await startServer(t)
  const client = openClient(t, first.url, { initialDelay: 60000, maxDelay: 60000, random: () => 0.5 })
  await nextEvent(client, 'open')
  const reconnecting = nextEvent(client, 'reconnecting')
  await first.app.close()
  t.same(await reconnecting, { attempt: 1, delay: 30000 })
  const queued = client.publish('news', 1)
  const pending = client.subscribe('pending', () => {})
  client.close()
  t.equal(client.state, 'closed')
  await t.rejects(queued, { code: ErrorCode.DISCONNECTED })
  await t.rejects(pending.ready, { code: ErrorCode.DISCONNECTED }, 'an unconfirmed subscription settles too')
})

t.test(`close codes ${FINAL_CLOSE_CODES.join(', ')} stop reconnecting`, async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, quick)
  await nextEvent(client, 'welcome')
  const reconnects = record(client, 'reconnecting')
  const closed = nextEvent(client, 'close')
  app.realtime.connection(client.connectionId!)!.close(CloseCode.POLICY_VIOLATION, 'session ended')
  t.same(await closed, { code: CloseCode.POLICY_VIOLATION, reason: 'session ended', willReconnect: false })
  t.equal(client.state, 'closed')
  t.same(reconnects, [])
})

t.test('reconnect: false stops at the first drop', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { reconnect: false })
  await nextEvent(client, 'welcome')
  const closed = nextEvent(client, 'close')
  app.realtime.connection(client.connectionId!)!.socket.terminate()
  t.match(await closed, { code: CloseCode.ABNORMAL, willReconnect: false })
  t.equal(client.state, 'closed')
})

t.test('the client gives up after maxAttempts, with an error event', async (t) => {
  // A port nothing listens on: every attempt is refused.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))

  const client = openClient(t, `ws://127.0.0.1:${port}/ws`, { initialDelay: 10, maxAttempts: 3 })
  const attempts = record(client, 'reconnecting')
  const closes = record(client, 'close')
  const queued = client.publish('news', 1)
  const error = await nextEvent(client, 'error')
  t.match(error, { code: ErrorCode.DISCONNECTED, message: /Gave up after 3 reconnect attempts/ })
  t.same(attempts.map((a) => a.attempt), [1, 2, 3])
  t.ok(attempts.every((a) => a.delay >= 0 && a.delay < 10 * 1.5 ** (a.attempt - 1)), 'delays within the jitter window')
  t.same(closes.map((c) => c.willReconnect), [true, true, true, false])
  t.equal(client.state, 'closed')
  await t.rejects(queued, { code: ErrorCode.DISCONNECTED })
})

t.test('the attempt counter keeps growing while connections do not last', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { ...quick, resetAfter: 60000 })
  const attempts = record(client, 'reconnecting')
  for (let i = 0; i < 3; i++) {
    await nextEvent(client, 'welcome')
    app.realtime.connection(client.connectionId!)!.socket.terminate()
    await nextEvent(client, 'reconnecting')
  }
  t.same(attempts.map((a) => a.attempt), [1, 2, 3])
})

t.test('the attempt counter resets once a connection stayed open for resetAfter', async (t) => {
  const { app, url } = await startServer(t)
  // The first heartbeat pong (after 40 ms) proves the connection outlived resetAfter (10 ms).
  const client = openClient(t, url, { ...quick, resetAfter: 10, pingInterval: 40 })
  const attempts = record(client, 'reconnecting')
  for (let i = 0; i < 3; i++) {
    await nextEvent(client, 'welcome')
    await nextEvent(client, 'latency')
    app.realtime.connection(client.connectionId!)!.socket.terminate()
    await nextEvent(client, 'reconnecting')
  }
  t.same(attempts.map((a) => a.attempt), [1, 1, 1])
})
