// Closing the app during app.realtime.drain() left the drain's timer running: the drain (and
// the process) ended only when its whole window had passed; with drainOnClose set, app.close()
// waited out the earlier drain's window (and was cut off by Fastify's pluginTimeout).
import t from 'tap'
import { CloseCode } from '../../lib/errors.js'
import { startServer } from '../helpers/server.js'

// Far longer than the test's timeout: waiting it out fails the test.
const LONG_DRAIN_MS = 600_000

t.test('app.close() during a long drain ends the drain', { timeout: 30_000 }, async (t) => {
  const { app, connect } = await startServer(t)
  const clients = await Promise.all([connect(), connect(), connect()])
  const drained = app.realtime.drain({ overMs: LONG_DRAIN_MS })
  await app.close()
  await drained
  const codes = await Promise.all(clients.map(async (client) => (await client.closed).code))
  t.ok(codes.every((code) => code === CloseCode.SERVICE_RESTART || code === CloseCode.GOING_AWAY), `closed with 1012 or 1001: ${codes.join(', ')}`)
  t.equal(app.realtime.connectionCount, 0)
})

t.test('with drainOnClose, app.close() during a long drain finishes it within drainOnClose, every client with 1012', { timeout: 30_000 }, async (t) => {
  const { app, connect } = await startServer(t, { plugin: { drainOnClose: 200 } })
  const clients = await Promise.all([connect(), connect(), connect()])
  const drained = app.realtime.drain({ overMs: LONG_DRAIN_MS })
  await app.close()
  await drained
  const codes = await Promise.all(clients.map(async (client) => (await client.closed).code))
  t.same(codes, [CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART, CloseCode.SERVICE_RESTART])
})
