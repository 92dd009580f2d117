// The HistoryStore contract of both brokers (memory, Redis with PUBLISH and with SPUBLISH):
// offsets 1, 2, 3 in the frame that is published and kept, trimming to size, reads by range
// and newest first, a fresh epoch for an unknown channel, the position outliving the messages.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import type { Broker, HistoryLimits } from '../../lib/brokers/broker.js'
import { MemoryBroker } from '../../lib/brokers/memory-broker.js'
import { RedisBroker } from '../../lib/brokers/redis-broker.js'
import { historyKeys } from '../../lib/brokers/redis-history.js'
import { offsetOfFrame } from '../../lib/brokers/history-frame.js'
import { DeliveryLog } from '../brokers/broker-contract.js'
import { eventually, startRedis } from '../helpers/redis-server.js'

const limits: HistoryLimits = { size: 3, ttl: 60_000, positionTtl: 60_000 }
const head = (n: number): string => `{"type":"message","channel":"c","data":${n},"ts":1`

async function started (t: Test, broker: Broker): Promise<DeliveryLog> {
  const log = new DeliveryLog()
  await broker.start({ onMessage: log.onMessage, log: Fastify().log, nodeId: 'n' })
  t.teardown(() => broker.close())
  await broker.subscribe('c')
  return log
}

function contract (t: Test, create: (t: Test) => Broker, expire: (broker: Broker) => Promise<void>): void {
  t.test('publishes each frame with the next offset and keeps the last size of them', async (t) => {
    const broker = create(t)
    const log = await started(t, broker)
    const store = broker.history!
    for (let n = 1; n <= 5; n++) await store.publish('c', head(n), limits)
    await log.wait((d) => d.frame.includes('"data":5'))
    const frames = log.deliveries.map((d) => d.frame)
    const { epoch } = await store.read('c', { limit: 10 }, limits)
    t.match(epoch, /^[a-z0-9]{1,32}$/)
    t.same(frames, [1, 2, 3, 4, 5].map((n) => `${head(n)},"offset":${n},"epoch":"${epoch}"}`))
    t.same(frames.map((frame) => JSON.parse(frame).offset), [1, 2, 3, 4, 5], 'valid JSON')
    const page = await store.read('c', { limit: 10 }, limits)
    t.same({ offset: page.offset, earliest: page.earliest }, { offset: 5, earliest: 3 })
    t.same(page.entries, frames.slice(2).map((frame, i) => ({ offset: i + 3, frame })), 'kept frames are the published frames')
    t.same((await store.read('c', { since: 3, limit: 10 }, limits)).entries.map((e) => e.offset), [4, 5])
    t.same((await store.read('c', { limit: 2, reverse: true }, limits)).entries.map((e) => e.offset), [5, 4])
    t.same((await store.read('c', { since: 3, limit: 10, reverse: true }, limits)).entries.map((e) => e.offset), [5, 4])
    t.same((await store.read('c', { limit: 0 }, limits)).entries, [])
    t.equal(offsetOfFrame(frames[4]!), 5)
  })

  t.test('an unknown channel has offset 0 in a new epoch that its first publish keeps', async (t) => {
    const broker = create(t)
    const log = await started(t, broker)
    const store = broker.history!
    const empty = await store.read('c', { limit: 10 }, limits)
    t.same({ offset: empty.offset, earliest: empty.earliest, entries: empty.entries }, { offset: 0, earliest: 1, entries: [] })
    await store.publish('c', head(1), limits)
    const delivered = await log.wait(() => true)
    t.equal(JSON.parse(delivered.frame).epoch, empty.epoch)
  })

  t.test('messages expire after ttl without publishes; the position and epoch remain', async (t) => {
    const broker = create(t)
    const log = await started(t, broker)
    const store = broker.history!
    await store.publish('c', head(1), limits)
    await store.publish('c', head(2), limits)
    await log.wait((d) => d.frame.includes('"data":2'))
    const before = await store.read('c', { limit: 10 }, limits)
    await expire(broker)
    const after = await store.read('c', { limit: 10 }, limits)
    t.same({ offset: after.offset, epoch: after.epoch, earliest: after.earliest, entries: after.entries }, { offset: 2, epoch: before.epoch, earliest: 3, entries: [] })
    await store.publish('c', head(3), limits)
    t.equal(JSON.parse((await log.wait((d) => d.frame.includes('"data":3'))).frame).offset, 3, 'offsets continue')
  })

  t.test('a closed broker refuses a history publish', async (t) => {
    const broker = create(t)
    await started(t, broker)
    await broker.close()
    await t.rejects(broker.history!.publish('c', head(1), limits), { code: 'broker_unavailable' })
    await t.rejects(broker.history!.read('c', { limit: 1 }, limits), { code: 'broker_unavailable' })
  })
}

t.test('memory broker', async (t) => {
  contract(t, () => new MemoryBroker(), async () => {
    // Expiry is checked against the clock on every access: a past publish time stands in for waiting.
    const realNow = Date.now
    const shifted = realNow() + limits.ttl + 1
    Date.now = () => shifted
    t.teardown(() => { Date.now = realNow })
  })
})

const redis = await startRedis(t)
let n = 0
const expireStreams = async (): Promise<void> => {
  // Redis expires the stream key on its own; dropping it is what that expiry does.
  const keys = await redis.admin.keys('*:history')
  if (keys.length > 0) await redis.admin.del(...keys)
}

t.test('Redis broker', async (t) => {
  contract(t, () => new RedisBroker({ url: redis.url, keyPrefix: `h-${++n}:` }), expireStreams)
})

t.test('Redis broker, sharded Pub/Sub', async (t) => {
  contract(t, (t) => {
    const client = new Redis(redis.url)
    t.teardown(() => client.quit())
    return new RedisBroker({ client, sharded: true, keyPrefix: `hs-${++n}:` })
  }, expireStreams)
})

t.test('Redis keys share the hash slot of the channel and expire', async (t) => {
  t.same(historyKeys('app:room'), { stream: '{app:room}:history', position: '{app:room}:position' })
  t.same(historyKeys('{app}:room'), { stream: '{app}:room:history', position: '{app}:room:position' })
  t.same(historyKeys('{}:room'), { stream: '{{}:room}:history', position: '{{}:room}:position' }, 'an empty tag is no tag')
  const broker = new RedisBroker({ url: redis.url, keyPrefix: 'ttl:' })
  await started(t, broker)
  await broker.history!.publish('c', head(1), { size: 10, ttl: 5000, positionTtl: 60_000 })
  const streamTtl = await redis.admin.pttl('{ttl:c}:history')
  const positionTtl = await redis.admin.pttl('{ttl:c}:position')
  t.ok(streamTtl > 0 && streamTtl <= 5000, `stream expires (${streamTtl} ms)`)
  t.ok(positionTtl > 5000 && positionTtl <= 65_000, `position expires later (${positionTtl} ms)`)
  await broker.history!.publish('c', head(2), { size: 10, ttl: 30, positionTtl: 60_000 })
  await eventually(async () => await redis.admin.exists('{ttl:c}:history') === 0, 'the stream expired')
  t.equal(await redis.admin.exists('{ttl:c}:position'), 1)
})
