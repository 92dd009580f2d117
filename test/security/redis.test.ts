// The same guards with the Redis broker: nothing refused reaches Redis, glob characters never
// become patterns, and a slow consumer on one node is handled there.
import t from 'tap'
import { ErrorCode } from '../../lib/index.js'
import { startRedis } from '../helpers/redis-server.js'
import { startServer } from '../helpers/server.js'

t.test('refused and invalid subscriptions never reach Redis; no pattern subscription exists', async (t) => {
  const redis = await startRedis(t)
  const { connect } = await startServer(t, {
    plugin: { redis: { url: redis.url }, authorize: ({ channel }) => channel !== 'secret' }
  })
  const client = await connect()
  for (const channel of ['news*', 'n?ws', '[abc]', 'news]', '*']) {
    t.match(await client.subscribe(channel), { type: 'error', code: ErrorCode.INVALID_CHANNEL }, channel)
  }
  t.match(await client.subscribe('secret'), { type: 'error', code: ErrorCode.FORBIDDEN })
  t.match(await client.subscribe('private:room'), { type: 'error', code: ErrorCode.FORBIDDEN })
  t.match(await client.subscribe('news'), { type: 'subscribed' })

  t.equal(await redis.admin.pubsub('NUMPAT'), 0, 'no PSUBSCRIBE was ever issued')
  const channels = await redis.admin.pubsub('CHANNELS') as string[]
  t.ok(channels.some((name) => name.endsWith('news')), `the allowed channel is subscribed (${channels.join(', ')})`)
  t.notOk(channels.some((name) => /[*?[\]]|secret|private:/.test(name)), 'nothing refused or glob-like reached Redis')
})

t.test('a client publish refused by authorize is never sent through Redis', async (t) => {
  const redis = await startRedis(t)
  const { app, connect } = await startServer(t, {
    plugin: { redis: { url: redis.url }, authorize: ({ action }) => action === 'subscribe' }
  })
  const reader = await connect()
  const writer = await connect()
  t.match(await reader.subscribe('room'), { type: 'subscribed' })
  t.match(await writer.request({ type: 'publish', channel: 'room', data: 'spoofed' }), { type: 'error', code: ErrorCode.FORBIDDEN })
  await app.publish('room', 'real')
  t.equal((await reader.nextOfType('message')).data, 'real', 'the first message through Redis is the server\'s own')
})
