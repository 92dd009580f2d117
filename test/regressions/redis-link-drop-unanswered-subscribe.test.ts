// Issue 3 review: the subscriber's link drops while a SUBSCRIBE or UNSUBSCRIBE is
// unanswered, and comes back at once. ioredis used to discard the command with its promise
// pending forever: the channel's queue hung and the broker stayed unavailable, so every
// publish failed until a restart. Now the command fails on the drop, the interest stays,
// and the reconnect takes every channel with interest again.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { RedisBroker } from '../../lib/brokers/redis-broker.js'
import { ErrorCode } from '../../lib/errors.js'
import { eventually, startRedis } from '../helpers/redis-server.js'
import { startRedisProxy, type ProxyLink } from '../helpers/redis-proxy.js'
import { DeliveryLog, frame } from '../brokers/broker-contract.js'

const redis = await startRedis(t)

async function startBehindProxy (t: Test, nodeId: string, keyPrefix: string): Promise<{ broker: RedisBroker, deliveries: DeliveryLog, link: ProxyLink }> {
  const proxy = await startRedisProxy(t, redis.port)
  const broker = new RedisBroker({ url: proxy.url, keyPrefix })
  const deliveries = new DeliveryLog()
  t.teardown(() => broker.close())
  await broker.start({ onMessage: deliveries.onMessage, log: Fastify({ logger: false }).log, nodeId })
  const link = await proxy.link(`fastify-realtime:${nodeId}:sub`)
  return { broker, deliveries, link }
}

t.test('a SUBSCRIBE unanswered when the link drops fails, and the channel is subscribed again after the reconnect', { timeout: 30_000 }, async (t) => {
  const { broker, deliveries, link } = await startBehindProxy(t, 'sub-drop', 'sub-drop:')
  await broker.subscribe('kept')

  link.swallowReplies = true
  const lost = broker.subscribe('lost')
  await link.written('sub-drop:lost')
  link.cut()
  await t.rejects(lost, { code: ErrorCode.BROKER_UNAVAILABLE }, 'the subscribe in flight fails instead of hanging')

  await eventually(() => broker.state === 'ready', 'the broker is ready again')
  t.same((await redis.admin.call('PUBSUB', 'CHANNELS', 'sub-drop:*') as string[]).sort(), ['sub-drop:kept', 'sub-drop:lost'],
    'both channels with interest are subscribed on the new connection')
  const onLost = frame()
  const onKept = frame()
  await broker.publish('lost', onLost)
  await broker.publish('kept', onKept)
  await deliveries.wait((d) => d.frame === onKept)
  t.same(deliveries.deliveries.map((d) => d.frame), [onLost, onKept], 'frames of both channels reach the node')
  await broker.subscribe('later')
  t.pass('later subscribes still work')
})

t.test('an UNSUBSCRIBE unanswered when the link drops settles, and the channel is not taken again', { timeout: 30_000 }, async (t) => {
  const { broker, link } = await startBehindProxy(t, 'unsub-drop', 'unsub-drop:')
  await broker.subscribe('kept')
  await broker.subscribe('gone')

  link.swallowReplies = true
  const leaving = broker.unsubscribe('gone')
  // ioredis writes command names as called, in lower case.
  await link.written('unsubscribe')
  link.cut()
  await leaving
  t.pass('the unsubscribe in flight settles')

  await eventually(() => broker.state === 'ready', 'the broker is ready again')
  t.same(await redis.admin.call('PUBSUB', 'CHANNELS', 'unsub-drop:*'), ['unsub-drop:kept'])
  await broker.publish('kept', frame())
  await broker.subscribe('gone')
  t.same((await redis.admin.call('PUBSUB', 'CHANNELS', 'unsub-drop:*') as string[]).sort(), ['unsub-drop:gone', 'unsub-drop:kept'],
    'the channel can be subscribed again')
})
