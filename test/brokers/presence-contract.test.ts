// The presence capability of both brokers answers the same contract: members per channel,
// grouped by nothing (the plugin groups), stats counting distinct users, removal by member,
// and a node's members removed whole.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { MessageChannel } from 'node:worker_threads'
import { MemoryBroker, RedisBroker, type Broker, type BrokerPresence } from '../../lib/index.js'
import { ClusterBroker } from '../../lib/brokers/cluster-broker.js'
import { ClusterRelay } from '../../lib/brokers/cluster-relay.js'
import { linkOfPort } from '../../lib/brokers/cluster/relay-messages.js'
import { startRedis } from '../helpers/redis-server.js'

const member = (userId: string, connectionId: string, nodeId = 'n1', info?: unknown) =>
  info === undefined ? { userId, connectionId, nodeId } : { userId, connectionId, nodeId, info }

async function started (t: Test, broker: Broker, nodeId = 'n1'): Promise<BrokerPresence> {
  await broker.start({ onMessage: () => {}, log: Fastify().log, nodeId })
  t.teardown(() => broker.close())
  return broker.presence!
}

/** A worker's ClusterBroker, its IPC channel leading to `relay` (MessagePorts, as in cluster-broker.test.ts). */
function clusterWorker (t: Test, relay: ClusterRelay): { broker: ClusterBroker, port: MessageChannel['port1'] } {
  const { port1, port2 } = new MessageChannel()
  t.teardown(() => { port1.close(); port2.close() })
  relay.attach(linkOfPort(port1))
  return { broker: new ClusterBroker({ link: linkOfPort(port2) }), port: port1 }
}

function startRelay (t: Test): ClusterRelay {
  const relay = new ClusterRelay()
  t.teardown(() => relay.close())
  return relay
}

const brokers: Array<[string, (t: Test) => Promise<BrokerPresence>]> = [
  ['cluster', (t) => started(t, clusterWorker(t, startRelay(t)).broker)],
  ['memory', (t) => started(t, new MemoryBroker())],
  ['redis', async (t) => started(t, new RedisBroker({ url: (await startRedis(t)).url }))]
]

for (const [name, make] of brokers) {
  t.test(`${name}: add, list, count, remove`, async (t) => {
    const presence = await make(t)
    t.same(await presence.add('room', [member('ann', 'c1', 'n1', { name: 'Ann "A"' }), member('ann', 'c2', 'n2'), member('bob', 'c3')], 60_000), [])
    const listed = (await presence.members('room')).sort((a, b) => a.connectionId.localeCompare(b.connectionId))
    t.same(listed, [member('ann', 'c1', 'n1', { name: 'Ann "A"' }), member('ann', 'c2', 'n2'), member('bob', 'c3')])
    t.same(await presence.stats('room'), { users: 2, connections: 3 })
    t.same(await presence.members('other'), [])
    t.same(await presence.stats('other'), { users: 0, connections: 0 })

    await presence.remove('room', [member('ann', 'c1', 'n1')])
    t.same(await presence.stats('room'), { users: 2, connections: 2 })
    await presence.remove('nowhere', [member('ann', 'c1')])

    // A user id full of JSON quoting counts as one user.
    await presence.add('quotes', [member('a","connectionId":"b', 'q1'), member('a","connectionId":"b', 'q2'), member('a', 'q3')], 60_000)
    t.same(await presence.stats('quotes'), { users: 2, connections: 3 })
  })

  t.test(`${name}: a node's members are removed whole, other nodes' stay`, async (t) => {
    const presence = await make(t)
    await presence.add('one', [member('ann', 'c1', 'n1'), member('bob', 'c2', 'n2')], 60_000)
    await presence.add('two', [member('cy', 'c3', 'n1')], 60_000)
    await presence.removeNode('n1')
    t.same(await presence.members('one'), [member('bob', 'c2', 'n2')])
    t.same(await presence.members('two'), [])
  })

  t.test(`${name}: a member written with no time to live is not listed, and the next add returns it as expired`, async (t) => {
    const presence = await make(t)
    await presence.add('room', [member('ann', 'c1')], 60_000)
    await presence.add('room', [member('old', 'c9', 'gone')], 0)
    t.same((await presence.members('room')).map((m) => m.userId), ['ann'])
    t.same(await presence.stats('room'), { users: 1, connections: 1 })
    const expired = await presence.add('room', [member('ann', 'c1')], 60_000)
    t.same(expired.map((m) => m.connectionId), ['c9'])
  })
}

t.test('redis: presence calls fail with broker_unavailable while the broker is not ready', async (t) => {
  const broker = new RedisBroker({ url: (await startRedis(t)).url })
  await t.rejects(broker.presence.members('room'), { code: 'broker_unavailable' })
  await t.rejects(broker.presence.removeNode('n1'), { code: 'broker_unavailable' })
  await t.rejects(broker.presence.add('room', [member('a', 'c')], 1000), { code: 'broker_unavailable' })
})

t.test('cluster: members of every worker are listed on each, and a worker that exits takes its members at once', async (t) => {
  const relay = startRelay(t)
  const first = clusterWorker(t, relay)
  const second = clusterWorker(t, relay)
  const one = await started(t, first.broker, 'w1')
  const two = await started(t, second.broker, 'w2')
  await one.add('room', [member('ann', 'c1', 'w1')], 60_000)
  await two.add('room', [member('bob', 'c2', 'w2')], 60_000)
  t.same((await one.members('room')).map((m) => m.userId).sort(), ['ann', 'bob'])
  // The worker's channel closes, as when its process dies.
  const gone = new Promise((resolve) => second.port.once('close', resolve))
  second.port.close()
  await gone
  t.same((await one.members('room')).map((m) => m.userId), ['ann'])
})
