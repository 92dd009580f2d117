// app.publish, app.broadcast and app.realtime called from ordinary HTTP routes.
import t from 'tap'
import { ErrorCode, RealtimeError } from '../lib/errors.js'
import { startServer } from './helpers/server.js'

t.test('app.broadcast from a route reaches every connection', async (t) => {
  const { connect, app } = await startServer(t, {
    setup: (app) => {
      app.post('/notify', async () => {
        await app.broadcast({ text: 'deploy finished' })
        return { ok: true }
      })
    }
  })
  const clients = await Promise.all([connect(), connect(), connect()])
  await clients[0]!.subscribe('unrelated')
  const response = await app.inject({ method: 'POST', url: '/notify' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { ok: true })
  for (const client of clients) {
    const frame = await client.nextOfType('broadcast')
    t.same(frame.data, { text: 'deploy finished' })
    t.type(frame.ts, 'number')
  }
})

t.test('app.publish from a route reaches the channel subscribers only', async (t) => {
  const { connect, app } = await startServer(t, {
    setup: (app) => {
      app.post<{ Params: { id: string } }>('/orders/:id', async (request) => {
        await app.publish('orders', { id: request.params.id })
        return { ok: true }
      })
    }
  })
  const subscriber = await connect()
  const outsider = await connect()
  await subscriber.subscribe('orders')
  t.equal((await app.inject({ method: 'POST', url: '/orders/42' })).statusCode, 200)
  t.same((await subscriber.nextOfType('message')).data, { id: '42' })
  await app.broadcast('marker')
  await outsider.nextOfType('broadcast')
  t.same(outsider.seen((f) => f.type === 'message'), [])
})

t.test('app.publish rejects a bad channel and unserializable data with RealtimeError', async (t) => {
  const { app } = await startServer(t)
  await t.rejects(app.publish('no spaces', 1), { code: ErrorCode.INVALID_CHANNEL })
  await t.rejects(app.publish('', 1), RealtimeError)
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  await t.rejects(app.publish('ok', cycle), { code: ErrorCode.INVALID_MESSAGE })
  await t.rejects(app.broadcast(10n), { code: ErrorCode.INVALID_MESSAGE })
})

t.test('data JSON cannot represent becomes null, never a broken frame', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  await client.subscribe('c')
  await app.publish('c', undefined)
  t.equal((await client.nextOfType('message')).data, null)
})

t.test('app.realtime.stats() counts connections, channels and traffic', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { nodeId: 'stats-node' } })
  const client = await connect()
  await client.subscribe('a')
  client.send('garbage')
  await client.nextOfType('error')
  await app.publish('a', 'x')
  await client.nextOfType('message')
  const stats = app.realtime.stats()
  t.match(stats, { connections: 1, channels: 1, messagesIn: 2, errors: 1, broker: 'ready', nodeId: 'stats-node' })
  t.ok(stats.messagesOut >= 4, 'welcome, subscribed, error and message went out')
  t.ok(stats.bytesOut > 0)
  const response = await app.inject({ method: 'GET', url: '/ws' })
  t.equal(response.statusCode, 404, 'a plain GET on the WebSocket route is not found')
})
