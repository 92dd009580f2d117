// History on a real three-master Redis Cluster with sharded Pub/Sub: the script's keys and
// its SPUBLISH channel share one hash slot (whatever the key prefix), offsets are the same on
// both nodes, and a client resumes on one node from messages published on the other.
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { startRedisCluster } from '../helpers/redis-server.js'
import { subscribe } from '../helpers/history.js'

const cluster = await startRedisCluster(t)
const channels = [{ match: 'orders-*', history: { size: 100, ttl: 60_000 } }]

for (const keyPrefix of ['hist:', '{app}:hist:']) {
  t.test(`prefix ${keyPrefix}: published on one node, recovered on the other, keys on the channel's shard`, async (t) => {
    const nodes = []
    for (const nodeId of ['node-a', 'node-b']) {
      nodes.push(await startServer(t, { plugin: { nodeId, channels, redis: { url: cluster.url, sharded: true, keyPrefix } } }))
    }
    const [publisher, subscriberNode] = nodes
    for (let i = 0; i < 6; i++) {
      const channel = `orders-${i}`
      const live = await subscriberNode!.connect()
      const { epoch } = await subscribe(live, channel)
      for (let n = 1; n <= 3; n++) await publisher!.app.publish(channel, n)
      const seen = []
      for (let n = 1; n <= 3; n++) seen.push(await live.next((frame) => frame.type === 'message'))
      t.same(seen.map((frame) => [frame.offset, frame.epoch, frame.data]), [[1, epoch, 1], [2, epoch, 2], [3, epoch, 3]], `${channel} live`)
      const late = await subscriberNode!.connect()
      const resumed = await subscribe(late, channel, { offset: 1, epoch })
      t.same({ recovered: resumed.recovered, offset: resumed.offset }, { recovered: true, offset: 3 })
      const replayed = [await late.next((frame) => frame.type === 'message'), await late.next((frame) => frame.type === 'message')]
      t.same(replayed.map((frame) => frame.offset), [2, 3], `${channel} replayed`)
      const slot = await cluster.masters[0]!.admin.call('CLUSTER', 'KEYSLOT', keyPrefix + channel)
      const streamSlot = await cluster.masters[0]!.admin.call('CLUSTER', 'KEYSLOT', keyPrefix.includes('{') ? `${keyPrefix}${channel}:history` : `{${keyPrefix}${channel}}:history`)
      t.equal(streamSlot, slot, 'the stream lives in the slot of the Pub/Sub channel')
    }
  })
}
