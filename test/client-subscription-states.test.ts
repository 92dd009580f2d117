// Subscription objects: the state of each channel as the server sees it, its events and its
// last error, so an app can show per-channel status.
import t from 'tap'
import { ErrorCode, type SubscriptionState } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { startRawServer } from './helpers/raw-ws-server.js'
import { nextEvent, openClient } from './helpers/realtime-client.js'

const quick = { initialDelay: 10, maxDelay: 20 }

function portOf (url: string): number {
  return Number(new URL(url).port)
}

t.test('a subscription goes subscribing, subscribed, subscribing across a restart, subscribed, unsubscribed', async (t) => {
  const first = await startServer(t)
  const client = openClient(t, first.url, quick)
  const unsubscribe = client.subscribe('news', () => {})
  const subscription = unsubscribe.subscription
  t.equal(subscription.state, 'subscribing')
  t.equal(client.subscription('news'), subscription, 'the client finds it by channel')
  const states: SubscriptionState[] = []
  subscription.on('state', (state) => states.push(state))
  const confirmations: unknown[] = []
  subscription.on('subscribed', (event) => confirmations.push(event))
  await subscription.ready
  t.equal(subscription.state, 'subscribed')

  await first.app.close()
  await nextEvent(client, 'reconnecting')
  t.equal(subscription.state, 'subscribing', 'held while disconnected, asked for again on reconnect')
  const resubscribed = new Promise((resolve) => subscription.once('subscribed', resolve))
  await startServer(t, { port: portOf(first.url) })
  await resubscribed

  const messages: unknown[] = []
  subscription.on('message', (message) => messages.push(message.data))
  const unsubscribed = new Promise((resolve) => subscription.once('unsubscribed', resolve))
  unsubscribe()
  t.same(await unsubscribed, { reason: 'client' })
  t.same(states, ['subscribed', 'subscribing', 'subscribed', 'unsubscribed'])
  t.same(confirmations, [{ resubscribed: false }, { resubscribed: true }])
  t.equal(client.subscription('news'), undefined)
  t.same(client.channels, [])
})

t.test('a refused subscription fails with the error kept on the object', async (t) => {
  const { url } = await startServer(t, { plugin: { authorize: ({ channel }) => channel !== 'secret' } })
  const client = openClient(t, url, quick)
  const { subscription } = client.subscribe('secret', () => {})
  const failed = new Promise<Error>((resolve) => subscription.once('failed', resolve))
  t.match(await failed, { code: ErrorCode.FORBIDDEN })
  t.equal(subscription.state, 'failed')
  t.match(subscription.error, { code: ErrorCode.FORBIDDEN })
  await t.rejects(subscription.ready, { code: ErrorCode.FORBIDDEN })
  t.same(client.channels, [])
  const again = client.subscribe('open', () => {})
  await again.ready
  t.equal(again.subscription.state, 'subscribed', 'other channels are unaffected')
})

t.test('a temporary refusal sets error and keeps subscribing; the confirmation clears it', async (t) => {
  const { server, url } = await startRawServer(t)
  let subscribes = 0
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type !== 'subscribe') return
      const answer = ++subscribes === 1
        ? { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, message: 'away', id: frame.id }
        : { type: 'subscribed', channel: frame.channel, id: frame.id }
      socket.send(JSON.stringify(answer))
    })
  })
  const client = openClient(t, url, quick)
  client.on('error', () => {})
  const { subscription } = client.subscribe('room', () => {})
  const temporary = await new Promise<Error>((resolve) => subscription.once('error', resolve))
  t.match(temporary, { code: ErrorCode.BROKER_UNAVAILABLE })
  t.equal(subscription.state, 'subscribing')
  t.equal(subscription.error, temporary)
  await subscription.ready
  t.equal(subscription.state, 'subscribed')
  t.equal(subscription.error, undefined)
})

t.test('an unsubscribed frame nobody asked for is the server dropping the channel', async (t) => {
  const { server, url } = await startRawServer(t)
  server.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type !== 'subscribe') return
      socket.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, id: frame.id }))
      socket.send(JSON.stringify({ type: 'unsubscribed', channel: frame.channel }))
    })
  })
  const client = openClient(t, url, quick)
  const { subscription } = client.subscribe('room', () => {})
  t.same(await new Promise((resolve) => subscription.once('unsubscribed', resolve)), { reason: 'server' })
  t.equal(subscription.state, 'unsubscribed')
  t.same(client.channels, [], 'no longer held, not resubscribed on reconnect')
})

t.test('close() ends every subscription; a second handler keeps a channel until it leaves', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url, quick)
  const first = client.subscribe('news', () => {})
  const second = client.subscribe('news', () => {})
  t.equal(first.subscription, second.subscription, 'one object per channel')
  await first.ready
  first()
  t.equal(first.subscription.state, 'subscribed', 'still held by the second handler')
  const ended = new Promise((resolve) => second.subscription.once('unsubscribed', resolve))
  client.close()
  t.same(await ended, { reason: 'closed' })
  t.equal(second.subscription.state, 'unsubscribed')
})
