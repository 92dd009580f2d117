// The security options are checked at register time, like the others.
import t from 'tap'
import Fastify from 'fastify'
import realtime, { type RealtimePluginOptions } from '../../lib/index.js'

const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
  ['authenticate not a function', { authenticate: 'yes' }, /authenticate must be a function/],
  ['authorize not a function', { authorize: true }, /authorize must be a function/],
  ['userId not a function', { userId: 'sub' }, /userId must be a function/],
  ['rateLimit true', { rateLimit: true }, /invalid option rateLimit/],
  ['rateLimit with a zero rate', { rateLimit: { messagesPerSecond: 0 } }, /invalid option rateLimit/],
  ['rateLimit with an unknown key', { rateLimit: { perMinute: 5 } }, /invalid option rateLimit/],
  ['slowConsumer policy unknown', { slowConsumer: { policy: 'ignore' } }, /invalid option slowConsumer\/policy/],
  ['slowConsumer cap too small', { slowConsumer: { maxBufferedBytes: 10 } }, /invalid option slowConsumer\/maxBufferedBytes/],
  ['maxConnections 0', { maxConnections: 0 }, /invalid option maxConnections/],
  ['maxConnectionsPerAddress fractional', { maxConnectionsPerAddress: 1.5 }, /invalid option maxConnectionsPerAddress/],
  ['maxSubscriptionsPerConnection negative', { maxSubscriptionsPerConnection: -1 }, /invalid option maxSubscriptionsPerConnection/],
  ['requireOrigin not a boolean', { requireOrigin: 'yes' }, /invalid option requireOrigin/]
]

for (const [name, options, message] of BAD) {
  t.test(`register fails: ${name}`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(realtime, options as RealtimePluginOptions) }, message)
  })
}

t.test('app.injectWS() (no TCP socket) goes through the same checks', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { authenticate: (request) => request.headers['x-user'] === 'ada' ? { id: 'ada' } : undefined })
  await app.ready()
  let welcomed: (data: Buffer) => void = () => {}
  const welcome = new Promise<Buffer>((resolve) => { welcomed = resolve })
  const socket = await app.injectWS('/ws', { headers: { 'x-user': 'ada' } }, { onInit: (ws) => ws.once('message', welcomed) })
  t.equal(JSON.parse((await welcome).toString()).type, 'welcome')
  t.match([...app.realtime.connections()].map((connection) => connection.user), [{ id: 'ada' }])
  socket.terminate()
  await t.rejects(app.injectWS('/ws'), /Unexpected server response: 401/)
})
