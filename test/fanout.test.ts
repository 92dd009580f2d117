// The fan-out fast path (frame once, write to the TCP socket, coalesce per turn) read back by
// plain `ws` clients: bytes, order, closing sockets, and the queued-bytes hook.
import t from 'tap'
import { once } from 'node:events'
import WebSocket from 'ws'
import { startServer } from './helpers/server.js'
import { expectedFrame } from './helpers/frames.js'
import type { TestClient } from './helpers/ws-client.js'
import { FanOut } from '../lib/fanout.js'
import type { Connection } from '../lib/connection.js'

/** Records every frame's raw text (and whether it was binary) as the client decoded it. */
function recordRaw (client: TestClient): Array<{ text: string, binary: boolean }> {
  const raw: Array<{ text: string, binary: boolean }> = []
  client.socket.on('message', (data: Buffer, isBinary: boolean) => raw.push({ text: data.toString('utf8'), binary: isBinary }))
  return raw
}

/** The server-side connection of a client. */
function serverSide (app: Awaited<ReturnType<typeof startServer>>['app'], client: TestClient): Connection {
  const connection = app.realtime.connection(client.welcome.connectionId)
  if (connection === undefined) throw new Error('no server-side connection')
  return connection
}

t.test('frames decoded by a plain ws client equal what was published, byte for byte', async (t) => {
  const { app, connect } = await startServer(t)
  const a = await connect()
  const b = await connect()
  await a.subscribe('bytes')
  await b.subscribe('bytes')
  const rawA = recordRaw(a)
  const rawB = recordRaw(b)

  // Whole frames of exactly these lengths cross the 7-bit, 16-bit and 64-bit length encodings.
  const overhead = expectedFrame('bytes', '', Date.now()).length
  const frameLengths = [125, 126, 127, 65535, 65536, 65537]
  const payloads: unknown[] = frameLengths.map((length) => 'x'.repeat(length - overhead))
  payloads.push(
    { text: 'héllo wörld €, 中文, emoji 😀🎉, line sep \u2028 and \u2029', nested: [1, null, true, { ключ: 'значение' }] },
    '😀'.repeat(40_000),
    '',
    0
  )
  for (const data of payloads) await app.publish('bytes', data)
  for (let i = 0; i < payloads.length; i++) {
    await a.next((frame) => frame.type === 'message' && JSON.stringify(frame.data) === JSON.stringify(payloads[i]))
    await b.next((frame) => frame.type === 'message' && JSON.stringify(frame.data) === JSON.stringify(payloads[i]))
  }

  for (const [name, raw] of [['a', rawA], ['b', rawB]] as const) {
    t.equal(raw.length, payloads.length, `client ${name} got one frame per publish`)
    for (let i = 0; i < payloads.length; i++) {
      const frame = raw[i]!
      t.notOk(frame.binary, `client ${name}, publish ${i}: a text frame`)
      const ts = (JSON.parse(frame.text) as { ts: number }).ts
      t.equal(frame.text, expectedFrame('bytes', payloads[i], ts), `client ${name}, publish ${i}: same bytes`)
      if (i < frameLengths.length) t.equal(Buffer.byteLength(frame.text), frameLengths[i], `client ${name}: a ${frameLengths[i]}-byte frame`)
    }
  }
})

t.test('a burst of publishes keeps per-channel order on every subscriber', async (t) => {
  const { app, connect } = await startServer(t)
  const clients = [await connect(), await connect(), await connect()]
  for (const client of clients) {
    await client.subscribe('left')
    await client.subscribe('right')
  }
  const count = 300
  // All publishes in one turn: they coalesce into one write per socket.
  const published: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    published.push(app.publish('left', { i }))
    published.push(app.publish('right', { i }))
  }
  await Promise.all(published)
  for (const client of clients) {
    await client.next((frame) => frame.type === 'message' && frame.channel === 'right' && (frame.data as { i: number }).i === count - 1)
    for (const channel of ['left', 'right']) {
      const order = client.seen((frame) => frame.type === 'message' && frame.channel === channel).map((frame) => (frame.data as { i: number }).i)
      t.same(order, Array.from({ length: count }, (_, i) => i), `${channel}: all ${count} in publish order`)
    }
  }
})

t.test('replies sent through socket.send keep their place among fanned-out frames', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  await client.subscribe('mixed')
  const connection = serverSide(app, client)
  const sequence: string[] = []
  for (let i = 0; i < 20; i++) {
    if (i % 3 === 0) {
      connection.send({ type: 'ack', id: `reply-${i}` })
      sequence.push(`reply-${i}`)
    } else {
      app.publish('mixed', { i }).catch(t.error)
      sequence.push(`message-${i}`)
    }
  }
  await client.next((frame) => frame.type === 'message' && (frame.data as { i: number }).i === 19)
  const received = client.received
    .filter((frame) => frame.type === 'ack' || (frame.type === 'message' && frame.channel === 'mixed'))
    .map((frame) => frame.type === 'ack' ? frame.id : `message-${(frame.data as { i: number }).i}`)
  t.same(received, sequence)
})

t.test('frames queued inside ws are not overtaken by the fast path', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  await client.subscribe('queued')
  const raw = recordRaw(client)
  // A Blob is read asynchronously: until then ws queues later sends behind it.
  serverSide(app, client).socket.send(new Blob(['blob first']))
  await app.publish('queued', 'after the blob')
  await client.next((frame) => frame.type === 'message' && frame.data === 'after the blob')
  t.same(raw.map((frame) => frame.binary ? `binary:${frame.text}` : (JSON.parse(frame.text) as { data: string }).data), ['binary:blob first', 'after the blob'])
})

t.test('nothing is delivered to a socket that is closing', async (t) => {
  const { app, connect } = await startServer(t)
  const closing = await connect()
  const staying = await connect()
  await closing.subscribe('news')
  await staying.subscribe('news')
  const raw = recordRaw(closing)

  // Same turn: a frame before the close goes out ahead of the close frame, none after it.
  await app.publish('news', 'before close')
  serverSide(app, closing).close(1000, 'bye')
  await app.publish('news', 'after close')

  const closed = await closing.closed
  t.equal(closed.code, 1000)
  t.same(raw.map((frame) => (JSON.parse(frame.text) as { data: string }).data), ['before close'])
  t.equal((await staying.next((frame) => frame.data === 'after close')).data, 'after close', 'the others still get it')
  t.equal(app.realtime.stats().messagesOut, 2 + 2 + 3, 'stats count two welcomes, two subscribed replies and three deliveries: none to the closing socket')
})

t.test('the admission hook sees corked bytes, so a stuck socket stays bounded within a turn', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  const connection = serverSide(app, client)
  const tcp = (connection.socket as unknown as { _socket: { writableLength: number } })._socket
  const counters = { messagesIn: 0, messagesOut: 0, errors: 0, bytesOut: 0 }
  const limit = 16 * 1024
  const refused: number[] = []
  // The shape of a slow-consumer cap: admit while queued + frame fits under the limit.
  const fanOut = new FanOut(counters, {
    admit (admitted, bytes) {
      t.equal(admitted, connection)
      if (tcp.writableLength + bytes <= limit) return true
      refused.push(tcp.writableLength)
      return false
    }
  })
  const frame = JSON.stringify({ type: 'message', channel: 'big', data: 'y'.repeat(1000), ts: 1 })
  let delivered = 0
  // One turn: everything stays corked in user space, so only the hook bounds it.
  for (let i = 0; i < 100; i++) delivered += fanOut.send(frame, [connection])
  t.ok(refused.length > 0, 'frames were refused once the queue was full')
  t.equal(delivered + refused.length, 100, 'every publish was either written or refused')
  t.ok(tcp.writableLength <= limit, `queued bytes stay under the limit (${tcp.writableLength})`)
  t.ok(refused.every((queued) => queued > limit - (Buffer.byteLength(frame) + 4)), 'refusals saw the corked bytes')
  t.equal(counters.messagesOut, delivered)

  fanOut.flush()
  await client.next((f) => f.type === 'message' && client.seen((m) => m.type === 'message').length === delivered)
  t.equal(client.seen((f) => f.type === 'message').length, delivered, 'the client got exactly what was written')
})

t.test('app.close() flushes frames still corked', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  await client.subscribe('last')
  const raw = recordRaw(client)
  const closed = once(client.socket, 'close')
  app.publish('last', 'final words').catch(t.error)
  await app.close()
  await closed
  t.same(raw.map((frame) => (JSON.parse(frame.text) as { data: string }).data), ['final words'])
  t.equal(client.socket.readyState, WebSocket.CLOSED)
})

t.test('with perMessageDeflate on, published frames go out compressed and decode equal', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { perMessageDeflate: true } })
  const client = await connect({ perMessageDeflate: true })
  await client.subscribe('zip')
  const tcp = (client.socket as unknown as { _socket: import('node:net').Socket })._socket
  const before = tcp.bytesRead
  const data = 'all work and no play '.repeat(3000)
  await app.publish('zip', data)
  t.equal((await client.nextOfType('message')).data, data)
  const onTheWire = tcp.bytesRead - before
  t.ok(onTheWire < data.length / 10, `${onTheWire} bytes on the wire for ${data.length} bytes of data`)
})
