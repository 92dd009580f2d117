// Bad input: every error code, answered on a connection that stays usable.
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { ErrorCode, CloseCode } from '../lib/errors.js'
import { startServer } from './helpers/server.js'
import type { TestClient } from './helpers/ws-client.js'

async function stillServes (t: Test, client: TestClient): Promise<void> {
  client.send({ type: 'ping', ts: 1 })
  t.equal((await client.nextOfType('pong')).ts, 1, 'the connection still works')
}

t.test('a frame that is not JSON gets invalid_json', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  for (const text of ['{', 'not json', '{"type":"ping",}', '']) {
    client.send(text)
    t.equal((await client.nextOfType('error')).code, ErrorCode.INVALID_JSON, JSON.stringify(text))
  }
  await stillServes(t, client)
})

t.test('a frame that is not an object, or has no known type, gets unknown_type', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  for (const frame of ['42', '"ping"', 'null', '[{"type":"ping"}]', '{}', '{"type":7}', '{"type":"nope","id":"q"}',
    '{"type":"error"}', '{"type":"__proto__"}', '{"type":"constructor"}', '{"type":"toString"}', '{"type":"pong"}']) {
    client.send(frame)
    const error = await client.nextOfType('error')
    t.equal(error.code, ErrorCode.UNKNOWN_TYPE, frame)
    t.type(error.message, 'string')
  }
  t.equal(client.seen((f) => f.type === 'error' && f.id === 'q').length, 1, 'the request id is echoed')
  await stillServes(t, client)
})

t.test('a schema violation gets invalid_message with path and reason', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  client.send({ type: 'ping', ts: 'yesterday', id: 'a' })
  const error = await client.nextOfType('error')
  t.equal(error.code, ErrorCode.INVALID_MESSAGE)
  t.equal(error.id, 'a')
  t.match(error.details, [{ path: '/ts', message: String }])

  client.send({ type: 'publish', channel: 'ok' })
  t.match(await client.nextOfType('error'), { code: ErrorCode.INVALID_MESSAGE, details: [{ path: String, message: /data/ }] })

  client.send({ type: 'chat', content: '' })
  t.match(await client.nextOfType('error'), { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/content' }] })

  client.send({ type: 'subscribe', channel: 'a', id: 'x'.repeat(65) })
  t.match(await client.nextOfType('error'), { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/id' }] }, 'over-long ids are refused')
  await stillServes(t, client)
})

t.test('a bad channel name gets invalid_channel', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  const bad = ['', 'x'.repeat(201), 'has space', 'glob*', 'what?', '[a]', 'naïve', 'new\nline', '!broadcast']
  for (const channel of bad) {
    for (const type of ['subscribe', 'unsubscribe', 'publish']) {
      const error = await client.request({ type, channel, data: 1 })
      t.equal(error.code, ErrorCode.INVALID_CHANNEL, `${type} ${JSON.stringify(channel)}`)
    }
  }
  client.send({ type: 'subscribe', channel: 42 })
  t.equal((await client.nextOfType('error')).code, ErrorCode.INVALID_CHANNEL, 'a non-string channel')
  t.same(app.realtime.channels(), [], 'nothing was subscribed')
  t.same(await client.request({ type: 'subscribe', channel: 'x'.repeat(200) }, 'long'), { type: 'subscribed', channel: 'x'.repeat(200), id: 'long' }, '200 characters is fine')
  await stillServes(t, client)
})

t.test('a binary frame gets unsupported_binary', async (t) => {
  const { connect } = await startServer(t)
  const client = await connect()
  client.socket.send(Buffer.from('{"type":"ping"}'), { binary: true })
  t.equal((await client.nextOfType('error')).code, ErrorCode.UNSUPPORTED_BINARY)
  await stillServes(t, client)
})

t.test('__proto__ and constructor.prototype keys are refused and pollute nothing', async (t) => {
  const { connect, app } = await startServer(t)
  const client = await connect()
  const subscriber = await connect()
  await subscriber.subscribe('c')
  const frames = [
    '{"type":"publish","channel":"c","data":{"__proto__":{"polluted":true}}}',
    '{"type":"publish","channel":"c","data":{"constructor":{"prototype":{"polluted":true}}}}',
    '{"__proto__":{"type":"ping"},"type":"ping"}'
  ]
  for (const frame of frames) {
    client.send(frame)
    t.equal((await client.nextOfType('error')).code, ErrorCode.INVALID_MESSAGE, frame)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  await app.publish('c', 'after')
  t.equal((await subscriber.nextOfType('message')).data, 'after', 'only the clean message was delivered')
  t.equal(subscriber.seen((f) => f.type === 'message').length, 1)

  client.send({ type: 'publish', channel: 'c', data: { constructor: 'a plain key is fine' } })
  t.same((await subscriber.nextOfType('message')).data, { constructor: 'a plain key is fine' })
})

t.test('a frame over maxPayload closes the connection with 1009 and others are unaffected', async (t) => {
  const { connect, app } = await startServer(t, { plugin: { maxPayload: 1024 } })
  const big = await connect()
  const bystander = await connect()
  await bystander.subscribe('c')
  big.send({ type: 'publish', channel: 'c', data: 'x'.repeat(2000) })
  t.equal((await big.closed).code, CloseCode.MESSAGE_TOO_BIG)
  await app.publish('c', 'still here')
  t.equal((await bystander.nextOfType('message')).data, 'still here')
  t.same(bystander.seen((f) => f.type === 'message').length, 1, 'the oversized publish reached no one')
})

t.test('the default maxPayload is 64 KiB', async (t) => {
  const { connect } = await startServer(t)
  const fits = await connect()
  fits.send({ type: 'ping', pad: 'x'.repeat(60 * 1024) })
  t.equal((await fits.nextOfType('pong')).type, 'pong', '60 KiB is accepted')
  const tooBig = await connect()
  tooBig.send({ type: 'ping', pad: 'x'.repeat(65 * 1024) })
  t.equal((await tooBig.closed).code, CloseCode.MESSAGE_TOO_BIG)
})

t.test('invalid UTF-8 in a text frame closes with 1007', async (t) => {
  const { url } = await startServer(t)
  const socket = new WebSocket(url)
  await new Promise((resolve) => socket.once('open', resolve))
  // ws validates what it sends, so write the masked frame to the TCP socket directly.
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  const payload = Buffer.from([0xff, 0xfe, 0xfd])
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!))
  const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket
  tcp.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]))
  t.equal(await closed, CloseCode.INVALID_PAYLOAD)
})
