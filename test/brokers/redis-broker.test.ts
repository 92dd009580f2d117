// What only the Redis broker has: interest-based subscriptions seen from Redis itself,
// connection ownership, a Redis that is away at start or goes away while running, and
// messages on our channels that this plugin did not write.
import { once } from 'node:events'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { RedisBroker } from '../../lib/brokers/redis-broker.js'
import type { Broker } from '../../lib/brokers/broker.js'
import { ErrorCode, RealtimeError } from '../../lib/errors.js'
import { eventually, freePort, startRedis } from '../helpers/redis-server.js'
import { startRedisProxy } from '../helpers/redis-proxy.js'
import { DeliveryLog, frame } from './broker-contract.js'

interface LogLine { level: number, msg: string, [key: string]: unknown }
const WARN = 40

/** A real Fastify logger whose lines the test can read. */
function captureLog (): { log: ReturnType<typeof Fastify>['log'], lines: LogLine[] } {
  const lines: LogLine[] = []
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } } } })
  return { log: app.log, lines }
}

async function start (t: Test, broker: Broker, nodeId = 'node-a'): Promise<{ deliveries: DeliveryLog, lines: LogLine[] }> {
  const deliveries = new DeliveryLog()
  const { log, lines } = captureLog()
  t.teardown(() => broker.close())
  await broker.start({ onMessage: deliveries.onMessage, log, nodeId })
  return { deliveries, lines }
}

async function clientNames (admin: Redis): Promise<string[]> {
  const list = await admin.call('CLIENT', 'LIST') as string
  return list.trim().split('\n').map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '').filter((name) => name !== '')
}

const redis = await startRedis(t)

t.test('subscribes in Redis only to channels with interest, and acknowledges before resolving', async (t) => {
  const broker = new RedisBroker({ url: redis.url, keyPrefix: 'interest:' })
  await start(t, broker)
  await broker.subscribe('a')
  await broker.subscribe('a')
  t.same(await redis.admin.call('PUBSUB', 'NUMSUB', 'interest:a', 'interest:b'), ['interest:a', 1, 'interest:b', 0])
  await broker.unsubscribe('a')
  t.same(await redis.admin.call('PUBSUB', 'NUMSUB', 'interest:a'), ['interest:a', 1], 'one reference is left')
  await broker.unsubscribe('a')
  t.same(await redis.admin.call('PUBSUB', 'CHANNELS', 'interest:*'), [], 'the last reference unsubscribed')

  // Interleaved calls, none awaited before the next: Redis ends as the last call wants.
  await Promise.all([broker.subscribe('r'), broker.unsubscribe('r'), broker.subscribe('r'), broker.unsubscribe('r')])
  t.same(await redis.admin.call('PUBSUB', 'CHANNELS', 'interest:*'), [])
  await Promise.all([broker.unsubscribe('r'), broker.subscribe('r'), broker.unsubscribe('r'), broker.subscribe('r')])
  t.same(await redis.admin.call('PUBSUB', 'CHANNELS', 'interest:*'), ['interest:r'])
})

t.test('two brokers on one Redis: each publish reaches each node once', async (t) => {
  const a = new RedisBroker({ url: redis.url, keyPrefix: 'two:' })
  const b = new RedisBroker({ url: redis.url, keyPrefix: 'two:' })
  const { deliveries: onA } = await start(t, a, 'a')
  const { deliveries: onB } = await start(t, b, 'b')
  await a.subscribe('c')
  await b.subscribe('c')
  const fromA = frame()
  const fromB = frame()
  await a.publish('c', fromA)
  await b.publish('c', fromB)
  for (const log of [onA, onB]) {
    await log.wait((d) => d.frame === fromB)
    t.same(log.deliveries.map((d) => d.frame), [fromA, fromB])
  }
})

t.test('a key prefix separates apps sharing one Redis', async (t) => {
  const one = new RedisBroker({ url: redis.url, keyPrefix: 'app1:' })
  const two = new RedisBroker({ url: redis.url, keyPrefix: 'app2:' })
  const { deliveries: onOne } = await start(t, one)
  const { deliveries: onTwo } = await start(t, two)
  await one.subscribe('c')
  await two.subscribe('c')
  const f = frame()
  const marker = frame('marker')
  await one.publish('c', f)
  await two.publish('c', marker)
  await onTwo.wait((d) => d.frame === marker)
  await onOne.wait((d) => d.frame === f)
  t.equal(onTwo.count(f), 0)
})

t.test('drops and logs messages that are not envelopes of this plugin', async (t) => {
  const broker = new RedisBroker({ url: redis.url, keyPrefix: 'bad:' })
  const { deliveries, lines } = await start(t, broker)
  await broker.subscribe('c')
  for (const junk of ['hello', '1|x|abc{"type":"message"}', '1|99|n{"type":"message"}', '1|1|n{"type":"message"', '1|1|n[1]', '']) {
    await redis.admin.publish('bad:c', junk)
  }
  const good = frame()
  await broker.publish('c', good)
  await deliveries.wait((d) => d.frame === good)
  t.equal(deliveries.deliveries.length, 1, 'only the real frame was delivered')
  t.equal(lines.filter((line) => line.level === WARN && line.msg.includes('not a fastify-realtime envelope')).length, 6)
})

t.test('quits the connections it opened on close', async (t) => {
  const broker = new RedisBroker({ url: redis.url })
  await start(t, broker, 'owner-test')
  t.same((await clientNames(redis.admin)).filter((name) => name.includes('owner-test')).sort(),
    ['fastify-realtime:owner-test:pub', 'fastify-realtime:owner-test:sub'])
  await broker.close()
  await eventually(async () => !(await clientNames(redis.admin)).some((name) => name.includes('owner-test')), 'no connection of the broker is left')
  t.equal(broker.state, 'closed')
})

t.test('publishes on a client the user owns, subscribes on a duplicate, and never closes the client', async (t) => {
  const client = new Redis(redis.url, { connectionName: 'users-own' })
  t.teardown(() => client.quit())
  // Keep hold of the duplicate the broker opens, to see it end.
  const duplicates: Redis[] = []
  const duplicate = client.duplicate.bind(client)
  client.duplicate = (override) => {
    const copy = duplicate(override)
    duplicates.push(copy)
    return copy
  }
  const broker = new RedisBroker({ client, keyPrefix: 'owned:' })
  const { deliveries } = await start(t, broker, 'borrower')
  await broker.subscribe('c')
  const f = frame()
  await broker.publish('c', f)
  await deliveries.wait((d) => d.frame === f)
  t.same((await clientNames(redis.admin)).filter((name) => name.includes('borrower')), ['fastify-realtime:borrower:sub'])
  t.equal(duplicates.length, 1)
  const ended = once(duplicates[0]!, 'end')
  await broker.close()
  await ended
  t.equal(duplicates[0]!.status, 'end', 'the duplicate the broker opened has ended')
  t.equal(client.status, 'ready')
  t.equal(await client.ping(), 'PONG')
  await eventually(async () => !(await clientNames(redis.admin)).some((name) => name.includes('borrower')), 'the duplicate is closed')
  t.ok((await clientNames(redis.admin)).includes('users-own'))
})

t.test('Redis unreachable at start: start rejects naming the address, and leaves nothing running', async (t) => {
  const port = await freePort()
  const broker = new RedisBroker({ url: `redis://user:secret@127.0.0.1:${port}` })
  const { log } = captureLog()
  const error = await broker.start({ onMessage: () => {}, log, nodeId: 'n' }).then(() => undefined, (err: unknown) => err)
  t.type(error, RealtimeError)
  t.equal((error as RealtimeError).code, ErrorCode.BROKER_UNAVAILABLE)
  t.match((error as Error).message, `cannot reach Redis at 127.0.0.1:${port}`)
  t.match((error as Error).message, 'ECONNREFUSED', 'with the cause')
  t.notMatch((error as Error).message, 'secret', 'no credentials in the message')
  t.equal(broker.state, 'closed')
})

t.test('Redis refusing connections at start: once start rejects, the broker\'s connections make no further attempt', async (t) => {
  const proxy = await startRedisProxy(t, redis.port)
  proxy.refuse = true
  // One retry schedule for the broker's connections and for a sentinel: while the sentinel
  // makes its attempts, a connection the broker left retrying would make some too.
  const RETRY_DELAY = 20
  const broker = new RedisBroker({ url: proxy.url, redis: { retryStrategy: () => RETRY_DELAY } })
  const { log } = captureLog()
  await t.rejects(broker.start({ onMessage: () => {}, log, nodeId: 'refused' }), { code: ErrorCode.BROKER_UNAVAILABLE })
  t.equal(broker.state, 'closed')
  t.ok(proxy.refused >= 1, 'the broker tried to connect')

  // Counted from the sentinel's first refused attempt on: a connect of the broker's that was
  // already under way when start rejected has landed by then.
  const SENTINEL_ATTEMPTS = 5
  let sentinelAttempts = 0
  let refusedAtFirst = 0
  let sentinelDone: () => void = () => {}
  const done = new Promise<void>((resolve) => { sentinelDone = resolve })
  const sentinel = new Redis(proxy.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => {
      if (++sentinelAttempts === 1) refusedAtFirst = proxy.refused
      if (sentinelAttempts === SENTINEL_ATTEMPTS) sentinelDone()
      return RETRY_DELAY
    }
  })
  sentinel.on('error', () => {})
  t.teardown(() => sentinel.disconnect())
  sentinel.connect().catch(() => {})
  await done
  sentinel.disconnect()
  t.equal(proxy.refused - refusedAtFirst, SENTINEL_ATTEMPTS - 1, 'every connection attempt since then was the sentinel\'s')
})

t.test('startDegraded: starts without Redis, refuses publishes, and becomes ready when Redis appears', async (t) => {
  const port = await freePort()
  const broker = new RedisBroker({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'degraded:', startDegraded: true })
  const { deliveries, lines } = await start(t, broker)
  t.equal(broker.state, 'unavailable')
  t.ok(lines.some((line) => line.level === WARN && line.msg.includes('starting degraded')))
  await t.rejects(broker.publish('c', frame()), { code: ErrorCode.BROKER_UNAVAILABLE })
  // The reference is held even though the subscribe failed: it is taken once Redis is there.
  await t.rejects(broker.subscribe('c'), { code: ErrorCode.BROKER_UNAVAILABLE })

  const late = await startRedis(t, { port })
  await eventually(() => broker.state === 'ready', 'the broker is ready')
  t.same(await late.admin.call('PUBSUB', 'CHANNELS', 'degraded:*'), ['degraded:c'])
  const f = frame()
  await broker.publish('c', f)
  await deliveries.wait((d) => d.frame === f)
  t.pass('delivered after Redis appeared')
})

t.test('Redis lost while running: publishes fail fast, state and logs follow, subscriptions come back', async (t) => {
  const server = await startRedis(t)
  const broker = new RedisBroker({ url: server.url, keyPrefix: 'outage:' })
  const { deliveries, lines } = await start(t, broker)
  await broker.subscribe('kept')
  await broker.subscribe('dropped')
  const before = frame()
  await broker.publish('kept', before)
  await deliveries.wait((d) => d.frame === before)

  await server.kill()
  await eventually(() => broker.state === 'unavailable', 'the broker sees Redis gone')
  t.ok(lines.some((line) => line.level === WARN && line.msg.includes('Redis unavailable')))
  const during = broker.publish('kept', frame())
  await t.rejects(during, { code: ErrorCode.BROKER_UNAVAILABLE })
  await t.rejects(broker.subscribe('new'), { code: ErrorCode.BROKER_UNAVAILABLE })
  await broker.unsubscribe('new')
  await broker.unsubscribe('dropped')
  t.pass('unsubscribe does not reject while Redis is away')

  await server.restart()
  await eventually(() => broker.state === 'ready', 'the broker is ready again')
  t.ok(lines.some((line) => line.level === WARN && line.msg.includes('available again')))
  t.same(await server.admin.call('PUBSUB', 'CHANNELS', 'outage:*'), ['outage:kept'], 'only channels with interest are subscribed again')
  const after = frame()
  await broker.publish('kept', after)
  await deliveries.wait((d) => d.frame === after)
  t.same(deliveries.deliveries.map((d) => d.frame), [before, after])
})

t.test('refuses bad options with a plain message', async (t) => {
  t.throws(() => new RedisBroker({ url: 'http://127.0.0.1' }), { message: /redis\.url must be a redis:\/\/ or rediss:\/\/ URL/ })
  t.throws(() => new RedisBroker({ client: {} as unknown as Redis }), { message: /redis\.client must be an ioredis client/ })
  const client = new Redis({ lazyConnect: true })
  t.throws(() => new RedisBroker({ client, url: redis.url }), { message: /not both/ })
  t.throws(() => new RedisBroker({ keyPrefix: 1 as unknown as string }), { message: /keyPrefix/ })
  t.throws(() => new RedisBroker({ sharded: 'yes' as unknown as boolean }), { message: /sharded/ })
  t.throws(() => new RedisBroker({ startDegraded: 1 as unknown as boolean }), { message: /startDegraded/ })
  t.throws(() => new RedisBroker({ redis: 'x' as unknown as object }), { message: /ioredis options/ })
})
