// Issue 10 review: the fan-out checked ws' sender state and queue but not whether a
// fragmented message was in progress. While an application sent a fragmented message on
// `connection.socket` (`send(..., { fin: false })`), a published frame was written into its
// middle and the client failed with "invalid opcode" (with perMessageDeflate on, the frame
// went through `socket.send` and became one of the message's fragments instead). Every ws
// sender state that queues or splits a message is covered here, read back by a real ws client.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import type WebSocket from 'ws'
import { startServer, type StartedServer } from '../helpers/server.js'
import type { TestClient } from '../helpers/ws-client.js'

interface Setup {
  app: StartedServer['app']
  client: TestClient
  /** The server side of the client's socket, as the application sees it. */
  socket: WebSocket
  /** Every message the client decoded: `binary:<text>` for the application's, the data of a publish otherwise. */
  received: string[]
  /** Errors the client's ws raised (a broken frame sequence). */
  errors: Error[]
}

async function setup (t: Test, deflate: boolean): Promise<Setup> {
  const { app, connect } = await startServer(t, { plugin: { perMessageDeflate: deflate } })
  const client = await connect({ perMessageDeflate: deflate })
  await client.subscribe('c')
  const received: string[] = []
  const errors: Error[] = []
  client.socket.on('error', (err) => errors.push(err))
  client.socket.on('message', (data: Buffer, isBinary: boolean) => {
    received.push(isBinary ? `binary:${data.toString()}` : String((JSON.parse(data.toString()) as { data?: unknown }).data))
  })
  const socket = app.realtime.connection(client.welcome.connectionId)!.socket
  return { app, client, socket, received, errors }
}

const BINARY_PART = { binary: true, fin: false } as const
const BINARY_LAST = { binary: true, fin: true } as const

async function published (client: TestClient, data: string): Promise<void> {
  await client.next((frame) => frame.type === 'message' && frame.data === data)
}

for (const deflate of [false, true]) {
  const mode = deflate ? 'with perMessageDeflate' : 'without compression'

  t.test(`${mode}: a publish during an application's fragmented message arrives after it, intact`, async (t) => {
    const { app, client, socket, received, errors } = await setup(t, deflate)
    socket.send(Buffer.from('part one, '), BINARY_PART)
    await app.publish('c', 'during')
    socket.send(Buffer.from('part two, '), { binary: true, fin: false })
    await app.publish('c', 'during too')
    socket.send(Buffer.from('last part'), BINARY_LAST)
    await app.publish('c', 'after')
    await published(client, 'after')
    t.same(errors, [])
    t.same(received, ['binary:part one, part two, last part', 'during', 'during too', 'after'])
  })

  t.test(`${mode}: frames held during a fragmented message go out once it ends, without another publish`, async (t) => {
    const { app, client, socket, received, errors } = await setup(t, deflate)
    socket.send(Buffer.from('streamed '), BINARY_PART)
    await app.publish('c', 'held')
    // Ends the message a turn later, as an application streaming from a source would.
    await new Promise((resolve) => setImmediate(resolve))
    socket.send(Buffer.from('message'), BINARY_LAST)
    await published(client, 'held')
    t.same(errors, [])
    t.same(received, ['binary:streamed message', 'held'])
  })

  t.test(`${mode}: a message that never ends is bounded by the slow-consumer cap, and closing releases what was held`, async (t) => {
    const { app, client, socket, errors } = await setup(t, deflate)
    const serverClosed = once(socket, 'close')
    socket.send(Buffer.from('never finished'), BINARY_PART)
    const big = 'x'.repeat(300 * 1024)
    for (let i = 0; i < 10; i++) await app.publish('c', big)
    t.equal(app.realtime.stats().slowConsumersClosed, 1, 'closed once what is held passes the cap')
    t.equal((await client.closed).code, 1013)
    await serverClosed
    t.same(errors, [])
    t.equal(app.realtime.connectionCount, 0)
  })
}

for (const deflate of [false, true]) {
  t.test(`${deflate ? 'with' : 'without'} perMessageDeflate: a reply during an application's fragmented message arrives after it, in order with publishes`, async (t) => {
    const { app, client, socket, errors } = await setup(t, deflate)
    const raw: string[] = []
    client.socket.on('message', (data: Buffer, isBinary: boolean) => {
      raw.push(isBinary ? `binary:${data.toString()}` : (JSON.parse(data.toString()) as { type: string }).type)
    })
    socket.send(Buffer.from('first half, '), BINARY_PART)
    await app.publish('c', 'before the reply')
    const pong = client.nextOfType('pong')
    const pingArrived = once(socket, 'message')
    client.send({ type: 'ping', ts: 1 })
    await pingArrived
    // The built-in handler answers within the turn the frame arrived in.
    await new Promise((resolve) => setImmediate(resolve))
    socket.send(Buffer.from('second half'), BINARY_LAST)
    await pong
    t.same(errors, [])
    t.same(raw, ['binary:first half, second half', 'message', 'pong'])
  })
}

t.test('with perMessageDeflate: a publish while the application\'s message is being deflated keeps its place', async (t) => {
  const { app, client, socket, received, errors } = await setup(t, true)
  const large = 'compress me '.repeat(20_000)
  socket.send(Buffer.from(large), { binary: true })
  await app.publish('c', 'queued behind the deflate')
  socket.send(Buffer.from('second'), { binary: true })
  await app.publish('c', 'last')
  await published(client, 'last')
  t.same(errors, [])
  t.same(received, [`binary:${large}`, 'queued behind the deflate', 'binary:second', 'last'])
})

t.test('with perMessageDeflate: a publish while a fragment is being deflated waits for the whole message', async (t) => {
  const { app, client, socket, received, errors } = await setup(t, true)
  const fragment = 'fragment '.repeat(20_000)
  socket.send(Buffer.from(fragment), BINARY_PART)
  await app.publish('c', 'after the message')
  socket.send(Buffer.from('end'), BINARY_LAST)
  await published(client, 'after the message')
  t.same(errors, [])
  t.same(received, [`binary:${fragment}end`, 'after the message'])
})

t.test('without compression: a publish behind a Blob being read, during a fragmented message, keeps order', async (t) => {
  const { app, client, socket, received, errors } = await setup(t, false)
  socket.send(new Blob(['blob ']), BINARY_PART)
  await app.publish('c', 'after')
  socket.send(Buffer.from('tail'), BINARY_LAST)
  await published(client, 'after')
  t.same(errors, [])
  t.same(received, ['binary:blob tail', 'after'])
})

t.test('a socket closed while frames are held for it does not disturb the others', async (t) => {
  const { app, connect } = await startServer(t)
  const other = await connect()
  await other.subscribe('c')
  const { client, socket } = await setup(t, false)
  socket.send(Buffer.from('half'), BINARY_PART)
  await app.publish('c', 'held then dropped')
  client.socket.terminate()
  await once(socket, 'close')
  await app.publish('c', 'later')
  t.equal((await other.next((frame) => frame.data === 'later')).data, 'later')
})
