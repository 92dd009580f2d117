// drainOnClose of 10 s or more made app.close() reject: Fastify cuts the close hooks off at its
// pluginTimeout (10 s by default), so the documented `drainOnClose: 20_000` always failed.
// Register now refuses a drainOnClose that cannot fit, and a raised pluginTimeout makes it fit.
import t from 'tap'
import Fastify from 'fastify'
import realtime from '../../lib/index.js'
import { CloseCode } from '../../lib/errors.js'
import { startServer } from '../helpers/server.js'

t.test('drainOnClose + closeGracePeriod at or over the default pluginTimeout fails register with a plain message', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close().catch(() => {}))
  await t.rejects(async () => { await app.register(realtime, { drainOnClose: 20_000 }) }, /pluginTimeout/)
})

t.test('a short pluginTimeout is read from the app', async (t) => {
  const app = Fastify({ pluginTimeout: 1000 })
  t.teardown(() => app.close().catch(() => {}))
  await t.rejects(async () => { await app.register(realtime, { drainOnClose: 600, closeGracePeriod: 400 }) }, /drainOnClose \(600 ms\) \+ closeGracePeriod \(400 ms\).*pluginTimeout \(1000 ms\)/)
})

t.test('with pluginTimeout raised (or off), the drain is accepted and app.close() drains with 1012', async (t) => {
  const off = Fastify({ pluginTimeout: 0 })
  await off.register(realtime, { drainOnClose: 20_000 })
  await off.close()

  const { app, connect } = await startServer(t, {
    fastify: { pluginTimeout: 3000 },
    plugin: { drainOnClose: 300, closeGracePeriod: 500 }
  })
  const client = await connect()
  await app.close()
  t.equal((await client.closed).code, CloseCode.SERVICE_RESTART)
})
