// Presence across nodes through a real redis-server: members listed from any node, leaves
// on unsubscribe, disconnect and heartbeat timeout, a SIGKILLed node's members gone within
// the documented time, a restarted node's old members removed at once, and a join storm
// contained by the coalescing.
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { PRESENCE_TTL_INTERVALS, RedisBroker, type RealtimePluginOptions } from '../../lib/index.js'
import { startProcess, waitForOutput, type ManagedProcess } from '../../example-app/cluster/child-process.js'
import { startRedis, freePort, eventually } from '../helpers/redis-server.js'
import { startServer, type StartedServer } from '../helpers/server.js'
import { TestClient, type Frame } from '../helpers/ws-client.js'

const fixture = fileURLToPath(new URL('../fixtures/presence-node.ts', import.meta.url))

const authenticate: RealtimePluginOptions['authenticate'] = (request) => {
  const user = (request.query as { user?: string }).user
  return user === undefined ? {} : { id: user }
}

async function startNodes (t: Test, count: number, redisUrl: string, plugin: RealtimePluginOptions = {}): Promise<StartedServer[]> {
  const nodes: StartedServer[] = []
  for (let i = 0; i < count; i++) {
    nodes.push(await startServer(t, {
      plugin: {
        nodeId: `node-${String.fromCharCode(97 + i)}`,
        redis: { url: redisUrl },
        channels: [{ match: 'room.*', presence: true }],
        authenticate,
        presence: { eventWindow: 50 },
        ...plugin
      }
    }))
  }
  return nodes
}

async function user (t: Test, node: { url: string }, name: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  const client = await TestClient.connect(`${node.url}?user=${name}`, options)
  t.teardown(() => client.close())
  return client
}

/** Sorted `userId/connectionId` of every member, as the node answers. */
async function listed (node: StartedServer, channel: string): Promise<string[]> {
  const users = await node.app.realtime.presence(channel)
  return users.flatMap((u) => u.connections.map((c) => `${u.userId}/${c.connectionId}`)).sort()
}

function idsOf (name: string, ...clients: TestClient[]): string[] {
  return clients.map((client) => `${name}/${client.welcome.connectionId}`)
}

/** A node of the fixture in its own process, stopped (SIGKILL) at teardown if still running. */
async function childNode (t: Test, env: Record<string, string>): Promise<ManagedProcess & { url: string }> {
  const port = await freePort()
  // tsx line maps would corrupt the coverage report: children record none.
  const proc = startProcess('presence-node', process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: String(port), ...env }
  })
  t.teardown(() => proc.stop('SIGKILL'))
  await waitForOutput(proc, 'listening')
  return Object.assign(proc, { url: `ws://127.0.0.1:${port}/ws` })
}

t.test('members are listed from any node; tabs on two nodes are one user with two connections', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await startNodes(t, 2, redis.url)
  const aliceOnA = await user(t, a!, 'alice')
  const aliceOnB = await user(t, b!, 'alice')
  const bob = await user(t, b!, 'bob')
  for (const client of [aliceOnA, aliceOnB, bob]) await client.subscribe('room.1')

  const expected = [...idsOf('alice', aliceOnA, aliceOnB), ...idsOf('bob', bob)].sort()
  t.same(await listed(a!, 'room.1'), expected, 'node a lists members of both nodes')
  t.same(await listed(b!, 'room.1'), expected, 'node b too')
  const [alice] = (await a!.app.realtime.presence('room.1')).filter((u) => u.userId === 'alice')
  t.same(alice!.connections.map((c) => c.nodeId).sort(), ['node-a', 'node-b'])
  t.same(await b!.app.realtime.presenceStats('room.1'), { users: 2, connections: 3 })
  t.match(await bob.request({ type: 'presence_stats', channel: 'room.1' }), { users: 2, connections: 3 })

  // Joins are announced on the other node too.
  const carol = await user(t, a!, 'carol')
  await carol.subscribe('room.1')
  const diff = await bob.next((f) => f.type === 'presence_diff' && f.joins.some((m: { userId: string }) => m.userId === 'carol'))
  t.equal(diff.joins.find((m: { userId: string }) => m.userId === 'carol').nodeId, 'node-a')
})

t.test('a member leaves on unsubscribe, on disconnect and on heartbeat timeout, seen from the other node', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await startNodes(t, 2, redis.url, { heartbeatInterval: 300, heartbeatTimeout: 150 })
  const watcher = await user(t, b!, 'watcher')
  await watcher.subscribe('room.1')
  const leaver = await user(t, a!, 'leaver')
  const closer = await user(t, a!, 'closer')
  // A peer that never answers pings: the heartbeat terminates it.
  const silent = await user(t, a!, 'silent', { autoPong: false })
  for (const client of [leaver, closer, silent]) await client.subscribe('room.1')
  t.equal((await listed(b!, 'room.1')).length, 4)
  // Heard of them first: a join and a leave within one window cancel out, and nobody hears either.
  const joinedIds = new Set<string>()
  while (joinedIds.size < 3) {
    const frame = await watcher.next((f) => f.type === 'presence_diff' && f.joins.length > 0 && f.joins[0]?.userId !== 'watcher')
    for (const member of frame.joins) joinedIds.add(member.userId)
  }

  const leftIds = new Set<string>()
  const leaves = (async () => {
    while (leftIds.size < 3) {
      const frame = await watcher.next((f) => f.type === 'presence_diff' && f.leaves.length > 0, 10_000)
      for (const member of frame.leaves) leftIds.add(member.userId)
    }
  })()
  await leaver.request({ type: 'unsubscribe', channel: 'room.1' })
  await closer.close()
  t.equal((await silent.closed).code, 1006, 'the silent peer was terminated')
  await leaves
  t.same([...leftIds].sort(), ['closer', 'leaver', 'silent'])
  t.same(await listed(b!, 'room.1'), idsOf('watcher', watcher))
})

t.test('the members of a node killed with SIGKILL disappear within the documented time', async (t) => {
  const redis = await startRedis(t)
  const heartbeatInterval = 300
  const [a] = await startNodes(t, 1, redis.url, { heartbeatInterval, heartbeatTimeout: 150 })
  const watcher = await user(t, a!, 'watcher')
  await watcher.subscribe('room.1')
  const child = await childNode(t, { REDIS_URL: redis.url, NODE_ID: 'doomed', HEARTBEAT_INTERVAL: String(heartbeatInterval) })
  const victims = [await user(t, child, 'v1'), await user(t, child, 'v2')]
  for (const client of victims) await client.subscribe('room.1')
  t.equal((await listed(a!, 'room.1')).length, 3)

  await child.stop('SIGKILL')
  const killedAt = Date.now()
  const bound = PRESENCE_TTL_INTERVALS * heartbeatInterval
  // The documented bound, plus room for a loaded machine to poll.
  await eventually(async () => (await listed(a!, 'room.1')).length === 1, 'the killed node\'s members are gone', bound + 2000)
  t.ok(Date.now() - killedAt <= bound + 2000, `gone within ${bound} ms (+ polling slack)`)
  t.same(await listed(a!, 'room.1'), idsOf('watcher', watcher))
  // The surviving node that pruned them announces them as leaves.
  const left = new Set<string>()
  while (left.size < 2) {
    const frame = await watcher.next((f) => f.type === 'presence_diff' && f.leaves.length > 0, 5000)
    for (const member of frame.leaves) left.add(member.userId)
  }
  t.same([...left].sort(), ['v1', 'v2'])
})

t.test('a node restarted with its node id removes its old members at start; its new connections appear', async (t) => {
  const redis = await startRedis(t)
  const [a] = await startNodes(t, 1, redis.url)
  // A long interval: expiry (3 x 30 s) cannot be what removes the old members here.
  const env = { REDIS_URL: redis.url, NODE_ID: 'phoenix', HEARTBEAT_INTERVAL: '30000' }
  const first = await childNode(t, env)
  const old = await user(t, first, 'old')
  await old.subscribe('room.1')
  t.same(await listed(a!, 'room.1'), idsOf('old', old))

  await first.stop('SIGKILL')
  const second = await childNode(t, env)
  t.same(await listed(a!, 'room.1'), [], 'the old members are gone as soon as the node is back')
  const fresh = await user(t, second, 'fresh')
  await fresh.subscribe('room.1')
  t.same(await listed(a!, 'room.1'), idsOf('fresh', fresh))
})

t.test('a node closed cleanly takes its members with it', async (t) => {
  const redis = await startRedis(t)
  const [a, b] = await startNodes(t, 2, redis.url)
  const watcher = await user(t, a!, 'watcher')
  await watcher.subscribe('room.2')
  const client = await user(t, b!, 'bye')
  await client.subscribe('room.1')
  await client.subscribe('room.2')
  await watcher.next((f) => f.type === 'presence_diff' && f.joins.some((m: { userId: string }) => m.userId === 'bye'))
  t.equal((await listed(a!, 'room.1')).length, 1)
  await b!.app.close()
  t.same(await listed(a!, 'room.1'), [])
  t.same(await listed(a!, 'room.2'), idsOf('watcher', watcher))
  const left = await watcher.next((f) => f.type === 'presence_diff' && f.leaves.length > 0)
  t.same(left.leaves.map((m: { userId: string }) => m.userId), ['bye'], 'the other node heard the leave')
  await watcher.close()
  await a!.app.close()
  t.same(await redis.admin.keys('*presence*'), [], 'no presence key is left in Redis')
})

t.test('after a Redis restart, the next refresh lists every member again', async (t) => {
  const redis = await startRedis(t)
  const heartbeatInterval = 300
  const [a, b] = await startNodes(t, 2, redis.url, { heartbeatInterval, heartbeatTimeout: 150 })
  const one = await user(t, a!, 'one')
  const two = await user(t, b!, 'two')
  await one.subscribe('room.1')
  await two.subscribe('room.1')
  const expected = [...idsOf('one', one), ...idsOf('two', two)].sort()
  t.same(await listed(a!, 'room.1'), expected)
  // Everything in Redis (members and the cached scripts) is lost.
  await redis.restart()
  await eventually(async () => {
    try {
      return JSON.stringify(await listed(b!, 'room.1')) === JSON.stringify(expected)
    } catch {
      return false
    }
  }, 'both members are listed again')
  t.pass('listed again')
})

t.test('presence reads of one channel asked together share one Redis read', async (t) => {
  const redis = await startRedis(t)
  const broker = new RedisBroker({ url: redis.url })
  const node = await startServer(t, { plugin: { broker, channels: [{ match: 'room.*', presence: true }] } })
  const clients = await Promise.all(Array.from({ length: 5 }, () => node.connect()))
  for (const client of clients) await client.subscribe('room.1')
  // Once first: Redis learns the script (NOSCRIPT, then EVAL), which counts a second call.
  await node.app.realtime.presence('room.1')
  const before = broker.presence.commands
  // Asked in one turn: the first read is still waiting for Redis when the others come.
  const answers = await Promise.all([1, 2, 3, 4, 5].map(() => node.app.realtime.presence('room.1')))
  t.ok(answers.every((users) => users.length === 5), 'each request is answered with every member')
  t.equal(broker.presence.commands - before, 1, `one Redis call for five requests (${broker.presence.commands - before})`)
})

t.test('2,000 connections joining one channel at once: join frames bounded by the coalescing, every member listed', async (t) => {
  const redis = await startRedis(t)
  const eventWindow = 100
  const nodes = await startNodes(t, 2, redis.url, { presence: { eventWindow, maxEventsPerFrame: 20 } })
  const observer = await user(t, nodes[0]!, 'observer')
  await observer.subscribe('room.big')
  await observer.next((f) => f.type === 'presence_diff')

  const COUNT = 2000
  const sockets: WebSocket[] = []
  const ids: string[] = []
  let diffFrames = 0
  for (let start = 0; start < COUNT; start += 200) {
    await Promise.all(Array.from({ length: Math.min(200, COUNT - start) }, (_, i) => new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(nodes[(start + i) % 2]!.url)
      sockets.push(socket)
      socket.once('error', reject)
      socket.on('message', (data) => {
        const text = data.toString()
        if (text.startsWith('{"type":"presence_diff"')) diffFrames++
        else if (text.startsWith('{"type":"welcome"')) {
          ids.push((JSON.parse(text) as { connectionId: string }).connectionId)
          resolve()
        }
      })
    })))
  }
  t.teardown(() => { for (const socket of sockets) socket.terminate() })

  const observed: Frame[] = []
  let announced = 0
  const started = Date.now()
  const subscribed = sockets.map((socket) => new Promise<void>((resolve) => {
    socket.on('message', (data) => { if (data.toString().startsWith('{"type":"subscribed"')) resolve() })
  }))
  for (const socket of sockets) socket.send(JSON.stringify({ type: 'subscribe', channel: 'room.big' }))
  await Promise.all(subscribed)
  while (announced < COUNT) {
    const frame = await observer.next((f) => f.type === 'presence_diff', 10_000)
    observed.push(frame)
    announced += frame.joins.length + (frame.more ?? 0)
  }
  const elapsed = Date.now() - started
  t.equal(announced, COUNT, 'every join was announced (listed or counted)')

  // The documented bound: at most one presence_diff per channel, node and window.
  const bound = nodes.length * (Math.ceil(elapsed / eventWindow) + 1)
  t.ok(observed.length <= bound, `${observed.length} frames to the observer, at most ${bound}`)
  t.ok(diffFrames <= COUNT * bound, `${diffFrames} frames to all 2,000 joiners, at most ${COUNT * bound}`)
  t.ok(diffFrames < COUNT * COUNT / 2, 'far fewer than one frame per join per member')
  t.comment(`${observed.length} frames to the observer in ${elapsed} ms; ${diffFrames} to all joiners (uncoalesced: ~${COUNT * COUNT / 2})`)

  const members = await listed(nodes[1]!, 'room.big')
  t.equal(members.length, COUNT + 1)
  const listedIds = new Set(members.map((m) => m.split('/')[1]))
  t.ok(ids.every((id) => listedIds.has(id)), 'every connection is listed')
  t.same(await nodes[0]!.app.realtime.presenceStats('room.big'), { users: COUNT + 1, connections: COUNT + 1 })
})
