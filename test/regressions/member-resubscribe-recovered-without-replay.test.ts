// A history subscribe with `since` from a connection already subscribed answered
// `recovered: true` without replaying anything: a raw client that had lost frames (slow-consumer
// policy `drop`) was told it had them all.
import t from 'tap'
import { startServer } from '../helpers/server.js'

t.test('a member asking from an older offset is told recovered: false, with the current position', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { channels: [{ match: 'h:*', history: { size: 10, ttl: 60_000 } }] } })
  const client = await connect()
  const first = await client.request({ type: 'subscribe', channel: 'h:x' })
  t.equal(first.offset, 0)
  for (let i = 1; i <= 3; i++) await app.publish('h:x', { i })
  // Messages 1..3 reached it live; this client says it has only up to 0 (it "lost" them).
  for (let i = 1; i <= 3; i++) await client.next((frame) => frame.type === 'message' && frame.offset === i)
  const behind = await client.request({ type: 'subscribe', channel: 'h:x', since: { offset: 0, epoch: first.epoch } })
  t.equal(behind.type, 'subscribed')
  t.equal(behind.recovered, false, 'not recovered: nothing is replayed to a member')
  t.equal(behind.offset, 3)
  t.equal(behind.epoch, first.epoch)

  const current = await client.request({ type: 'subscribe', channel: 'h:x', since: { offset: 3, epoch: first.epoch } })
  t.equal(current.recovered, true, 'at the current position nothing is missing')
  const ahead = await client.request({ type: 'subscribe', channel: 'h:x', since: { offset: 9, epoch: first.epoch } })
  t.equal(ahead.recovered, false, 'ahead of the stream')
  const other = await client.request({ type: 'subscribe', channel: 'h:x', since: { offset: 3, epoch: 'another' } })
  t.equal(other.recovered, false, 'another epoch')
  t.equal(app.realtime.subscriberCount('h:x'), 1, 'still one membership')
})
