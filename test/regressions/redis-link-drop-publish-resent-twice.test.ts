// Issue 3 review: the publisher's link drops while a PUBLISH is unanswered. Redis may have
// delivered it already, yet ioredis wrote it again after the reconnect: another node got the
// frame twice. With Redis away, the publish waited through ioredis' retries instead of
// failing. Now an unanswered PUBLISH is rejected on the drop and never written again.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { RedisBroker } from '../../lib/brokers/redis-broker.js'
import { ErrorCode } from '../../lib/errors.js'
import { eventually, startRedis } from '../helpers/redis-server.js'
import { startRedisProxy, type ProxyLink, type RedisProxy } from '../helpers/redis-proxy.js'
import { DeliveryLog, frame } from '../brokers/broker-contract.js'

const redis = await startRedis(t)

/** Node A publishes through the proxy, node B listens straight on Redis. */
async function twoNodes (t: Test, keyPrefix: string): Promise<{ a: RedisBroker, onB: DeliveryLog, proxy: RedisProxy, link: ProxyLink }> {
  const log = Fastify({ logger: false }).log
  const proxy = await startRedisProxy(t, redis.port)
  const a = new RedisBroker({ url: proxy.url, keyPrefix })
  const b = new RedisBroker({ url: redis.url, keyPrefix })
  const onB = new DeliveryLog()
  t.teardown(() => a.close())
  t.teardown(() => b.close())
  await a.start({ onMessage: () => {}, log, nodeId: keyPrefix + 'a' })
  await b.start({ onMessage: onB.onMessage, log, nodeId: keyPrefix + 'b' })
  await b.subscribe('c')
  return { a, onB, proxy, link: await proxy.link(`fastify-realtime:${keyPrefix}a:pub`) }
}

t.test('a PUBLISH unanswered when the link drops rejects, and the other node gets the frame once', { timeout: 30_000 }, async (t) => {
  const { a, onB, link } = await twoNodes(t, 'resent:')
  link.swallowReplies = true
  const once = frame('once')
  const publishing = a.publish('c', once)
  await onB.wait((d) => d.frame === once)
  link.cut()
  await t.rejects(publishing, { code: ErrorCode.BROKER_UNAVAILABLE }, 'the caller learns the outcome is unknown')

  await eventually(() => a.state === 'ready', 'node A reconnected')
  // Anything ioredis resent would go out on the new link before this marker.
  const marker = frame('marker')
  await a.publish('c', marker)
  await onB.wait((d) => d.frame === marker)
  t.equal(onB.count(once), 1, 'the frame reached node B exactly once')
  t.same(onB.deliveries.map((d) => d.frame), [once, marker])
})

t.test('with Redis away, a PUBLISH in flight rejects at the drop, before any reconnect attempt', { timeout: 30_000 }, async (t) => {
  const { a, onB, proxy, link } = await twoNodes(t, 'away:')
  link.swallowReplies = true
  const lost = frame('lost')
  const publishing = a.publish('c', lost)
  await onB.wait((d) => d.frame === lost)
  proxy.refuse = true
  link.cut()
  await t.rejects(publishing, { code: ErrorCode.BROKER_UNAVAILABLE })
  t.equal(proxy.refused, 0, 'it did not wait for ioredis to retry the connection')
  await t.rejects(a.publish('c', frame()), { code: ErrorCode.BROKER_UNAVAILABLE }, 'publishes during the outage fail at once')

  proxy.refuse = false
  await eventually(() => a.state === 'ready', 'node A reconnected')
  const marker = frame('marker')
  await a.publish('c', marker)
  await onB.wait((d) => d.frame === marker)
  t.same(onB.deliveries.map((d) => d.frame), [lost, marker], 'nothing was resent after the outage')
})

t.test('a client you own, with the settings the README recommends, behaves the same', { timeout: 30_000 }, async (t) => {
  const log = Fastify({ logger: false }).log
  const proxy = await startRedisProxy(t, redis.port)
  const client = new Redis(proxy.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectionName: 'own-publisher' })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const a = new RedisBroker({ client, keyPrefix: 'own:' })
  const b = new RedisBroker({ url: redis.url, keyPrefix: 'own:' })
  const onB = new DeliveryLog()
  t.teardown(() => a.close())
  t.teardown(() => b.close())
  await a.start({ onMessage: () => {}, log, nodeId: 'own-a' })
  await b.start({ onMessage: onB.onMessage, log, nodeId: 'own-b' })
  await b.subscribe('c')
  const link = await proxy.link('own-publisher')

  link.swallowReplies = true
  const once = frame('once')
  const publishing = a.publish('c', once)
  await onB.wait((d) => d.frame === once)
  link.cut()
  await t.rejects(publishing, { code: ErrorCode.BROKER_UNAVAILABLE })
  await eventually(() => a.state === 'ready', 'node A reconnected')
  const marker = frame('marker')
  await a.publish('c', marker)
  await onB.wait((d) => d.frame === marker)
  t.same(onB.deliveries.map((d) => d.frame), [once, marker], 'the frame reached node B exactly once')
})
