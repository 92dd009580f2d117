// Application message types: validated by their own schema, handled, acknowledged.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode, RealtimeError } from '../lib/errors.js'
import { startServer } from './helpers/server.js'

t.test('a registered type is validated and handled, and its result is acked', async (t) => {
  const seen: Array<{ channel: string, typing: boolean }> = []
  const { connect } = await startServer(t, {
    setup: (app) => {
      app.realtime.handle('typing', Type.Object({ channel: Type.String(), typing: Type.Boolean() }), async (message, connection) => {
        seen.push({ channel: message.channel, typing: message.typing })
        await app.publish(message.channel, { typing: connection.id })
        return { seen: seen.length }
      })
    }
  })
  const client = await connect()
  await client.subscribe('room')
  t.same(await client.request({ type: 'typing', channel: 'room', typing: true }, 't1'), { type: 'ack', id: 't1', data: { seen: 1 } })
  t.same((await client.nextOfType('message')).data, { typing: client.welcome.connectionId })

  const invalid = await client.request({ type: 'typing', channel: 'room', typing: 'yes' }, 't2')
  t.equal(invalid.code, ErrorCode.INVALID_MESSAGE)
  t.match(invalid.details, [{ path: '/typing' }])
  t.equal(seen.length, 1, 'the handler never saw the invalid frame')

  client.send({ type: 'typing', channel: 'room', typing: false })
  await client.nextOfType('message')
  t.equal(seen.length, 2)
  t.same(client.seen((f) => f.type === 'ack'), [{ type: 'ack', id: 't1', data: { seen: 1 } }], 'no ack without an id')
})

t.test('a handler that returns nothing is acked without data', async (t) => {
  const { connect } = await startServer(t, {
    setup: (app) => { app.realtime.handle('noop', Type.Object({}), () => undefined) }
  })
  const client = await connect()
  t.same(await client.request({ type: 'noop' }, 'n'), { type: 'ack', id: 'n' })
})

t.test('a handler that throws answers internal_error without the stack, and logs it', async (t) => {
  const logs: string[] = []
  const { connect } = await startServer(t, {
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } },
    setup: (app) => {
      app.realtime.handle('explode', Type.Object({}), () => { throw new Error('secret detail at /srv/app.js:12') })
      app.realtime.handle('refuse', Type.Object({}), async () => { throw new RealtimeError(ErrorCode.FORBIDDEN, 'not yours') })
    }
  })
  const client = await connect()
  const error = await client.request({ type: 'explode' }, 'e')
  t.same(error, { type: 'error', code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error', id: 'e' })
  t.ok(logs.some((line) => line.includes('secret detail')), 'the full error is in the log')
  t.same(await client.request({ type: 'refuse' }, 'r'), { type: 'error', code: ErrorCode.FORBIDDEN, message: 'not yours', id: 'r' })
  client.send({ type: 'ping', ts: 5 })
  t.equal((await client.nextOfType('pong')).ts, 5, 'the connection stays open')
})

t.test('handle() refuses bad registrations with a plain message', async (t) => {
  const { app } = await startServer(t)
  const schema = Type.Object({})
  t.throws(() => app.realtime.handle('subscribe', schema, () => {}), /part of the protocol/)
  t.throws(() => app.realtime.handle('error', schema, () => {}), /part of the protocol/)
  t.throws(() => app.realtime.handle('has space', schema, () => {}), /invalid message type name/)
  t.throws(() => app.realtime.handle('', schema, () => {}), /invalid message type name/)
  app.realtime.handle('mine', schema, () => {})
  t.throws(() => app.realtime.handle('mine', schema, () => {}), /already registered/)
  t.throws(() => app.realtime.handle('str', Type.String() as never, () => {}), /must be a Type.Object/)
  t.throws(() => app.realtime.handle('nofn', schema, 'x' as never), /must be a function/)
})

t.test('a strict schema still accepts type and id', async (t) => {
  const { connect } = await startServer(t, {
    setup: (app) => {
      app.realtime.handle('strict', Type.Object({ n: Type.Number() }, { additionalProperties: false }), (m) => m.n * 2)
    }
  })
  const client = await connect()
  t.same(await client.request({ type: 'strict', n: 21 }, 's'), { type: 'ack', id: 's', data: 42 })
  t.equal((await client.request({ type: 'strict', n: 1, extra: true }, 'x')).code, ErrorCode.INVALID_MESSAGE)
})
