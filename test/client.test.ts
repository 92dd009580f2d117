// The Node client against a real server: welcome, channels, requests and their answers.
import t, { type Test } from 'tap'
import Type from 'typebox'
import WebSocket from 'ws'
import { RealtimeClient, RealtimeError, ErrorCode } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { nextEvent, openClient } from './helpers/realtime-client.js'
import { startRawServer } from './helpers/raw-ws-server.js'

t.test('connects on construction, then learns its connection and node id from welcome', async (t) => {
  const { app, url } = await startServer(t, { plugin: { nodeId: 'node-a' } })
  const client = openClient(t, url)
  t.equal(client.state, 'connecting')
  const welcome = await nextEvent(client, 'welcome')
  t.equal(client.state, 'open')
  t.equal(client.nodeId, 'node-a')
  t.equal(client.connectionId, welcome.connectionId)
  t.ok(app.realtime.connection(welcome.connectionId), 'the server knows that connection id')
  const closed = nextEvent(client, 'close')
  app.realtime.connection(welcome.connectionId)!.socket.terminate()
  await closed
  t.equal(client.connectionId, undefined, 'no connection id while disconnected')
  t.equal(client.nodeId, undefined)
})

t.test('subscribe delivers app.publish data to the handler; unsubscribe stops it', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url)
  const received: unknown[] = []
  const unsubscribe = client.subscribe<{ n: number }>('news', (data, message) => {
    received.push(data)
    t.equal(message.channel, 'news')
  })
  await unsubscribe.ready
  t.same(client.channels, ['news'])
  t.equal(app.realtime.subscriberCount('news'), 1)

  const first = nextEvent(client, 'message')
  await app.publish('news', { n: 1 })
  await first
  t.same(received, [{ n: 1 }])

  unsubscribe()
  t.same(client.channels, [])
  await client.ping() // answered after the unsubscribe, which the server handles in order
  t.equal(app.realtime.subscriberCount('news'), 0, 'the server dropped the subscription')
})

t.test('two handlers on one channel share one server subscription', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url)
  const a: unknown[] = []
  const b: unknown[] = []
  const offA = client.subscribe('room', (data) => a.push(data))
  const offB = client.subscribe('room', (data) => b.push(data))
  await offA.ready
  await offB.ready
  t.equal(app.realtime.subscriberCount('room'), 1)
  const delivered = nextEvent(client, 'message')
  await app.publish('room', 'x')
  await delivered
  t.same([a, b], [['x'], ['x']])
  offA()
  await client.ping()
  t.equal(app.realtime.subscriberCount('room'), 1, 'still held for the other handler')
  offB()
  await client.ping()
  t.equal(app.realtime.subscriberCount('room'), 0)
})

t.test('publish resolves on the ack and reaches the other subscribers', async (t) => {
  const { url } = await startServer(t)
  const reader = openClient(t, url)
  const writer = openClient(t, url)
  const got = new Promise<unknown>((resolve) => { reader.subscribe('orders', resolve).ready.catch(t.fail) })
  await nextEvent(reader, 'subscribed')
  t.equal(await writer.publish('orders', { id: 7 }), undefined)
  t.same(await got, { id: 7 })
})

t.test('an error frame for the request rejects publish with its code', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  const err = await client.publish('no spaces allowed', 1).then(() => null, (e: unknown) => e)
  t.ok(err instanceof RealtimeError)
  t.equal((err as RealtimeError).code, ErrorCode.INVALID_CHANNEL)
  t.equal(client.state, 'open', 'the connection stays open')
})

t.test('request() resolves with what a custom handler returned, rejects with the code it threw', async (t) => {
  const { url } = await startServer(t, {
    setup: (app) => {
      app.realtime.handle('add', Type.Object({ a: Type.Number(), b: Type.Number() }), (message) => message.a + message.b)
      app.realtime.handle('secret', Type.Object({}), () => { throw new RealtimeError(ErrorCode.FORBIDDEN) })
    }
  })
  const client = openClient(t, url)
  t.equal(await client.request<number>({ type: 'add', a: 2, b: 3 }), 5)
  await t.rejects(client.request({ type: 'secret' }), { code: ErrorCode.FORBIDDEN })
  await t.rejects(client.request({ type: 'add', a: 'two', b: 3 }), { code: ErrorCode.INVALID_MESSAGE })
  await t.rejects(client.request({ type: 'nope' }), { code: ErrorCode.UNKNOWN_TYPE })
})

t.test('a request with no answer rejects with request_timeout', async (t) => {
  const { url } = await startServer(t, {
    setup: (app) => { app.realtime.handle('stall', Type.Object({}), () => new Promise(() => {})) }
  })
  const client = openClient(t, url, { requestTimeout: 50 })
  await t.rejects(client.request({ type: 'stall' }), { code: ErrorCode.REQUEST_TIMEOUT, message: /stall/ })
})

t.test('send() is fire-and-forget: a server error without an id arrives as an error event', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  const error = nextEvent(client, 'error')
  client.send({ type: 'no-such-type' })
  const err = await error
  t.ok(err instanceof RealtimeError)
  t.equal((err as RealtimeError).code, ErrorCode.UNKNOWN_TYPE)
})

t.test('data JSON cannot hold is refused before anything is sent', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  await t.rejects(client.publish('news', { big: 1n }), { code: ErrorCode.INVALID_MESSAGE })
  t.throws(() => client.send({ type: 'x', big: 1n }), { code: ErrorCode.INVALID_MESSAGE })
  t.throws(() => client.send(null as never), TypeError)
})

t.test('chat and broadcast arrive as events', async (t) => {
  const { app, url } = await startServer(t)
  const alice = openClient(t, url)
  const bob = openClient(t, url)
  await nextEvent(alice, 'welcome')
  await nextEvent(bob, 'welcome')
  const chat = new Promise((resolve) => alice.onChat(resolve))
  await bob.chat('hello')
  t.match(await chat, { from: bob.connectionId, content: 'hello' })

  const broadcast = new Promise((resolve) => bob.onBroadcast(resolve))
  await app.broadcast({ text: 'deploy finished' })
  t.same(await broadcast, { text: 'deploy finished' })
})

t.test('ping() measures the round trip on the client clock and stores it in latency', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  await t.rejects(client.ping(), { code: ErrorCode.DISCONNECTED }, 'not yet open')
  await nextEvent(client, 'open')
  const event = nextEvent(client, 'latency')
  const latency = await client.ping()
  t.type(latency, 'number')
  t.ok(latency >= 0)
  t.equal(client.latency, latency)
  t.equal(await event, latency)
})

t.test('the heartbeat pings on its own and keeps latency fresh', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url, { pingInterval: 20 })
  t.equal(client.latency, undefined)
  const first = await nextEvent(client, 'latency')
  t.equal(client.latency, first)
  // Every later pong replaces it: the number follows the newest measurement.
  const second = await nextEvent(client, 'latency')
  t.equal(client.latency, second)
})

t.test('a refused subscription rejects ready, is reported, and is not held', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  await nextEvent(client, 'open')
  const error = nextEvent(client, 'error')
  const subscription = client.subscribe('bad channel!', () => {})
  await t.rejects(subscription.ready, { code: ErrorCode.INVALID_CHANNEL })
  t.equal(((await error) as RealtimeError).code, ErrorCode.INVALID_CHANNEL)
  t.same(client.channels, [])
})

/** A plain `ws` server on loopback that answers each frame as `answer` says; closed at teardown. */
async function scriptedServer (t: Test, answer: (frame: { type: string, id?: string, channel?: string, ts?: number }, socket: WebSocket) => void): Promise<{ url: string, frames: unknown[] }> {
  const { server, url } = await startRawServer(t)
  const frames: unknown[] = []
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      frames.push(frame)
      answer(frame, socket)
    })
  })
  return { url, frames }
}

t.test('a subscribe the server never answers times out: ready rejects and the channel is let go', async (t) => {
  // Answers pings only, so the client can tell when its frames have arrived.
  const { url, frames } = await scriptedServer(t, (frame, socket) => {
    if (frame.type === 'ping') socket.send(JSON.stringify({ type: 'pong', ts: frame.ts, serverTs: Date.now() }))
  })
  const client = openClient(t, url, { requestTimeout: 50 })
  const error = nextEvent(client, 'error')
  const subscription = client.subscribe('silent', () => {})
  await t.rejects(subscription.ready, { code: ErrorCode.REQUEST_TIMEOUT, message: /subscribe/ })
  t.match(await error, { code: ErrorCode.REQUEST_TIMEOUT })
  t.same(client.channels, [])
  await client.ping()
  t.match(frames.filter((frame) => (frame as { type: string }).type !== 'ping'), [
    { type: 'subscribe', channel: 'silent' },
    { type: 'unsubscribe', channel: 'silent' }
  ], 'a late answer would leave nothing subscribed')
})

for (const code of [ErrorCode.FORBIDDEN, ErrorCode.INVALID_CHANNEL, ErrorCode.TOO_MANY_SUBSCRIPTIONS]) {
  t.test(`a subscription refused with ${code} rejects ready and is not held`, async (t) => {
    const { url, frames } = await scriptedServer(t, (frame, socket) => {
      if (frame.type === 'subscribe') socket.send(JSON.stringify({ type: 'error', code, message: 'refused', id: frame.id }))
    })
    const client = openClient(t, url)
    const error = nextEvent(client, 'error')
    const subscription = client.subscribe('room', () => {})
    await t.rejects(subscription.ready, { code })
    t.match(await error, { code })
    t.same(client.channels, [])
    t.equal(frames.length, 1, 'asked once, not again')
  })
}

t.test('frames the client cannot read are reported as errors; unknown types arrive as frame events', async (t) => {
  const { server, url } = await startRawServer(t)
  server.on('connection', (socket) => {
    socket.send('not json')
    socket.send(Buffer.from([1, 2, 3]))
    socket.send('{"no":"type"}')
    socket.send('{"type":"notice","text":"maintenance at noon"}')
  })
  const client = openClient(t, url)
  const errors: unknown[] = []
  client.on('error', (err) => errors.push(err))
  const notice = await nextEvent(client, 'frame', (frame) => frame.type === 'notice')
  t.same(notice, { type: 'notice', text: 'maintenance at noon' })
  t.equal(errors.length, 3)
  t.ok(errors.every((err) => err instanceof RealtimeError && err.code === ErrorCode.INVALID_MESSAGE))
  t.equal(client.state, 'open', 'the connection stays open')
})

t.test('bad options fail at construction with a message naming them', async (t) => {
  t.throws(() => new RealtimeClient('ws://127.0.0.1:1/ws', { WebSocket, maxAttempts: 1.5 }), { name: 'TypeError', message: /maxAttempts/ })
  t.throws(() => new RealtimeClient('ws://127.0.0.1:1/ws', { WebSocket, backoffFactor: 0.5 }), { message: /backoffFactor/ })
  t.throws(() => new RealtimeClient('ws://127.0.0.1:1/ws', { WebSocket, pingInterval: Number.NaN }), { message: /pingInterval/ })
  t.throws(() => new RealtimeClient('ws://127.0.0.1:1/ws', { WebSocket, random: 4 as never }), { message: /random/ })
  t.throws(() => new RealtimeClient('not a url', { WebSocket }), 'the WebSocket refuses the URL')
  const later = new RealtimeClient('not a url', { WebSocket, autoConnect: false })
  t.throws(() => later.connect(), 'connect() throws it too')
  t.equal(later.state, 'disconnected', 'and leaves the client as it was, nothing running')
  t.throws(() => new RealtimeClient(42 as never, { WebSocket }), { message: /url must be a string or a function/ })
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
    t.throws(() => new RealtimeClient('ws://127.0.0.1:1/ws'), { message: /options\.WebSocket/ }, 'Node 20 has no global WebSocket')
  }
})

t.test('a listener that throws neither stops the other listeners nor the client; the error is rethrown', async (t) => {
  // tap treats an uncaught exception as a failure; hand this one to the test instead.
  const tapHandlers = process.listeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  t.teardown(() => { for (const handler of tapHandlers) process.on('uncaughtException', handler) })
  const rethrown = new Promise<Error>((resolve) => process.once('uncaughtException', resolve))

  const { app, url } = await startServer(t)
  const client = openClient(t, url)
  const seen: unknown[] = []
  const offBuggy = client.subscribe('news', () => { throw new Error('listener bug') })
  client.subscribe('news', (data) => seen.push(data))
  client.once('subscribed', () => { throw new Error('once listener bug') })
  await nextEvent(client, 'subscribed')
  t.equal((await rethrown).message, 'once listener bug')
  const second = new Promise<Error>((resolve) => process.once('uncaughtException', resolve))
  const delivered = nextEvent(client, 'message')
  await app.publish('news', 1)
  await delivered
  t.equal((await second).message, 'listener bug')
  t.same(seen, [1], 'the other handler still ran')
  offBuggy()
  const next = nextEvent(client, 'message')
  t.equal(await client.publish('news', 2), undefined, 'the client still works')
  await next
  t.same(seen, [1, 2])
})
