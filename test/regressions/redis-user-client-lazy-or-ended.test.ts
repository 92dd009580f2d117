// Issue 3 review: a client the user passes as `redis.client` that is not ready yet made
// start wait for a 'ready' that never comes: one created with `lazyConnect: true` connects
// only on its first command, and one that has ended never connects again. Now the lazy
// client is connected at start, and the ended one fails register with a message saying so.
import { once } from 'node:events'
import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import realtime from '../../lib/index.js'
import { startRedis } from '../helpers/redis-server.js'

const redis = await startRedis(t)

t.test('a lazyConnect client is connected at start and carries publishes', { timeout: 30_000 }, async (t) => {
  const client = new Redis(redis.url, { lazyConnect: true })
  t.teardown(() => client.disconnect())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { nodeId: 'lazy', redis: { client, keyPrefix: 'lazy:' } })
  await app.ready()
  t.equal(client.status, 'ready')
  t.equal(app.realtime.stats().broker, 'ready')
  await app.publish('news', 'hello')
  t.pass('app.publish went through the lazy client')
})

t.test('a client that has ended fails register with a message saying so', { timeout: 30_000 }, async (t) => {
  const client = new Redis(redis.url)
  const ended = once(client, 'end')
  await client.quit()
  await ended
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(realtime, { redis: { client, startDegraded: true } }) }, { message: /redis\.client has ended .* pass a client that is connected or connecting/ },
    'even with startDegraded: an ended client never comes back')
  t.equal(client.status, 'end', 'the user\'s client is left as it was')
})
