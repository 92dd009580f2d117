// Channel membership as users see it: isolation, cleanup on unsubscribe and disconnect.
import t from 'tap'
import { startServer } from './helpers/server.js'

t.test('subscribers of one channel never see another channel', async (t) => {
  const { connect, app } = await startServer(t)
  const a = await connect()
  const b = await connect()
  await a.subscribe('alpha')
  await b.subscribe('beta')
  await app.publish('alpha', 'for a')
  await app.publish('beta', 'for b')
  t.equal((await a.nextOfType('message')).data, 'for a')
  t.equal((await b.nextOfType('message')).data, 'for b')
  // The memory broker delivers in publish order, so a marker after both publishes proves absence.
  await app.publish('alpha', 'marker')
  await app.publish('beta', 'marker')
  await a.next((f) => f.data === 'marker')
  await b.next((f) => f.data === 'marker')
  t.same(a.seen((f) => f.type === 'message').map((f) => f.channel), ['alpha', 'alpha'])
  t.same(b.seen((f) => f.type === 'message').map((f) => f.channel), ['beta', 'beta'])
})

t.test('after unsubscribe a client gets no more of the channel', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  await client.subscribe('news')
  await client.subscribe('other')
  await client.request({ type: 'unsubscribe', channel: 'news' })
  await app.publish('news', 'missed')
  await app.publish('other', 'marker')
  await client.next((f) => f.data === 'marker')
  t.same(client.seen((f) => f.type === 'message').map((f) => f.data), ['marker'])
})

t.test('disconnect removes the connection from every channel and deletes empty ones', async (t) => {
  const { connect, app } = await startServer(t)
  const leaver = await connect()
  const stayer = await connect()
  await leaver.subscribe('shared')
  await leaver.subscribe('solo-1')
  await leaver.subscribe('solo-2')
  await stayer.subscribe('shared')
  t.equal(app.realtime.connectionCount, 2)
  t.same(app.realtime.channels().sort(), ['shared', 'solo-1', 'solo-2'])
  const described = app.realtime.connection(leaver.welcome.connectionId)?.toJSON() as Record<string, unknown>
  t.match(described, { id: leaver.welcome.connectionId, remoteAddress: '127.0.0.1', connectedAt: Number })
  t.same((described.channels as string[]).sort(), ['shared', 'solo-1', 'solo-2'])

  const gone = new Promise<void>((resolve) => {
    const socket = app.realtime.connection(leaver.welcome.connectionId)!.socket
    socket.once('close', () => setImmediate(resolve))
  })
  await leaver.close()
  await gone
  t.equal(app.realtime.connectionCount, 1)
  t.same(app.realtime.channels(), ['shared'])
  t.equal(app.realtime.subscriberCount('shared'), 1)
  t.equal(app.realtime.connection(leaver.welcome.connectionId), undefined)
})

t.test('many subscribers of one channel each get each message once, in order', async (t) => {
  const { connect, app } = await startServer(t)
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect()))
  await Promise.all(clients.map((c) => c.subscribe('fan')))
  for (let i = 0; i < 50; i++) await app.publish('fan', i)
  for (const client of clients) {
    await client.next((f) => f.data === 49)
    t.same(client.seen((f) => f.type === 'message').map((f) => f.data), Array.from({ length: 50 }, (_, i) => i))
  }
  t.equal(app.realtime.stats().messagesOut >= 20 * 50, true, 'stats count what went out')
})

t.test('the remote address honours trustProxy', async (t) => {
  const { connect, app } = await startServer(t, { fastify: { trustProxy: true } })
  const client = await connect({ headers: { 'x-forwarded-for': '203.0.113.7' } })
  t.equal(app.realtime.connection(client.welcome.connectionId)?.remoteAddress, '203.0.113.7')
})

t.test('without trustProxy a forwarded header is ignored', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect({ headers: { 'x-forwarded-for': '203.0.113.7' } })
  t.equal(app.realtime.connection(client.welcome.connectionId)?.remoteAddress, '127.0.0.1')
})
