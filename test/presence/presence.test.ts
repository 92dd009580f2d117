// Presence on one node (embedded broker): who is listed, grouped per user, with which info;
// join and leave frames, coalesced; what bad input gets. Several nodes and Redis are in
// presence-redis.test.ts.
import t from 'tap'
import Type from 'typebox'
import Fastify from 'fastify'
import realtime, { ErrorCode, type RealtimePluginOptions } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { TestClient } from '../helpers/ws-client.js'

const rules: RealtimePluginOptions['channels'] = [
  { match: 'room.*', presence: true },
  { match: 'quiet.*', presence: { events: false } },
  { match: 'cursor.*', presence: { info: Type.Object({ color: Type.String({ maxLength: 20 }) }, { additionalProperties: false }) } },
  { match: 'plain.*' }
]

// The user is named by the `user` query parameter; anonymous without it.
const authenticate: RealtimePluginOptions['authenticate'] = (request) => {
  const user = (request.query as { user?: string }).user
  return user === undefined ? {} : { id: user, name: `User ${user}` }
}

async function start (t: Parameters<typeof startServer>[0], plugin: RealtimePluginOptions = {}) {
  const server = await startServer(t, { plugin: { channels: rules, authenticate, presence: { eventWindow: 20 }, ...plugin } })
  const as = async (user?: string): Promise<TestClient> => {
    if (user === undefined) return await server.connect()
    const named = await TestClient.connect(`${server.url}?user=${user}`)
    t.teardown(() => named.close())
    return named
  }
  return { ...server, as }
}

function sortedUsers (users: Array<{ userId: string, connections: Array<{ connectionId: string }> }>) {
  return users.map((user) => ({ userId: user.userId, connections: user.connections.map((c) => c.connectionId).sort() }))
    .sort((a, b) => a.userId.localeCompare(b.userId))
}

t.test('members are listed per user: two tabs of one user are one member with two connections', async (t) => {
  const { as, app } = await start(t)
  const tab1 = await as('alice')
  const tab2 = await as('alice')
  const bob = await as('bob')
  const anonymous = await as()
  for (const client of [tab1, tab2, bob, anonymous]) t.equal((await client.subscribe('room.1')).type, 'subscribed')

  const answer = await bob.request({ type: 'presence', channel: 'room.1' })
  t.equal(answer.type, 'presence')
  t.equal(answer.channel, 'room.1')
  t.same(sortedUsers(answer.users), sortedUsers([
    { userId: 'alice', connections: [{ connectionId: tab1.welcome.connectionId }, { connectionId: tab2.welcome.connectionId }] },
    { userId: 'bob', connections: [{ connectionId: bob.welcome.connectionId }] },
    // Anonymous connections are listed under their connection id.
    { userId: anonymous.welcome.connectionId, connections: [{ connectionId: anonymous.welcome.connectionId }] }
  ]))
  t.equal(answer.users[0].connections[0].nodeId, app.realtime.nodeId)

  const stats = await anonymous.request({ type: 'presence_stats', channel: 'room.1' })
  t.match(stats, { type: 'presence_stats', channel: 'room.1', users: 3, connections: 4 })
  t.same(await app.realtime.presenceStats('room.1'), { users: 3, connections: 4 })
  t.same(sortedUsers(await app.realtime.presence('room.1')), sortedUsers(answer.users))
  t.same(await app.realtime.presence('room.2'), [], 'an empty channel with presence has no members')
})

t.test('a member leaves on unsubscribe and on disconnect, and subscribers hear join and leave', async (t) => {
  const { as, app } = await start(t)
  const watcher = await as('watcher')
  await watcher.subscribe('room.1')
  const carol = await as('carol')
  await carol.subscribe('room.1')
  const joined = await watcher.next((f) => f.type === 'presence_diff' && f.joins.some((m: { userId: string }) => m.userId === 'carol'))
  t.match(joined, { channel: 'room.1', leaves: [], ts: Number })
  t.match(joined.joins.find((m: { userId: string }) => m.userId === 'carol'), { userId: 'carol', connectionId: carol.welcome.connectionId, nodeId: app.realtime.nodeId })

  await carol.request({ type: 'unsubscribe', channel: 'room.1' })
  const left = await watcher.next((f) => f.type === 'presence_diff' && f.leaves.length > 0)
  t.same(left.leaves.map((m: { connectionId: string }) => m.connectionId), [carol.welcome.connectionId])
  t.same((await app.realtime.presence('room.1')).map((u) => u.userId), ['watcher'])

  const dave = await as('dave')
  await dave.subscribe('room.1')
  await watcher.next((f) => f.type === 'presence_diff' && f.joins.some((m: { userId: string }) => m.userId === 'dave'))
  await dave.close()
  const gone = await watcher.next((f) => f.type === 'presence_diff' && f.leaves.length > 0)
  t.equal(gone.leaves[0].userId, 'dave')
  t.same(await app.realtime.presenceStats('room.1'), { users: 1, connections: 1 })
})

t.test('joins and leaves within one window are coalesced into one frame', async (t) => {
  const { as, connect } = await start(t, { presence: { eventWindow: 300 } })
  const watcher = await as('watcher')
  await watcher.subscribe('room.1')
  await watcher.next((f) => f.type === 'presence_diff')
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect()))
  await Promise.all(clients.map((client) => client.subscribe('room.1')))
  const frame = await watcher.next((f) => f.type === 'presence_diff')
  // All 20 subscribes were answered before the 300 ms window could close: one frame lists them.
  t.equal(frame.joins.length, 20)
  t.notOk('more' in frame)
})

t.test('a frame lists at most maxEventsPerFrame events and counts the rest in more', async (t) => {
  const { as, connect } = await start(t, { presence: { eventWindow: 300, maxEventsPerFrame: 5 } })
  const watcher = await as('watcher')
  await watcher.subscribe('room.1')
  await watcher.next((f) => f.type === 'presence_diff')
  const clients = await Promise.all(Array.from({ length: 12 }, () => connect()))
  await Promise.all(clients.map((client) => client.subscribe('room.1')))
  const frame = await watcher.next((f) => f.type === 'presence_diff')
  t.equal(frame.joins.length, 5)
  t.equal(frame.more, 7)
})

t.test('a rule with events: false keeps members and counts but sends no presence_diff', async (t) => {
  const { as, app } = await start(t)
  const a = await as('a')
  const b = await as('b')
  await a.subscribe('quiet.1')
  await b.subscribe('quiet.1')
  await b.close()
  t.same(await app.realtime.presenceStats('quiet.1'), { users: 1, connections: 1 })
  // One timer flushes every channel's events: once a join in room.z (recorded after b left)
  // has come out, any frame for quiet.1 would have been published too, before the marker.
  await a.subscribe('room.z')
  await a.next((f) => f.type === 'presence_diff' && f.channel === 'room.z')
  await app.publish('quiet.1', 'marker')
  await a.next((f) => f.data === 'marker')
  t.same(a.seen((f) => f.type === 'presence_diff' && f.channel === 'quiet.1'), [])
})

t.test('info comes from the presenceInfo option, or from the subscribe when the rule has an info schema', async (t) => {
  const { as, app } = await start(t, { presenceInfo: (connection) => ({ name: (connection.user as { name?: string }).name }) })
  const alice = await as('alice')
  await alice.subscribe('room.1')
  t.same((await app.realtime.presence('room.1'))[0]?.connections[0]?.info, { name: 'User alice' })

  t.equal((await alice.request({ type: 'subscribe', channel: 'cursor.1', info: { color: 'teal' } })).type, 'subscribed')
  const [user] = await app.realtime.presence('cursor.1')
  t.same(user?.connections[0]?.info, { color: 'teal' })
})

t.test('presenceInfo that throws or returns too much lists the member without info, and logs why', async (t) => {
  const logged: string[] = []
  const stream = { write: (line: string) => { logged.push(line) } }
  const server = await startServer(t, {
    fastify: { logger: { level: 'warn', stream } },
    plugin: {
      channels: rules,
      authenticate,
      presence: { maxInfoBytes: 32 },
      presenceInfo: (connection) => {
        const id = (connection.user as { id?: string }).id
        if (id === 'thrower') throw new Error('no profile')
        return { bio: 'x'.repeat(100) }
      }
    }
  })
  for (const name of ['thrower', 'verbose']) {
    const client = await TestClient.connect(`${server.url}?user=${name}`)
    t.teardown(() => client.close())
    t.equal((await client.subscribe('room.1')).type, 'subscribed')
  }
  const users = await server.app.realtime.presence('room.1')
  t.same(users.map((u) => u.userId).sort(), ['thrower', 'verbose'])
  t.ok(users.every((u) => u.connections[0]!.info === undefined), 'listed without info')
  t.ok(logged.some((line) => line.includes('presenceInfo threw')))
  t.ok(logged.some((line) => line.includes('more than presence.maxInfoBytes')))
})

t.test('bad presence input gets invalid_message or presence_disabled, and the connection goes on', async (t) => {
  const { as, app } = await start(t, { presence: { maxInfoBytes: 64 } })
  const client = await as('eve')
  const tooBig = await client.request({ type: 'subscribe', channel: 'cursor.1', info: { color: 'x'.repeat(100) } })
  t.match(tooBig, { type: 'error', code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/info' }] })
  const badShape = await client.request({ type: 'subscribe', channel: 'cursor.1', info: { color: 42 } })
  t.match(badShape, { type: 'error', code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/info/color' }] })
  const extraKey = await client.request({ type: 'subscribe', channel: 'cursor.1', info: { color: 'red', admin: true } })
  t.equal(extraKey.code, ErrorCode.INVALID_MESSAGE)
  const noSchema = await client.request({ type: 'subscribe', channel: 'room.1', info: { name: 'fake' } })
  t.equal(noSchema.code, ErrorCode.INVALID_MESSAGE, 'a channel without an info schema takes no info from clients')
  const noPresence = await client.request({ type: 'subscribe', channel: 'plain.1', info: 1 })
  t.equal(noPresence.code, ErrorCode.INVALID_MESSAGE)
  t.same(await app.realtime.presence('cursor.1'), [], 'nothing was subscribed')
  t.equal(app.realtime.subscriberCount('cursor.1'), 0)

  t.match(await client.request({ type: 'presence', channel: 'plain.1' }), { type: 'error', code: ErrorCode.PRESENCE_DISABLED })
  t.match(await client.request({ type: 'presence_stats', channel: 'elsewhere' }), { type: 'error', code: ErrorCode.PRESENCE_DISABLED })
  t.match(await client.request({ type: 'presence', channel: 'bad channel' }), { type: 'error', code: ErrorCode.INVALID_CHANNEL })
  await t.rejects(app.realtime.presence('plain.1'), { code: ErrorCode.PRESENCE_DISABLED })
  await t.rejects(app.realtime.presenceStats('no spaces'), { code: ErrorCode.INVALID_CHANNEL })
  t.equal((await client.subscribe('cursor.1')).type, 'subscribed', 'the connection still works')
})

t.test('presence requests are authorized like a subscribe', async (t) => {
  const { as } = await start(t, { authorize: ({ channel, user }) => channel !== 'room.secret' || (user as { id?: string }).id === 'admin' })
  const guest = await as('guest')
  const admin = await as('admin')
  t.match(await guest.request({ type: 'presence', channel: 'room.secret' }), { type: 'error', code: ErrorCode.FORBIDDEN })
  t.match(await guest.request({ type: 'presence_stats', channel: 'room.secret' }), { type: 'error', code: ErrorCode.FORBIDDEN })
  t.match(await admin.request({ type: 'presence', channel: 'room.secret' }), { type: 'presence', users: [] })
})

t.test('without presence rules, the requests answer presence_disabled and subscribes take no info', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  t.equal((await client.request({ type: 'presence', channel: 'room.1' })).code, ErrorCode.PRESENCE_DISABLED)
  t.equal((await client.request({ type: 'subscribe', channel: 'room.1', info: {} })).code, ErrorCode.INVALID_MESSAGE)
  await t.rejects(app.realtime.presence('room.1'), { code: ErrorCode.PRESENCE_DISABLED })
  await t.rejects(app.realtime.presenceStats('room.1'), { code: ErrorCode.PRESENCE_DISABLED })
})

t.test('a server-side subscribe is listed too, and a connection gone before its subscribe completes is not', async (t) => {
  const { as, app } = await start(t)
  const client = await as('zed')
  const connection = app.realtime.connection(client.welcome.connectionId)!
  await app.realtime.subscribe(connection, 'room.9')
  t.same((await app.realtime.presence('room.9')).map((u) => u.userId), ['zed'])
  await app.realtime.unsubscribe(connection, 'room.9')
  t.same(await app.realtime.presence('room.9'), [])
})

t.test('register refuses an unusable presence setting, naming the rule', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /channels\[0\] \("a"\): presence must be true, false or/],
    [{ events: 'no' }, /presence\.events must be a boolean/],
    [{ info: 'string' }, /presence\.info must be a TypeBox schema/],
    [{ colour: true }, /presence has an unknown key "colour"/]
  ]
  for (const [presence, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(realtime, { channels: [{ match: 'a', presence } as never] }); await app.ready() }, message)
    await app.close()
  }
  const app = Fastify()
  const broker = { state: 'ready', start: async () => {}, publish: async () => {}, subscribe: async () => {}, unsubscribe: async () => {}, close: async () => {} }
  await t.rejects(async () => { await app.register(realtime, { broker: broker as never, channels: [{ match: 'a', presence: true }] }); await app.ready() }, /the broker has none/)
  await app.close()
  const fine = Fastify()
  await fine.register(realtime, { channels: [{ match: 'a', presence: false }, { match: 'b', presence: { events: true } }] })
  await fine.ready()
  await fine.close()
})
