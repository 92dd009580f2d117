import t from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import realtime from '../lib/index.js'

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['path without a slash', { path: 'ws' }, /invalid option path/],
  ['zero maxPayload', { maxPayload: 0 }, /invalid option maxPayload/],
  ['fractional interval', { heartbeatInterval: 1.5 }, /invalid option heartbeatInterval/],
  ['timeout not below interval', { heartbeatInterval: 1000, heartbeatTimeout: 1000 }, /heartbeatTimeout must be less than heartbeatInterval/],
  ['empty node id', { nodeId: '' }, /invalid option nodeId/],
  ['node id outside printable ASCII', { nodeId: 'nœud-1' }, /invalid option nodeId/],
  ['node id with a space', { nodeId: 'node 1' }, /invalid option nodeId/],
  ['broker without methods', { broker: { publish () {} } }, /broker must implement/]
]

for (const [name, options, message] of bad) {
  t.test(`register fails on ${name}`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(realtime, options as never)
    await t.rejects(async () => { await app.ready() }, message)
  })
}

t.test('registering twice fails with a plain message', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(realtime)
  app.register(realtime)
  await t.rejects(async () => { await app.ready() }, /already been registered/)
})

t.test('registering @fastify/websocket first is refused with an explanation', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(websocket)
  app.register(realtime)
  await t.rejects(async () => { await app.ready() }, /registers @fastify\/websocket itself/)
})

t.test('Fastify register options such as prefix are not mistaken for ours', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { prefix: '/api', logLevel: 'warn', logSerializers: { user: (user: unknown) => String(user) } } as never)
  t.ok(app.realtime)
})
