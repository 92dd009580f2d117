// Sharded Pub/Sub (SPUBLISH/SSUBSCRIBE) on a real three-master Redis Cluster: each channel
// lives on the shard that owns its slot, so fan-out spreads over the cluster.
import t from 'tap'
import type { Redis } from 'ioredis'
import { startNodes } from './helpers/nodes.js'
import { eventually, startRedisCluster } from './helpers/redis-server.js'
import type { Frame } from './helpers/ws-client.js'

const cluster = await startRedisCluster(t)
const prefix = 'shard:'

/** One channel name per master, found by asking the cluster which slot each name maps to. */
async function channelPerMaster (): Promise<Map<Redis, string>> {
  const slots = await cluster.masters[0]!.admin.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
  const byMaster = new Map<Redis, string>()
  for (let i = 0; byMaster.size < cluster.masters.length && i < 1000; i++) {
    const channel = `orders-${i}`
    const slot = await cluster.masters[0]!.admin.call('CLUSTER', 'KEYSLOT', prefix + channel) as number
    const owner = slots.find(([from, to]) => slot >= from && slot <= to)!
    const master = cluster.masters.find((m) => m.port === owner[2][1])!
    if (!byMaster.has(master.admin)) byMaster.set(master.admin, channel)
  }
  return byMaster
}

t.test('sharded mode: each channel is subscribed on its own shard only, and delivery works across nodes', async (t) => {
  const nodes = await startNodes(t, 2, { url: cluster.url, sharded: true, keyPrefix: prefix })
  const [a, b] = nodes
  const onA = await a!.connect()
  const onB = await b!.connect()
  const channels = await channelPerMaster()
  t.equal(channels.size, 3, 'one channel on each of the three masters')
  for (const channel of channels.values()) {
    await onA.subscribe(channel)
    await onB.subscribe(channel)
  }

  for (const [admin, channel] of channels) {
    t.same(await admin.call('PUBSUB', 'SHARDNUMSUB', prefix + channel), [prefix + channel, 2], `${channel}: both nodes on its own shard`)
    const others = [...channels].filter(([other]) => other !== admin)
    for (const [other] of others) {
      t.same(await other.call('PUBSUB', 'SHARDNUMSUB', prefix + channel), [prefix + channel, 0], `${channel}: not on another shard`)
    }
  }

  for (const channel of channels.values()) {
    const response = await b!.app.inject({ method: 'POST', url: `/publish/${channel}`, payload: { channel } })
    t.equal(response.statusCode, 200)
  }
  const last = [...channels.values()].at(-1)!
  for (const client of [onA, onB]) {
    await client.next((frame) => frame.type === 'message' && frame.channel === last)
    t.same(client.seen((frame) => frame.type === 'message').map((frame) => frame.data.channel), [...channels.values()], 'each message once')
  }
})

t.test('sharded mode: concurrent publishers on two nodes, same order at every subscriber, broadcast everywhere', async (t) => {
  const [a, b] = await startNodes(t, 2, { url: cluster.url, sharded: true, keyPrefix: prefix })
  const clients = [await a!.connect(), await a!.connect(), await b!.connect()]
  for (const client of clients) await client.subscribe('race')
  await Promise.all([a!, b!].map((node) => Promise.all(
    Array.from({ length: 150 }, (_, i) => node.app.publish('race', `${node.nodeId}/${i}`))
  )))
  await b!.app.broadcast('done')
  await a!.app.publish('race', 'end')
  const isRace = (frame: Frame): boolean => frame.type === 'message' && frame.channel === 'race'
  const orders: string[][] = []
  for (const client of clients) {
    await client.next((frame) => isRace(frame) && frame.data === 'end')
    await client.next((frame) => frame.type === 'broadcast' && frame.data === 'done')
    orders.push(client.seen(isRace).map((frame) => frame.data as string))
  }
  t.equal(orders[0]!.length, 301)
  t.same(orders[1], orders[0])
  t.same(orders[2], orders[0])
})

t.test('sharded mode: app.close() leaves no connection the plugin opened on any master', async (t) => {
  const count = async (admin: Redis): Promise<number> => (await admin.call('CLIENT', 'LIST') as string).trim().split('\n').length
  const [a] = await startNodes(t, 1, { url: cluster.url, sharded: true, keyPrefix: prefix })
  const client = await a!.connect()
  await client.subscribe('x')
  t.ok((await Promise.all(cluster.masters.map((m) => count(m.admin)))).some((n) => n > 1), 'the node is connected')
  await a!.app.close()
  for (const master of cluster.masters) {
    // Only the admin client that asks is left; the server drops QUIT connections shortly after answering.
    await eventually(async () => await count(master.admin) === 1, `master ${master.port} has no plugin connection`)
    t.equal(await count(master.admin), 1)
  }
})

t.test('sharded mode: a master going down fails the publishes of its channels only, and they resume when it returns', async (t) => {
  const [a, b] = await startNodes(t, 2, { url: cluster.url, sharded: true, keyPrefix: prefix })
  const onA = await a!.connect()
  const channels = await channelPerMaster()
  for (const channel of channels.values()) await onA.subscribe(channel)
  const [downAdmin, downChannel] = [...channels][0]!
  const [, liveChannel] = [...channels][1]!
  const down = cluster.masters.find((m) => m.admin === downAdmin)!

  await down.kill()
  await t.rejects(b!.app.publish(downChannel, 'during'), { code: 'broker_unavailable' }, 'the channel of the lost shard fails loudly')
  await b!.app.publish(liveChannel, 'other shard')
  t.equal((await onA.next((frame) => frame.type === 'message' && frame.channel === liveChannel)).data, 'other shard', 'the other shards keep working')

  await down.restart()
  // ioredis finds the returning master on its own schedule, and a publish it takes before
  // the node's SSUBSCRIBE is back reaches no one (at-most-once): wait, as Redis sees it,
  // until node A listens on that shard again.
  await eventually(async () => (await down.admin.call('PUBSUB', 'SHARDNUMSUB', prefix + downChannel) as [string, number])[1] === 1,
    'node A is subscribed on the returning shard', 20_000)
  await b!.app.publish(downChannel, 'after')
  t.equal((await onA.next((frame) => frame.type === 'message' && frame.channel === downChannel, 15_000)).data, 'after', 'delivery resumed without a new subscribe')
  t.same(onA.seen((frame) => frame.type === 'message' && frame.data === 'during'), [], 'the refused publish was never delivered')
})
