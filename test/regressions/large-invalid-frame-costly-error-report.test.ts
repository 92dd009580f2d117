// Reporting a validation failure cost far more than checking it: TypeBox's `Errors()` builds
// every error of the value before the report keeps 10, so each 64 KB invalid frame computed
// thousands of errors and one connection within the rate limit stalled the server. A large
// invalid value now gets one generic issue; a small one still gets its precise list.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode } from '../../lib/errors.js'
import { startServer } from '../helpers/server.js'

const FLOOD = 60

t.test('a flood of large invalid publishes gets bounded details, and other clients are answered meanwhile', async (t) => {
  const { connect } = await startServer(t, {
    plugin: { channels: [{ match: 'numbers', schema: Type.Array(Type.Number()) }, { match: '*' }] }
  })
  const flooder = await connect()
  const other = await connect()
  const frame = JSON.stringify({ type: 'publish', channel: 'numbers', data: Array(12000).fill('a') })

  const errors: Array<Record<string, any>> = []
  const allAnswered = new Promise<void>((resolve) => {
    flooder.socket.on('message', (data) => {
      const answer = JSON.parse(String(data))
      if (answer.type === 'error' && (errors.push(answer) === FLOOD)) resolve()
    })
  })
  for (let i = 0; i < FLOOD; i++) flooder.send(frame)
  const pong = other.nextOfType('pong')
  other.send({ type: 'ping', ts: 42 })
  t.match(await pong, { type: 'pong', ts: 42 }, 'another client is answered while the flood is processed')
  await allAnswered

  const expected = { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '', message: 'does not match the channel schema' }] }
  t.same(errors.map(({ code, details }) => ({ code, details })), Array(FLOOD).fill(expected), 'each gets one generic issue, not thousands computed')

  const small = await flooder.request({ type: 'publish', channel: 'numbers', data: [1, 'two', 3] }, 'small')
  t.match(small, { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/1', message: String }] }, 'a small value still gets its precise issues')
})

t.test('a large frame breaking its message schema gets one generic issue; a bad channel stays invalid_channel', async (t) => {
  const { connect } = await startServer(t, {
    setup: (app) => {
      app.realtime.handle('scores', Type.Object({ scores: Type.Array(Type.Number()) }), () => 'ok')
    }
  })
  const client = await connect()
  const large = await client.request({ type: 'scores', scores: Array(12000).fill('a') }, 'large')
  t.same(large.details, [{ path: '', message: 'frame does not match the schema of a "scores" message' }])
  t.equal(large.code, ErrorCode.INVALID_MESSAGE)

  const badChannel = await client.request({ type: 'publish', channel: 'no spaces', data: Array(12000).fill('a') }, 'channel')
  t.equal(badChannel.code, ErrorCode.INVALID_CHANNEL)
  t.match(badChannel.details, [{ path: '/channel', message: String }])
})
