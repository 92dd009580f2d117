// Channel history on the embedded broker, over real sockets: offsets and epochs in every
// message frame, recovery after a position, replay racing live publishes, trimmed and expired
// history, bad `since`, and app.realtime.history().
import { test } from 'tap'
import { startServer } from '../helpers/server.js'
import { subscribe, messages } from '../helpers/history.js'

const channels = [
  { match: 'room:*', history: { size: 100, ttl: 60_000 } },
  { match: 'tiny:*', history: { size: 3, ttl: 60_000 } },
  { match: 'brief:*', history: { size: 10, ttl: 50 } }
]

test('a history channel numbers its messages; a plain channel\'s frames are unchanged', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const subscribed = await subscribe(client, 'room:1')
  t.same({ offset: subscribed.offset, recovered: subscribed.recovered }, { offset: 0, recovered: undefined })
  t.match(subscribed.epoch, /^[a-z0-9]+$/)
  await subscribe(client, 'plain')
  await server.app.publish('room:1', { n: 1 })
  await server.app.publish('room:1', { n: 2 })
  await server.app.publish('plain', { n: 3 })
  const [first, second] = await messages(client, 'room:1', 2)
  t.same([first!.offset, second!.offset], [1, 2])
  t.equal(first!.epoch, subscribed.epoch)
  const plain = await client.next((frame) => frame.channel === 'plain')
  t.same(Object.keys(plain), ['type', 'channel', 'data', 'ts'])
})

test('resubscribing with since replays what was missed, in order, then continues live', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const first = await server.connect()
  const { epoch } = await subscribe(first, 'room:a')
  for (let n = 1; n <= 3; n++) await server.app.publish('room:a', n)
  await messages(first, 'room:a', 3)
  first.close()
  for (let n = 4; n <= 8; n++) await server.app.publish('room:a', n)

  const second = await server.connect()
  const subscribed = await subscribe(second, 'room:a', { offset: 3, epoch })
  t.same({ recovered: subscribed.recovered, offset: subscribed.offset, epoch: subscribed.epoch }, { recovered: true, offset: 8, epoch })
  await server.app.publish('room:a', 9)
  const replayed = await messages(second, 'room:a', 6)
  t.same(replayed.map((frame) => [frame.offset, frame.data]), [[4, 4], [5, 5], [6, 6], [7, 7], [8, 8], [9, 9]])
  // The replay followed the answer: nothing of the channel came before `subscribed`.
  const order = second.received.filter((frame) => frame.channel === 'room:a').map((frame) => frame.type)
  t.equal(order[0], 'subscribed')
})

test('a replay racing publishes at full rate has no gap and no duplicate', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const { epoch } = await subscribe(client, 'room:race')
  for (let n = 1; n <= 50; n++) await server.app.publish('room:race', n)
  const late = await server.connect()
  const race = { publishing: true }
  let published = 50
  const publisher = (async () => {
    while (race.publishing) {
      await server.app.publish('room:race', ++published)
      if (published % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const subscribed = await subscribe(late, 'room:race', { offset: 10, epoch })
  t.equal(subscribed.recovered, true)
  race.publishing = false
  await publisher
  const received = await messages(late, 'room:race', published - 10)
  t.same(received.map((frame) => frame.offset), Array.from({ length: published - 10 }, (_, i) => i + 11))
})

test('trimmed history, another epoch or a position ahead: recovered false with the current position, nothing replayed', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const { epoch } = await subscribe(client, 'tiny:1')
  for (let n = 1; n <= 6; n++) await server.app.publish('tiny:1', n)

  const other = await server.connect()
  const trimmed = await subscribe(other, 'tiny:1', { offset: 2, epoch })
  t.same({ recovered: trimmed.recovered, offset: trimmed.offset, epoch: trimmed.epoch }, { recovered: false, offset: 6, epoch })
  const kept = await subscribe(await server.connect(), 'tiny:1', { offset: 3, epoch })
  t.equal(kept.recovered, true, 'offsets 4 to 6 are all kept')
  const wrongEpoch = await subscribe(await server.connect(), 'tiny:1', { offset: 5, epoch: 'other' })
  t.equal(wrongEpoch.recovered, false)
  const ahead = await subscribe(await server.connect(), 'tiny:1', { offset: 9, epoch })
  t.equal(ahead.recovered, false)

  await server.app.publish('tiny:1', 7)
  const next = await other.next((frame) => frame.type === 'message')
  t.equal(next.offset, 7, 'live continues after the current position; nothing partial was replayed')
})

test('history dropped after ttl without publishes: recovered false, offsets continue', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const { epoch } = await subscribe(client, 'brief:1')
  await server.app.publish('brief:1', 1)
  await server.app.publish('brief:1', 2)
  await messages(client, 'brief:1', 2)
  const before = await server.app.realtime.history('brief:1')
  t.equal(before.messages.length, 2)
  await new Promise((resolve) => setTimeout(resolve, 80)) // past the 50 ms ttl: no event marks an expiry
  const after = await subscribe(await server.connect(), 'brief:1', { offset: 1, epoch })
  t.same({ recovered: after.recovered, offset: after.offset, epoch: after.epoch }, { recovered: false, offset: 2, epoch })
  const upToDate = await subscribe(await server.connect(), 'brief:1', { offset: 2, epoch })
  t.equal(upToDate.recovered, true, 'nothing was missed: the position outlives the messages')
})

test('since: a wrong shape is invalid_message; on a channel without history, recovered false', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  for (const since of [{ offset: -1, epoch: 'x' }, { offset: 1.5, epoch: 'x' }, { offset: 1 }, { offset: 1, epoch: '' }, 'x', { offset: '1', epoch: 'x' }]) {
    client.send({ type: 'subscribe', channel: 'room:bad', id: 'bad', since })
    const error = await client.next((frame) => frame.id === 'bad')
    t.equal(error.code, 'invalid_message', JSON.stringify(since))
  }
  const plain = await subscribe(client, 'plain', { offset: 3, epoch: 'abc' })
  t.same({ type: plain.type, recovered: plain.recovered, offset: plain.offset }, { type: 'subscribed', recovered: false, offset: undefined })
  const again = await subscribe(client, 'plain')
  t.equal(again.recovered, undefined)
})

test('app.realtime.history pages with since, limit and reverse; the limit is capped at size', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  for (let n = 1; n <= 5; n++) await server.app.publish('room:h', { n })
  const all = await server.app.realtime.history('room:h')
  t.equal(all.offset, 5)
  t.same(all.messages.map((message) => message.offset), [1, 2, 3, 4, 5])
  t.same(all.messages[0], { type: 'message', channel: 'room:h', data: { n: 1 }, ts: all.messages[0]!.ts, offset: 1, epoch: all.epoch })
  t.same((await server.app.realtime.history('room:h', { since: 2, limit: 2 })).messages.map((m) => m.offset), [3, 4])
  t.same((await server.app.realtime.history('room:h', { limit: 2, reverse: true })).messages.map((m) => m.offset), [5, 4])
  for (let n = 1; n <= 5; n++) await server.app.publish('tiny:h2', n)
  t.same((await server.app.realtime.history('tiny:h2', { limit: 1000 })).messages.map((m) => m.offset), [3, 4, 5])
  await t.rejects(server.app.realtime.history('plain'), { code: 'no_history' })
  await t.rejects(server.app.realtime.history('bad name'), { code: 'invalid_channel' })
  await t.rejects(server.app.realtime.history('room:h', { limit: 0 }), TypeError)
  await t.rejects(server.app.realtime.history('room:h', { since: -1 }), TypeError)
  await t.rejects(server.app.realtime.history('room:h', { reverse: 'yes' as unknown as boolean }), TypeError)
})

test('register fails on a bad history rule', async (t) => {
  for (const history of [null, 5, { size: 0, ttl: 1000 }, { size: 10 }, { size: 10, ttl: 1.5 }, { size: 10, ttl: 1000, extra: 1 }, { size: 1e9, ttl: 1000 }]) {
    await t.rejects(startServer(t, { plugin: { channels: [{ match: 'x:*', history: history as never }] } }), TypeError, JSON.stringify(history))
  }
})

test('subscribing again to a history channel already held: the position, no replay, no second membership', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const { epoch } = await subscribe(client, 'room:again')
  await server.app.publish('room:again', 1)
  await messages(client, 'room:again', 1)
  const again = await subscribe(client, 'room:again', { offset: 1, epoch })
  t.same({ recovered: again.recovered, offset: again.offset, epoch: again.epoch }, { recovered: true, offset: 1, epoch })
  const plainAgain = await subscribe(client, 'room:again')
  t.same({ recovered: plainAgain.recovered, offset: plainAgain.offset }, { recovered: undefined, offset: 1 })
  await server.app.publish('room:again', 2)
  const [next] = await messages(client, 'room:again', 1)
  t.equal(next!.offset, 2)
  t.equal(server.app.realtime.subscriberCount('room:again'), 1)
  t.equal(client.received.filter((frame) => frame.type === 'message').length, 2, 'nothing replayed twice')
})

test('a connection that closes while its history join is under way leaves nothing behind', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  const { epoch } = await subscribe(client, 'room:gone')
  await server.app.publish('room:gone', 1)
  const leaving = await server.connect()
  leaving.send({ type: 'subscribe', channel: 'room:gone', id: 'x', since: { offset: 0, epoch } })
  leaving.socket.terminate()
  await leaving.closed
  // The subscribe frame may have been handled before or after the close: either way the channel
  // ends with one subscriber, and the next publish still reaches it.
  await server.app.publish('room:gone', 2)
  await messages(client, 'room:gone', 2)
  t.equal(server.app.realtime.subscriberCount('room:gone'), 1)
})

test('a broker without the history capability fails register only when a rule asks for history', async (t) => {
  const { MemoryBroker } = await import('../../lib/brokers/memory-broker.js')
  // A custom broker: every method of the memory broker except history.
  const custom = (): Record<string, unknown> => {
    const inner = new MemoryBroker()
    return {
      get state () { return inner.state },
      start: inner.start.bind(inner),
      publish: inner.publish.bind(inner),
      subscribe: inner.subscribe.bind(inner),
      unsubscribe: inner.unsubscribe.bind(inner),
      close: inner.close.bind(inner)
    }
  }
  await t.rejects(startServer(t, { plugin: { broker: custom() as never, channels } }), { message: /history capability/ })
  const server = await startServer(t, { plugin: { broker: custom() as never, channels: [{ match: 'x:*' }] } })
  t.ok(server.app.realtime)
})

test('app.realtime.subscribe on a history channel joins live after the current position', async (t) => {
  const server = await startServer(t, { plugin: { channels } })
  const client = await server.connect()
  await server.app.publish('room:server', 1)
  const connection = server.app.realtime.connection(client.welcome.connectionId)!
  await server.app.realtime.subscribe(connection, 'room:server')
  await server.app.publish('room:server', 2)
  const [message] = await messages(client, 'room:server', 1)
  t.same([message!.offset, message!.data], [2, 2])
})
