// Every built-in message type, as a client sees it on a real socket.
import t from 'tap'
import { startServer } from './helpers/server.js'

t.test('welcome tells the client its connection id, node id and heartbeat interval', async (t) => {
  const { connect, app } = await startServer(t, { plugin: { nodeId: 'node-a', heartbeatInterval: 20_000, heartbeatTimeout: 5000 } })
  const client = await connect()
  t.match(client.welcome.connectionId, /^[0-9a-f-]{36}$/)
  t.equal(client.welcome.nodeId, 'node-a')
  t.equal(client.welcome.heartbeatInterval, 20_000)
  t.ok(app.realtime.connection(client.welcome.connectionId), 'the id names a live connection')
  t.equal(client.welcome.maxPayload, 64 * 1024, 'the largest frame it accepts')
  t.same(client.welcome.rateLimit, { messagesPerSecond: 50, burst: 200 }, 'the rate limit a client paces itself by')
})

t.test('welcome leaves rateLimit out when there is none, and tells a configured maxPayload', async (t) => {
  const { connect } = await startServer(t, { plugin: { rateLimit: false, maxPayload: 2048 } })
  const client = await connect()
  t.equal(client.welcome.maxPayload, 2048)
  t.notOk('rateLimit' in client.welcome)
})

t.test('ping echoes the client timestamp and adds the server time', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  const before = Date.now()
  client.send({ type: 'ping', ts: 123.5 })
  const pong = await client.nextOfType('pong')
  t.equal(pong.ts, 123.5, 'ts is the client clock, untouched')
  t.ok(pong.serverTs >= before, 'serverTs is the server clock')

  client.send({ type: 'ping' })
  const bare = await client.nextOfType('pong')
  t.notOk('ts' in bare, 'no ts when the client sent none')
})

t.test('subscribe answers subscribed with the request id, unsubscribe answers unsubscribed', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  t.same(await client.request({ type: 'subscribe', channel: 'news' }, 's1'), { type: 'subscribed', channel: 'news', id: 's1' })
  t.equal(app.realtime.subscriberCount('news'), 1)
  t.same(await client.request({ type: 'unsubscribe', channel: 'news' }, 'u1'), { type: 'unsubscribed', channel: 'news', id: 'u1' })
  t.equal(app.realtime.subscriberCount('news'), 0)
  t.same(app.realtime.channels(), [], 'the empty channel is gone')

  client.send({ type: 'subscribe', channel: 'no-id' })
  t.same(await client.nextOfType('subscribed'), { type: 'subscribed', channel: 'no-id' }, 'no id when none was sent')
})

t.test('subscribing twice keeps one membership', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  await client.subscribe('news')
  await client.subscribe('news')
  t.equal(app.realtime.subscriberCount('news'), 1)
  await app.publish('news', 1)
  await app.publish('news', 2)
  t.equal((await client.nextOfType('message')).data, 1)
  t.equal((await client.nextOfType('message')).data, 2)
  t.equal(client.seen((f) => f.type === 'message').length, 2, 'each publish arrives once')
})

t.test('publish reaches subscribers as a message frame and is acked', async (t) => {
  const { connect } = await startServer(t)
  const publisher = await connect()
  const subscriber = await connect()
  await subscriber.subscribe('room:1')
  const before = Date.now()
  const ack = await publisher.request({ type: 'publish', channel: 'room:1', data: { text: 'hi', n: [1, 2] } }, 'p1')
  t.same(ack, { type: 'ack', id: 'p1' })
  const message = await subscriber.nextOfType('message')
  t.same(message.data, { text: 'hi', n: [1, 2] })
  t.equal(message.channel, 'room:1')
  t.ok(message.ts >= before)
  t.same(publisher.seen((f) => f.type === 'message'), [], 'a publisher that is not subscribed gets nothing')
})

t.test('publish to a channel with no subscribers is acked', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  t.same(await client.request({ type: 'publish', channel: 'empty', data: null }, 'x'), { type: 'ack', id: 'x' })
})

t.test('chat is broadcast to everyone with the sender and a timestamp', async (t) => {
  const { connect } = await startServer(t)
  const alice = await connect()
  const bob = await connect()
  alice.send({ type: 'chat', content: 'hello all' })
  for (const client of [alice, bob]) {
    const chat = await client.nextOfType('chat')
    t.equal(chat.content, 'hello all')
    t.equal(chat.from, alice.welcome.connectionId)
    t.type(chat.ts, 'number')
  }
  t.same(await alice.request({ type: 'chat', content: 'with id' }, 'c1'), { type: 'ack', id: 'c1' })
})

t.test('unsubscribing a channel the client is not in answers unsubscribed', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  t.same(await client.request({ type: 'unsubscribe', channel: 'never' }, 'u'), { type: 'unsubscribed', channel: 'never', id: 'u' })
})
