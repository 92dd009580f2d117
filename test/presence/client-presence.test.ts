// The bundled client's presence: presence() and presenceStats(), typed join / leave events,
// info sent with every (re)subscribe, and nothing stale after a reconnect to another server.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode, type PresenceEvent } from '../../lib/client/index.js'
import type { RealtimePluginOptions } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient, record } from '../helpers/realtime-client.js'

const plugin: RealtimePluginOptions = {
  channels: [
    { match: 'room.*', presence: { info: Type.Object({ name: Type.String({ maxLength: 30 }) }) } },
    { match: 'plain' }
  ],
  presence: { eventWindow: 20 }
}
const quick = { initialDelay: 20, maxDelay: 50 }

t.test('presence(), presenceStats() and join / leave events', async (t) => {
  const server = await startServer(t, { plugin })
  const ann = openClient(t, server.url)
  const ben = openClient(t, server.url)
  const joins = record(ann, 'join')
  const annSubscription = ann.subscribe('room.1', () => {}, { info: { name: 'Ann' } })
  await annSubscription.ready
  const benJoined = nextEvent(ann, 'join', (event) => event.member.info !== undefined && (event.member.info as { name: string }).name === 'Ben')
  const benSubscription = ben.subscribe('room.1', () => {}, { info: { name: 'Ben' } })
  await benSubscription.ready
  const joined: PresenceEvent = await benJoined
  t.match(joined, { channel: 'room.1', member: { connectionId: ben.connectionId, info: { name: 'Ben' } } })
  t.ok(joins.length >= 1)

  const users = await ben.presence('room.1')
  t.same(users.map((user) => user.connections[0]?.info).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [{ name: 'Ann' }, { name: 'Ben' }])
  t.same(await ann.presenceStats('room.1'), { users: 2, connections: 2 })

  const left = nextEvent(ann, 'leave')
  benSubscription()
  t.match(await left, { channel: 'room.1', member: { connectionId: ben.connectionId } })
  t.same(await ann.presenceStats('room.1'), { users: 1, connections: 1 })

  await t.rejects(ann.presence('plain'), { code: ErrorCode.PRESENCE_DISABLED })
  const refused = ann.subscribe('room.2', () => {}, { info: { name: 42 } })
  await t.rejects(refused.ready, { code: ErrorCode.INVALID_MESSAGE })
})

t.test('after a reconnect to a fresh server the client is listed again with its info, and the old list is not kept', async (t) => {
  const first = await startServer(t, { plugin })
  const client = openClient(t, first.url, quick)
  client.subscribe('room.1', () => {}, { info: { name: 'Cleo' } })
  await nextEvent(client, 'subscribed')
  const before = client.connectionId
  t.equal((await client.presence('room.1')).length, 1)

  const reconnecting = nextEvent(client, 'reconnecting')
  await first.app.close()
  await reconnecting
  // Asked while disconnected: the request waits and is answered by the new server, never
  // from a list of the old connection.
  const asked = client.presence('room.1')
  const resubscribed = nextEvent(client, 'subscribed')
  const second = await startServer(t, { plugin, port: Number(new URL(first.url).port) })
  await resubscribed
  t.notOk(JSON.stringify(await asked).includes(before!), 'the old connection is not in the answer')
  const users = await client.presence('room.1')
  t.same(users.map((user) => user.connections.map((c) => c.connectionId)), [[client.connectionId]])
  t.not(client.connectionId, before)
  t.same((await second.app.realtime.presence('room.1'))[0]?.connections[0]?.info, { name: 'Cleo' }, 'the info was sent with the resubscribe')
})
