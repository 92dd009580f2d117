// Commands that reach every node (app.realtime.cluster.*), with a real Redis and three nodes:
// two in this process, one in a child process that the test kills to see it reported missing.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MessageChannel } from 'node:worker_threads'
import t from 'tap'
import type { Test } from 'tap'
import { CloseCode } from '../lib/errors.js'
import { ClusterBroker } from '../lib/brokers/cluster-broker.js'
import { ClusterRelay } from '../lib/brokers/cluster-relay.js'
import { linkOfPort } from '../lib/brokers/cluster/relay-messages.js'
import { startRedis, eventually } from './helpers/redis-server.js'
import { startServer, type StartedServer } from './helpers/server.js'
import { TestClient } from './helpers/ws-client.js'

const fixture = fileURLToPath(new URL('./fixtures/cluster-node.ts', import.meta.url))

async function startNode (t: Test, redisUrl: string, nodeId: string): Promise<StartedServer> {
  return await startServer(t, {
    plugin: {
      nodeId,
      redis: { url: redisUrl },
      clusterAnnounceInterval: 200,
      authenticate: (request) => ({ id: request.headers['x-user'] ?? 'anonymous' })
    }
  })
}

/** A node in its own process; `kill()` ends it with SIGKILL (no goodbye on the control channel). */
async function startChildNode (t: Test, redisUrl: string, nodeId: string): Promise<{ url: string, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, [...process.execArgv, fixture, redisUrl, nodeId], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  const port = await new Promise<number>((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening (\d+)/.exec(output)
      if (match !== null) resolve(Number(match[1]))
    })
    child.once('exit', () => reject(new Error(`node ${nodeId} exited before listening`)))
  })
  return { url: `ws://127.0.0.1:${port}/ws`, kill }
}

async function connectAs (t: Test, url: string, user: string): Promise<TestClient> {
  const client = await TestClient.connect(url, { headers: { 'x-user': user } })
  t.teardown(() => client.close())
  return client
}

t.test('cluster commands reach every node; a killed node is reported missing, a stopped one is not', async (t) => {
  const redis = await startRedis(t)
  const a = await startNode(t, redis.url, 'node-a')
  const b = await startNode(t, redis.url, 'node-b')
  const c = await startChildNode(t, redis.url, 'node-c')
  const cluster = a.app.realtime.cluster

  // Nodes learn each other from their announcements; wait until node A has heard both.
  await eventually(async () => Object.keys((await cluster.stats({ timeoutMs: 300 })).nodes).length === 3, 'node A hears all three nodes')

  const aliceOnA = await connectAs(t, a.url, 'alice')
  const aliceOnC = await connectAs(t, c.url, 'alice')
  const bobOnB = await connectAs(t, b.url, 'bob')
  for (const client of [aliceOnA, aliceOnC, bobOnB]) await client.subscribe('room')

  const stats = await cluster.stats()
  t.same(stats.missing, [])
  t.same(Object.keys(stats.nodes).sort(), ['node-a', 'node-b', 'node-c'])
  t.equal(stats.total.connections, 3)
  t.equal(stats.total.channels, 3, 'one channel on each node, summed')
  t.equal((stats.nodes['node-c'] as { connections: number }).connections, 1)

  const connections = await b.app.realtime.cluster.connectionsOf('alice')
  t.same(connections.missing, [])
  t.same(connections.nodes['node-b'], [])
  t.same((connections.nodes['node-a'] as Array<{ id: string, channels: string[] }>).map((c) => [c.id, c.channels]), [[aliceOnA.welcome.connectionId, ['room']]])
  t.same((connections.nodes['node-c'] as Array<{ id: string }>).map((c) => c.id), [aliceOnC.welcome.connectionId])

  const unsubscribed = await cluster.unsubscribeUser('alice', 'room')
  t.equal(unsubscribed.total, 2)
  for (const client of [aliceOnA, aliceOnC]) t.same(await client.nextOfType('unsubscribed'), { type: 'unsubscribed', channel: 'room' })
  await b.app.publish('room', 'only bob')
  t.equal((await bobOnB.nextOfType('message')).data, 'only bob')

  const disconnected = await b.app.realtime.cluster.disconnectUser('alice', 'banned')
  t.equal(disconnected.total, 2)
  t.same(disconnected.nodes, { 'node-a': 1, 'node-b': 0, 'node-c': 1 })
  for (const client of [aliceOnA, aliceOnC]) t.same(await client.closed, { code: CloseCode.POLICY_VIOLATION, reason: 'banned' })

  // Node C dies without a word: node A still counts it as a member and reports it missing.
  await c.kill()
  const afterKill = await cluster.stats({ timeoutMs: 500 })
  t.same(afterKill.missing, ['node-c'])
  t.same(Object.keys(afterKill.nodes).sort(), ['node-a', 'node-b'])
  t.equal(afterKill.total.connections, 1)

  // Node B stops cleanly: it says goodbye, so it is not missing, just gone.
  await b.app.close()
  const afterStop = await cluster.stats({ timeoutMs: 500 })
  t.notOk(afterStop.missing.includes('node-b'))
  t.same(Object.keys(afterStop.nodes), ['node-a'])

  // Silence for three announce intervals and node C is forgotten.
  await eventually(async () => (await cluster.stats({ timeoutMs: 100 })).missing.length === 0, 'node C is forgotten')
})

t.test('with the memory broker the one node answers itself; bad arguments are refused', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { authenticate: () => ({ id: 7 }) } })
  const client = await connect()
  await client.subscribe('news')
  const stats = await app.realtime.cluster.stats()
  t.same(stats.missing, [])
  t.equal(stats.total.connections, 1)
  t.same((await app.realtime.cluster.connectionsOf(7)).nodes[app.realtime.nodeId], [app.realtime.connection(client.welcome.connectionId)!.toJSON()])
  t.equal((await app.realtime.cluster.unsubscribeUser(7, 'news')).total, 1)
  t.equal((await app.realtime.cluster.disconnectUser('7')).total, 1)
  t.equal((await client.closed).code, CloseCode.POLICY_VIOLATION)
  await t.rejects(app.realtime.cluster.disconnectUser({} as never), TypeError)
  await t.rejects(app.realtime.cluster.unsubscribeUser(1, 5 as never), TypeError)
  await t.rejects(app.realtime.cluster.stats({ timeoutMs: 0 }), TypeError)
})

t.test('a command while the broker cannot publish fails with broker_unavailable instead of waiting', async (t) => {
  const { app } = await startServer(t)
  await app.close()
  await t.rejects(app.realtime.cluster.stats(), { code: 'broker_unavailable' })
})

t.test('malformed frames on the control channel are dropped; the node keeps answering', async (t) => {
  const redis = await startRedis(t)
  const a = await startNode(t, redis.url, 'node-a')
  for (const junk of ['1|6|node-x{"type":"not json', '1|6|node-x{"type":"command","node":"node-x","id":"1","command":"nope","args":[]}', '1|6|node-x{"type":"command","node":"node-x","id":"2","command":"disconnectUser","args":[{}]}', '1|6|node-x{"type":"reply","node":"node-x","id":"unknown","result":1}', '1|6|node-x{"type":"announce"}']) {
    await redis.admin.publish('fastify-realtime:!control', junk)
  }
  const stats = await a.app.realtime.cluster.stats({ timeoutMs: 300 })
  t.ok('node-a' in stats.nodes)
})

t.test('over the ClusterBroker each worker is a node of the cluster commands', async (t) => {
  const relay = new ClusterRelay()
  t.teardown(() => relay.close())
  const workers: StartedServer[] = []
  for (const nodeId of ['worker-1', 'worker-2']) {
    const { port1, port2 } = new MessageChannel()
    t.teardown(() => { port1.close(); port2.close() })
    relay.attach(linkOfPort(port1))
    workers.push(await startServer(t, { plugin: { nodeId, broker: new ClusterBroker({ link: linkOfPort(port2) }), authenticate: () => ({ id: 'carol' }) } }))
  }
  await workers[0]!.connect()
  await workers[1]!.connect()
  await eventually(async () => Object.keys((await workers[0]!.app.realtime.cluster.stats({ timeoutMs: 300 })).nodes).length === 2, 'worker 1 hears worker 2')
  const { total, nodes, missing } = await workers[1]!.app.realtime.cluster.disconnectUser('carol')
  t.equal(total, 2)
  t.same(nodes, { 'worker-1': 1, 'worker-2': 1 })
  t.same(missing, [])
})
