// Channel history across nodes through a real redis-server: concurrent publishers on three
// nodes, a replay racing live traffic, history trimmed or expired past a client's position,
// and Redis restarted without persistence. Clients are real sockets.
import t, { type Test } from 'tap'
import { startServer, type StartedServer } from '../helpers/server.js'
import { eventually, startRedis } from '../helpers/redis-server.js'
import { openClient, nextEvent } from '../helpers/realtime-client.js'
import type { TestClient } from '../helpers/ws-client.js'
import { subscribe, messages } from '../helpers/history.js'

const channels = [
  { match: 'feed:*', history: { size: 1000, ttl: 60_000 } },
  { match: 'small:*', history: { size: 5, ttl: 60_000 } },
  { match: 'brief:*', history: { size: 100, ttl: 100 } }
]

const redis = await startRedis(t)

async function nodes (t: Test, count: number): Promise<StartedServer[]> {
  const started: StartedServer[] = []
  for (let i = 0; i < count; i++) {
    started.push(await startServer(t, { plugin: { nodeId: `node-${i}`, channels, redis: { url: redis.url } } }))
  }
  return started
}

t.test('three nodes publishing concurrently: offsets rise by one, every subscriber sees the same sequence', async (t) => {
  const servers = await nodes(t, 3)
  const clients = await Promise.all(servers.map((server) => server.connect()))
  for (const client of clients) await subscribe(client, 'feed:concurrent')
  const perNode = 100
  await Promise.all(servers.map(async (server, node) => {
    for (let i = 0; i < perNode; i++) await server.app.publish('feed:concurrent', `${node}-${i}`)
  }))
  const sequences = await Promise.all(clients.map((client) => messages(client, 'feed:concurrent', perNode * 3)))
  for (const sequence of sequences) {
    t.same(sequence.map((frame) => frame.offset), Array.from({ length: perNode * 3 }, (_, i) => i + 1))
    t.same(sequence.map((frame) => frame.data), sequences[0]!.map((frame) => frame.data), 'same order on every node')
  }
  t.equal(new Set(sequences[0]!.map((frame) => frame.data)).size, perNode * 3, 'every message once')
  t.equal(new Set(sequences.flat().map((frame) => frame.epoch)).size, 1, 'one epoch')
})

t.test('a replay on one node racing publishes at full rate on another: no gap, no duplicate', async (t) => {
  const [publisher, subscriberNode] = await nodes(t, 2)
  for (let n = 1; n <= 200; n++) await publisher!.app.publish('feed:race', n)
  const { epoch } = (await publisher!.app.realtime.history('feed:race', { limit: 1 }))
  const race = { publishing: true, last: 200 }
  const publishing = (async () => {
    while (race.publishing) await publisher!.app.publish('feed:race', ++race.last)
  })()
  const clients: Array<{ client: TestClient, since: number }> = []
  for (const since of [20, 90, 150]) {
    const client = await subscriberNode!.connect()
    const subscribed = await subscribe(client, 'feed:race', { offset: since, epoch })
    t.equal(subscribed.recovered, true)
    clients.push({ client, since })
  }
  race.publishing = false
  await publishing
  for (const { client, since } of clients) {
    const received = await messages(client, 'feed:race', race.last - since)
    t.same(received.map((frame) => frame.data), Array.from({ length: race.last - since }, (_, i) => since + i + 1), `resumed after ${since}`)
  }
})

t.test('trimmed past the position: recovered false with the position, and the client\'s unrecovered event', async (t) => {
  const [server] = await nodes(t, 1)
  for (let n = 1; n <= 10; n++) await server!.app.publish('small:1', n)
  const { epoch } = await server!.app.realtime.history('small:1', { limit: 1 })
  const raw = await server!.connect()
  const subscribed = await subscribe(raw, 'small:1', { offset: 2, epoch })
  t.same({ recovered: subscribed.recovered, offset: subscribed.offset, epoch: subscribed.epoch }, { recovered: false, offset: 10, epoch })

  const client = openClient(t, server!.url)
  const perChannel: unknown[] = []
  const event = nextEvent(client, 'unrecovered')
  client.subscribe('small:1', () => {}, { since: { offset: 2, epoch }, onUnrecovered: (info) => perChannel.push(info) })
  const expected = { channel: 'small:1', since: { offset: 2, epoch }, position: { offset: 10, epoch }, reason: 'not_recovered' }
  t.same(await event, expected)
  t.same(perChannel, [expected])
  // A connection not subscribed yet (a member is replayed nothing: recovered false).
  const fresh = await server!.connect()
  const resumed = await subscribe(fresh, 'small:1', { offset: 6, epoch })
  t.equal(resumed.recovered, true, 'offsets 7 to 10 are kept')
})

t.test('history expired after ttl in Redis: recovered false, offsets continue in the same epoch', async (t) => {
  const [server] = await nodes(t, 1)
  const raw = await server!.connect()
  const { epoch } = await subscribe(raw, 'brief:1')
  await server!.app.publish('brief:1', 1)
  await server!.app.publish('brief:1', 2)
  await messages(raw, 'brief:1', 2)
  await eventually(async () => await redis.admin.exists('{fastify-realtime:brief:1}:history') === 0, 'Redis expired the stream')
  const late = await server!.connect()
  const subscribed = await subscribe(late, 'brief:1', { offset: 1, epoch })
  t.same({ recovered: subscribed.recovered, offset: subscribed.offset, epoch: subscribed.epoch }, { recovered: false, offset: 2, epoch })
  await server!.app.publish('brief:1', 3)
  t.same((await messages(late, 'brief:1', 1)).map((frame) => [frame.offset, frame.epoch]), [[3, epoch]])
})

t.test('Redis restarted without persistence: a new epoch, recovered false and the client\'s event', async (t) => {
  const local = await startRedis(t)
  const server = await startServer(t, { plugin: { channels, redis: { url: local.url } } })
  const client = openClient(t, server.url)
  const received: number[] = []
  client.subscribe<number>('feed:restart', (n) => received.push(n))
  const first = await nextEvent(client, 'subscribed')
  await server.app.publish('feed:restart', 1)
  await eventually(() => received.length === 1, 'the first message arrived')

  await local.restart()
  await eventually(() => server.app.realtime.stats().broker === 'ready', 'the broker reconnected')
  const unrecovered = nextEvent(client, 'unrecovered')
  // The client's connection drops (as in a deploy): it resubscribes from offset 1 of the old epoch.
  for (const connection of server.app.realtime.connections()) connection.socket.terminate()
  const info = await unrecovered
  t.equal(info.reason, 'not_recovered')
  t.same(info.since, { offset: 1, epoch: first.epoch })
  t.equal(info.position?.offset, 0)
  t.not(info.position?.epoch, first.epoch, 'a new epoch: offsets are never reused silently')
  await server.app.publish('feed:restart', 2)
  await eventually(() => received.length === 2, 'live messages continue')
  t.same(received, [1, 2])
})

t.test('Redis away during a history subscribe: broker_unavailable, nothing held; app.realtime.history rejects alike', async (t) => {
  const local = await startRedis(t)
  const server = await startServer(t, { plugin: { channels, redis: { url: local.url } } })
  const client = await server.connect()
  await local.kill()
  await eventually(() => server.app.realtime.stats().broker !== 'ready', 'the broker noticed')
  const answer = await subscribe(client, 'feed:away')
  t.equal(answer.code, 'broker_unavailable')
  t.equal(server.app.realtime.subscriberCount('feed:away'), 0)
  await t.rejects(server.app.realtime.history('feed:away'), { code: 'broker_unavailable' })
  await t.rejects(server.app.publish('feed:away', 1), { code: 'broker_unavailable' })
})

t.test('a node whose Redis subscriber link drops misses messages; its clients see the gap and resubscribe to fill it', async (t) => {
  const { startRedisProxy } = await import('../helpers/redis-proxy.js')
  const proxy = await startRedisProxy(t, redis.port)
  const publisher = await startServer(t, { plugin: { nodeId: 'pub', channels, redis: { url: redis.url } } })
  const behind = await startServer(t, { plugin: { nodeId: 'behind', channels, redis: { url: proxy.url } } })
  const client = openClient(t, behind.url)
  const received: number[] = []
  const unrecovered: unknown[] = []
  client.on('unrecovered', (info) => unrecovered.push(info))
  await client.subscribe<number>('feed:heal', (n) => received.push(n)).ready
  await publisher.app.publish('feed:heal', 1)
  await eventually(() => received.length === 1, 'the first message arrived')

  const link = await proxy.link('fastify-realtime:behind:sub')
  link.cut()
  // Published while the node is not subscribed: Pub/Sub drops them for that node.
  for (let n = 2; n <= 4; n++) await publisher.app.publish('feed:heal', n)
  await eventually(async () => await proxy.link('fastify-realtime:behind:sub') !== link && behind.app.realtime.stats().broker === 'ready', 'the node resubscribed')
  for (let n = 5; n <= 6; n++) await publisher.app.publish('feed:heal', n)
  await eventually(() => received.length >= 6, 'the client caught up')
  t.same(received, [1, 2, 3, 4, 5, 6], 'the gap was filled from history, in order, exactly once')
  t.same(unrecovered, [])
})
