// What an idle connection keeps after the upgrade, and the shared socket error listener that
// replaces @fastify/websocket's per-socket one.
import t from 'tap'
import net from 'node:net'
import { Writable } from 'node:stream'
import { startServer } from './helpers/server.js'

t.test('an idle connection no longer holds its upgrade request and response', async (t) => {
  const { app, connect } = await startServer(t)
  const client = await connect()
  const connection = app.realtime.connection(client.welcome.connectionId)!
  const tcp = (connection.socket as unknown as { _socket: net.Socket & { _httpMessage: unknown } })._socket
  t.equal(tcp._httpMessage, null, 'the hijacked HTTP response is detached from the TCP socket')
  t.equal(connection.socket.listenerCount('error'), 1, 'one error listener, the shared one')
  await client.subscribe('still-works')
  await app.publish('still-works', 1)
  t.equal((await client.nextOfType('message')).data, 1)
})

t.test('a socket error is logged, the socket gets its close code, the others are not disturbed', async (t) => {
  const lines: Array<{ level: number, msg: string, connectionId?: string }> = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()))
      callback()
    }
  })
  const { app, url, connect } = await startServer(t, { fastify: { logger: { level: 'info', stream } } })
  const bystander = await connect()
  await bystander.subscribe('news')

  // A raw client whose first frame sets the reserved RSV2 bit: ws rejects it with an error.
  const { port } = new URL(url)
  const raw = net.connect({ host: '127.0.0.1', port: Number(port) })
  t.teardown(() => raw.destroy())
  await new Promise<void>((resolve) => raw.once('connect', resolve))
  raw.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  let received = Buffer.alloc(0)
  raw.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  await new Promise<void>((resolve) => raw.once('data', () => resolve()))
  t.equal(app.realtime.connectionCount, 2)
  raw.write(Buffer.from([0xa1, 0x80, 0, 0, 0, 0]))

  // The close frame (0x88, 2-byte payload: the code) arrives after the welcome frame.
  const closeCode = await new Promise<number>((resolve, reject) => {
    const look = (): void => {
      const at = received.indexOf(Buffer.from([0x88]), received.indexOf('\r\n\r\n') + 4)
      if (at !== -1 && received.length >= at + 4) resolve(received.readUInt16BE(at + 2))
    }
    raw.on('data', look)
    raw.once('close', () => reject(new Error('closed without a close frame')))
    look()
  })
  t.equal(closeCode, 1002, 'protocol error close code')
  raw.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xea]))
  await new Promise<void>((resolve) => raw.once('close', () => resolve()))

  const logged = lines.find((line) => line.msg === 'websocket error, connection closing')
  t.ok(logged, 'the error is logged')
  t.equal(logged?.level, 30, 'at info level: a client fault, not a server one')
  t.type(logged?.connectionId, 'string', 'with the connection id')
  await app.publish('news', 'after')
  t.equal((await bystander.nextOfType('message')).data, 'after', 'the other connection is unaffected')
})
