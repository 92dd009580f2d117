// A reusable client: connect() and disconnect() on one instance (logout, login), reconnect()
// to retry at once, and a URL computed per attempt.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { nextEvent, openClient, record } from './helpers/realtime-client.js'

const quick = { initialDelay: 10, maxDelay: 20 }

t.test('disconnect() then connect() on the same client: channels, listeners and queued frames carry over', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { ...quick, autoConnect: false })
  t.equal(client.state, 'disconnected', 'nothing happens before connect()')
  const received: unknown[] = []
  const news = client.subscribe('news', (data) => received.push(data))
  const opens = record(client, 'open')
  client.connect()
  t.equal(client.state, 'connecting')
  await news.ready
  const firstConnection = client.connectionId!

  const reconnects = record(client, 'reconnecting')
  const closed = nextEvent(client, 'close')
  const serverClosed = new Promise<number>((resolve) => app.realtime.connection(firstConnection)!.socket.once('close', resolve))
  client.disconnect()
  t.equal(client.state, 'disconnected')
  t.same(await closed, { code: 1000, reason: '', willReconnect: false })
  t.equal(await serverClosed, 1000, 'the server saw a normal close')
  t.equal(news.subscription.state, 'subscribing', 'the channel is held for the next connect()')
  const queued = client.publish('news', 'while logged out')

  const resubscribed = nextEvent(client, 'subscribed')
  const delivered = nextEvent(client, 'message')
  client.connect()
  await resubscribed
  await queued
  await delivered
  t.same(received, ['while logged out'])
  t.not(client.connectionId, firstConnection)
  t.same(opens, [{ reconnected: false }, { reconnected: true }])
  t.same(reconnects, [], 'disconnect() never scheduled a reconnect')
  client.connect()
  t.equal(client.state, 'open', 'connect() on an open client changes nothing')
})

t.test('disconnect() fails requests in flight saying so; close() is final', async (t) => {
  const { url } = await startServer(t, {
    setup: (app) => { app.realtime.handle('stall', Type.Object({}), () => new Promise(() => {})) }
  })
  const client = openClient(t, url, quick)
  await nextEvent(client, 'open')
  const stalled = client.request({ type: 'stall' })
  await client.ping()
  client.disconnect()
  await t.rejects(stalled, { code: ErrorCode.DISCONNECTED, message: 'Client is disconnected' })
  client.disconnect()
  t.equal(client.state, 'disconnected', 'twice is harmless')
  client.close()
  t.equal(client.state, 'closed')
  t.throws(() => client.connect(), { code: ErrorCode.DISCONNECTED, message: 'Client is closed' })
  t.throws(() => client.reconnect(), { code: ErrorCode.DISCONNECTED })
})

t.test('reconnect() retries at once instead of waiting for the backoff', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { initialDelay: 60000, maxDelay: 60000, random: () => 0.5 })
  await nextEvent(client, 'open')
  const reconnecting = nextEvent(client, 'reconnecting')
  app.realtime.connection(client.connectionId!)!.socket.terminate()
  t.match(await reconnecting, { delay: 30000 })
  const reopened = nextEvent(client, 'open')
  client.reconnect()
  t.same(await reopened, { reconnected: true })

  const first = client.connectionId
  const again = nextEvent(client, 'open')
  client.reconnect()
  await again
  t.not(client.connectionId, first, 'on an open client it replaces the link')
})

t.test('url as an async function is called for every attempt', async (t) => {
  const seen: string[] = []
  const { app, url } = await startServer(t, {
    setup: (app) => { app.addHook('onRequest', async (request) => { seen.push(request.url) }) }
  })
  let calls = 0
  const client = openClient(t, async () => `${url}?token=t${++calls}`, quick)
  t.equal(client.url, undefined, 'unknown until the function answers')
  await nextEvent(client, 'open')
  t.equal(client.url, `${url}?token=t1`)
  app.realtime.connection(client.connectionId!)!.socket.terminate()
  await nextEvent(client, 'open')
  t.same(seen, ['/ws?token=t1', '/ws?token=t2'])
})

t.test('a url function that fails is reported and retried with backoff', async (t) => {
  const { url } = await startServer(t)
  let calls = 0
  const client = openClient(t, () => {
    if (++calls === 1) throw new Error('no token yet')
    return url
  }, { ...quick, autoConnect: false })
  const error = nextEvent(client, 'error')
  const close = nextEvent(client, 'close')
  client.connect()
  t.match(await error, { message: 'no token yet' })
  t.match(await close, { reason: 'url failed', willReconnect: true })
  await nextEvent(client, 'open')
  t.equal(calls, 2)
})

t.test('with a function url, a URL the WebSocket refuses is reported and retried', async (t) => {
  const { url } = await startServer(t)
  const urls = ['not a url', url]
  const client = openClient(t, () => urls.shift()!, quick)
  t.ok(await nextEvent(client, 'error'))
  await nextEvent(client, 'open')
  t.equal(client.url, url)
})

t.test('reconnect() on a disconnected client connects; disconnect() from a close listener stops the drop there', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { ...quick, autoConnect: false })
  client.reconnect()
  await nextEvent(client, 'open')
  const states = record(client, 'state')
  const reconnects = record(client, 'reconnecting')
  client.once('close', () => client.disconnect())
  const closed = nextEvent(client, 'close')
  app.realtime.connection(client.connectionId!)!.socket.terminate()
  await closed
  await new Promise<void>((resolve) => queueMicrotask(resolve))
  t.equal(client.state, 'disconnected')
  t.same(states, ['disconnected'])
  t.same(reconnects, [])
})
