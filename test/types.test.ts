// Public types: decorators type-check without casts. `npm run typecheck` compiles this file,
// so a wrong type fails the suite; the @ts-expect-error lines fail it if they stop erroring.
import t from 'tap'
import Fastify from 'fastify'
import Type from 'typebox'
import realtime, {
  fastifyRealtime, ErrorCode, CloseCode, RealtimeError, type RealtimeStats, type Connection,
  type ClientMessage, type ServerMessage, type RealtimePluginOptions
} from '../lib/index.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

t.test('decorators and handlers are typed by declaration merging', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const options: RealtimePluginOptions = { path: '/live', heartbeatInterval: 1000, heartbeatTimeout: 500 }
  await app.register(realtime, options)

  const published: Promise<void> = app.publish('orders', { id: 1 })
  const broadcast: Promise<void> = app.broadcast('hi')
  await Promise.all([published, broadcast])
  const stats: RealtimeStats = app.realtime.stats()
  t.equal(stats.connections, 0)
  expectType<Equal<typeof stats.broker, 'starting' | 'ready' | 'unavailable' | 'closed'>>(true)
  // @ts-expect-error a channel is a string
  app.publish(42, 'x').catch(() => {})

  app.realtime.handle('move', Type.Object({ x: Type.Number(), label: Type.Optional(Type.String()) }), (message, connection) => {
    expectType<Equal<typeof message.x, number>>(true)
    expectType<Equal<typeof message.label, string | undefined>>(true)
    expectType<Equal<typeof message.type, 'move'>>(true)
    expectType<Equal<typeof message.id, string | undefined>>(true)
    const c: Connection = connection
    return c.id
  })

  const incoming: ClientMessage = { type: 'subscribe', channel: 'a' }
  const outgoing: ServerMessage = { type: 'error', code: ErrorCode.FORBIDDEN, message: 'no' }
  // @ts-expect-error subscribe needs a channel
  const broken: ClientMessage = { type: 'subscribe' }
  t.ok(incoming && outgoing && broken)
  t.equal(fastifyRealtime, realtime, 'named and default export are the same plugin')
  t.equal(CloseCode.GOING_AWAY, 1001)
  t.equal(new RealtimeError(ErrorCode.RATE_LIMITED).message, 'Too many messages')
})
