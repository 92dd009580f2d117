// Issue 10 review: when Redis stopped answering without closing the connection (a hung
// server, a partition, a NAT that dropped an idle connection), `app.publish()` never
// settled, client subscribes got no answer, and `stats().broker` stayed `ready`. Commands
// now have a deadline (`redis.commandTimeout`), the connections are pinged
// (`redis.pingInterval`), and a link that misses either goes through the outage and
// resubscribe path of a closed connection.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { ErrorCode } from '../../lib/errors.js'
import { BROADCAST_CHANNEL } from '../../lib/brokers/broker.js'
import { eventually, startRedis } from '../helpers/redis-server.js'
import { startRedisProxy, type RedisProxy } from '../helpers/redis-proxy.js'
import { startServer, type StartedServer } from '../helpers/server.js'
import type { TestClient } from '../helpers/ws-client.js'

const redis = await startRedis(t)

interface Stalling extends StartedServer {
  proxy: RedisProxy
  client: TestClient
  keyPrefix: string
}

async function start (t: Test, name: string, liveness: { commandTimeout: number, pingInterval: number }): Promise<Stalling> {
  const proxy = await startRedisProxy(t, redis.port)
  const keyPrefix = `${name}:`
  const server = await startServer(t, { plugin: { nodeId: name, redis: { url: proxy.url, keyPrefix, ...liveness } } })
  const client = await server.connect()
  t.equal((await client.subscribe('news')).type, 'subscribed')
  return { ...server, proxy, client, keyPrefix }
}

const brokerState = (app: StartedServer['app']): string => app.realtime.stats().broker

async function redisChannels (keyPrefix: string): Promise<string[]> {
  return (await redis.admin.call('PUBSUB', 'CHANNELS', `${keyPrefix}*`) as string[]).sort()
}

/** What a node (named like its key prefix) holds: broadcasts, the cluster commands' channels, and `channels`. */
function nodeChannels (keyPrefix: string, ...channels: string[]): string[] {
  const internal = [BROADCAST_CHANNEL, '!control', `!reply:${keyPrefix.slice(0, -1)}`]
  return [...internal, ...channels].map((channel) => keyPrefix + channel).sort()
}

/** Publishes `data` and a marker after it; resolves with every message the client got by then. */
async function deliveredThrough (app: StartedServer['app'], client: TestClient, data: string): Promise<unknown[]> {
  await app.publish('news', data)
  await app.publish('news', 'marker')
  await client.next((frame) => frame.type === 'message' && frame.data === 'marker')
  return client.seen((frame) => frame.type === 'message').map((frame) => frame.data)
}

t.test('Redis silent on every link: publish and subscribe fail in time, the broker goes unavailable, then recovers and delivers once', { timeout: 60_000 }, async (t) => {
  const { app, client, proxy, keyPrefix } = await start(t, 'stall-all', { commandTimeout: 400, pingInterval: 200 })

  proxy.blackHole = true
  await t.rejects(app.publish('news', 'into the hole'), { code: ErrorCode.BROKER_UNAVAILABLE }, 'the publish fails instead of hanging')
  await eventually(() => brokerState(app) === 'unavailable', 'stats().broker reports the outage')
  t.match(await client.subscribe('other'), { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE }, 'a client subscribe is answered with an error')

  proxy.blackHole = false
  await eventually(() => brokerState(app) === 'ready', 'the broker is ready again', 20_000)
  t.same(await redisChannels(keyPrefix), nodeChannels(keyPrefix, 'news'), 'the channels are subscribed again')
  t.same(await deliveredThrough(app, client, 'after'), ['after', 'marker'],
    'delivery resumes exactly once, and the publish that went into the hole is never delivered')
})

t.test('an idle subscriber link that goes silent is found by the PING and resubscribed', { timeout: 60_000 }, async (t) => {
  const { app, client, proxy, keyPrefix } = await start(t, 'stall-sub', { commandTimeout: 400, pingInterval: 200 })
  const link = await proxy.link('fastify-realtime:stall-sub:sub')

  link.blackHole = true
  await eventually(() => brokerState(app) === 'unavailable', 'the PING finds the silent subscriber link')
  await eventually(() => brokerState(app) === 'ready', 'the broker is ready again on a new link', 20_000)
  t.same(await redisChannels(keyPrefix), nodeChannels(keyPrefix, 'news'), 'the channels are subscribed again')
  t.same(await deliveredThrough(app, client, 'after'), ['after', 'marker'], 'delivery resumes exactly once')
})

t.test('a SUBSCRIBE Redis does not answer fails within commandTimeout, and the channel can be taken later', { timeout: 60_000 }, async (t) => {
  // The watch is kept out of the way: the SUBSCRIBE's own deadline finds the silent link.
  const { app, client, proxy } = await start(t, 'stall-subscribe', { commandTimeout: 400, pingInterval: 600_000 })
  const link = await proxy.link('fastify-realtime:stall-subscribe:sub')

  link.blackHole = true
  t.match(await client.subscribe('late'), { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE }, 'the subscribe is answered with an error')
  t.equal(brokerState(app), 'unavailable', 'the link it went unanswered on counts as dead')
  await eventually(() => brokerState(app) === 'ready', 'the broker is ready again on a new link', 20_000)
  t.equal((await client.subscribe('late')).type, 'subscribed', 'a later subscribe works')
  await app.publish('late', 'on the late channel')
  t.same(await deliveredThrough(app, client, 'after'), ['on the late channel', 'after', 'marker'], 'each frame is delivered once')
})

t.test('with a client the user owns: a PUBLISH past the deadline fails, the client is left alone, the subscriber finds the outage', { timeout: 60_000 }, async (t) => {
  const proxy = await startRedisProxy(t, redis.port)
  const own = new Redis(proxy.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false })
  t.teardown(() => own.disconnect())
  const { app } = await startServer(t, { plugin: { nodeId: 'stall-own', redis: { client: own, keyPrefix: 'stall-own:', commandTimeout: 400, pingInterval: 200 } } })

  proxy.blackHole = true
  await t.rejects(app.publish('news', 'into the hole'), { code: ErrorCode.BROKER_UNAVAILABLE }, 'the publish fails instead of hanging')
  t.equal(own.status, 'ready', 'the user\'s connection is theirs to manage: not dropped')
  await eventually(() => brokerState(app) === 'unavailable', 'the subscriber connection finds the outage')
})
