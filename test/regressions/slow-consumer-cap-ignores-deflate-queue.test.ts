// Issue 10 review: with perMessageDeflate on, published frames wait in ws' deflate queue
// before they reach the TCP socket, and the slow-consumer cap read only the TCP socket: one
// burst queued 5.8 MB past a 1 MB cap. The cap now counts what ws holds as well.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { startServer } from '../helpers/server.js'

const FRAMES = 100
// Incompressible, so deflating does not shrink the burst below the cap.
const payload = (): string => randomBytes(48 * 1024).toString('base64')

async function stalledSubscriber (connect: Awaited<ReturnType<typeof startServer>>['connect']) {
  const client = await connect({ perMessageDeflate: true })
  await client.subscribe('burst')
  ;(client.socket as unknown as { _socket: Socket })._socket.pause()
  return client
}

t.test('policy close: one burst past the cap closes a client that does not read, with deflate on', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { perMessageDeflate: true, closeGracePeriod: 200 } })
  const client = await stalledSubscriber(connect)
  const [connection] = [...app.realtime.connections()]
  const closed = once(connection!.socket, 'close')

  await Promise.all(Array.from({ length: FRAMES }, () => app.publish('burst', payload())))
  t.equal(app.realtime.stats().slowConsumersClosed, 1, 'closed by the cap during the burst')
  await closed
  t.equal(app.realtime.connectionCount, 0)
  client.socket.terminate()
})

t.test('policy drop: frames past the cap are skipped while they wait to be deflated', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { perMessageDeflate: true, slowConsumer: { policy: 'drop' } } })
  const client = await stalledSubscriber(connect)
  t.teardown(() => client.socket.terminate())

  await Promise.all(Array.from({ length: FRAMES }, () => app.publish('burst', payload())))
  const { slowConsumerDrops, messagesOut } = app.realtime.stats()
  t.ok(slowConsumerDrops >= FRAMES - 25, `most of the burst is skipped (${slowConsumerDrops} of ${FRAMES})`)
  t.ok(messagesOut < 25, `at most the cap's worth was queued (${messagesOut} frames)`)
})
