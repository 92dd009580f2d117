// The plugin's `redis` option as a user writes it: a URL, `app.redis` from @fastify/redis,
// a Redis that is not there at start.
import t from 'tap'
import Fastify from 'fastify'
import fastifyRedis from '@fastify/redis'
import realtime, { MemoryBroker, RedisBroker } from '../lib/index.js'
import { ErrorCode } from '../lib/errors.js'
import { eventually, freePort, startRedis } from './helpers/redis-server.js'
import { startServer } from './helpers/server.js'

const redis = await startRedis(t)

async function pluginConnections (): Promise<string[]> {
  const list = await redis.admin.call('CLIENT', 'LIST') as string
  return list.split('\n').map((line) => /\bname=(\S+)/.exec(line)?.[1]).filter((name): name is string => name !== undefined)
}

t.test('{ redis: { client: app.redis } } publishes on the @fastify/redis client and talks to nodes using a URL', async (t) => {
  const a = await startServer(t, { plugin: { nodeId: 'url-node', redis: { url: redis.url, keyPrefix: 'reuse:' } } })

  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyRedis, { url: redis.url, connectionName: 'app-redis' })
  await app.register(realtime, { nodeId: 'reuser', redis: { client: app.redis, keyPrefix: 'reuse:' } })
  await app.ready()
  t.same((await pluginConnections()).filter((name) => name.includes('reuser')), ['fastify-realtime:reuser:sub'], 'only the subscriber is the plugin\'s own')

  const client = await a.connect()
  await client.subscribe('news')
  await app.publish('news', 'via app.redis')
  t.equal((await client.nextOfType('message')).data, 'via app.redis')

  await app.close()
  await eventually(async () => !(await pluginConnections()).some((name) => name.includes('reuser') || name === 'app-redis'), 'the app\'s connections are gone')
  t.pass('app.close() closed the duplicate, and @fastify/redis closed its own client')
})

t.test('the embedded broker stays the default', async (t) => {
  const { app } = await startServer(t)
  t.equal(app.realtime.stats().broker, 'ready')
  t.same((await pluginConnections()).filter((name) => name.startsWith('fastify-realtime:')), [])
})

t.test('a RedisBroker can be passed as broker', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { nodeId: 'direct', broker: new RedisBroker({ url: redis.url, keyPrefix: 'direct:' }) } })
  const client = await connect()
  await client.subscribe('c')
  await app.publish('c', 1)
  t.equal((await client.nextOfType('message')).data, 1)
  t.ok((await pluginConnections()).includes('fastify-realtime:direct:sub'))
})

t.test('bad redis options fail at register time', async (t) => {
  for (const [options, message] of [
    [{ redis: { url: redis.url }, broker: new MemoryBroker() }, /give one of broker, redis and mqtt/],
    [{ redis: 'redis://127.0.0.1' }, /redis must be an object/],
    [{ redis: { url: 'http://127.0.0.1' } }, /redis\.url must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ redis: { client: undefined, keyPrefix: 5 } }, /keyPrefix must be a string/],
    [{ redis: { url: redis.url, commandTimeout: 0 } }, /redis\.commandTimeout must be a whole number of milliseconds/],
    [{ redis: { url: redis.url, commandTimeout: '5000' } }, /redis\.commandTimeout must be a whole number of milliseconds/],
    [{ redis: { url: redis.url, pingInterval: 2.5 } }, /redis\.pingInterval must be a whole number of milliseconds/],
    [{ redis: { url: redis.url, pingInterval: 2 ** 31 } }, /redis\.pingInterval must be a whole number of milliseconds/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(realtime, options as never) }, { message })
  }
})

t.test('Redis unreachable at start: ready() fails with an error naming the address', async (t) => {
  const port = await freePort()
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(realtime, { redis: { url: `redis://127.0.0.1:${port}` } }) }, {
    code: ErrorCode.BROKER_UNAVAILABLE,
    message: new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${port}`)
  })
})

t.test('startDegraded: the app starts without Redis, refuses publishes, and recovers when Redis appears', async (t) => {
  const port = await freePort()
  const { app, connect } = await startServer(t, { plugin: { nodeId: 'patient', redis: { url: `redis://127.0.0.1:${port}`, startDegraded: true } } })
  t.equal(app.realtime.stats().broker, 'unavailable')
  const client = await connect()
  t.match(await client.request({ type: 'subscribe', channel: 'c' }, 's1'), { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, id: 's1' })
  t.equal(app.realtime.subscriberCount('c'), 0, 'a refused subscribe leaves no subscription')
  await t.rejects(app.broadcast('nobody hears this'), { code: ErrorCode.BROKER_UNAVAILABLE })

  await startRedis(t, { port })
  await eventually(() => app.realtime.stats().broker === 'ready', 'the broker is ready')
  await app.broadcast('hello')
  t.equal((await client.nextOfType('broadcast')).data, 'hello', 'the broadcast channel was subscribed once Redis appeared')
  t.equal((await client.subscribe('c')).type, 'subscribed')
  await app.publish('c', 'now')
  t.equal((await client.nextOfType('message')).data, 'now')
})
