// Issue 10: with an async authorize that answered a later publish first, the publishes of one
// connection were delivered out of order, against docs/protocol.md's "frames of one connection
// are handled in arrival order". Authorizations still run side by side; deliveries keep the
// order in which the frames arrived.
import t from 'tap'
import { startServer } from '../helpers/server.js'

/** An authorize whose first publish/chat answer waits until a later one has been answered. */
function firstAnswersLast () {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let calls = 0
  return async ({ action }: { action: string }): Promise<boolean> => {
    if (action === 'subscribe') return true
    calls++
    if (calls === 1) await gate
    else setImmediate(release)
    return true
  }
}

t.test('publishes of one connection are delivered in arrival order under a slow async authorize', async (t) => {
  const { connect } = await startServer(t, { plugin: { authorize: firstAnswersLast() } })
  const subscriber = await connect()
  await subscriber.subscribe('room')
  const publisher = await connect()
  publisher.send({ type: 'publish', channel: 'room', data: 'first', id: 'p1' })
  publisher.send({ type: 'publish', channel: 'room', data: 'second', id: 'p2' })
  await publisher.next((frame) => frame.id === 'p1')
  await publisher.next((frame) => frame.id === 'p2')
  await subscriber.nextOfType('message')
  await subscriber.nextOfType('message')
  t.same(subscriber.seen((frame) => frame.type === 'message').map((frame) => frame.data), ['first', 'second'])
})

t.test('a publish and a chat line of one connection keep their order too', async (t) => {
  const { connect } = await startServer(t, { plugin: { authorize: firstAnswersLast() } })
  const subscriber = await connect()
  await subscriber.subscribe('room')
  const publisher = await connect()
  publisher.send({ type: 'publish', channel: 'room', data: 'first', id: 'p1' })
  publisher.send({ type: 'chat', content: 'second', id: 'c2' })
  await publisher.next((frame) => frame.id === 'p1')
  await publisher.next((frame) => frame.id === 'c2')
  await subscriber.nextOfType('message')
  await subscriber.nextOfType('chat')
  t.same(subscriber.seen((frame) => frame.type === 'message' || frame.type === 'chat').map((frame) => frame.type), ['message', 'chat'])
})

t.test('a refused publish does not hold back the next one', async (t) => {
  let calls = 0
  const { connect } = await startServer(t, {
    plugin: {
      authorize: async ({ action }) => {
        if (action === 'subscribe') return true
        const call = ++calls
        await new Promise((resolve) => setImmediate(resolve))
        return call !== 1
      }
    }
  })
  const subscriber = await connect()
  await subscriber.subscribe('room')
  const publisher = await connect()
  publisher.send({ type: 'publish', channel: 'room', data: 'refused', id: 'p1' })
  publisher.send({ type: 'publish', channel: 'room', data: 'allowed', id: 'p2' })
  t.match(await publisher.next((frame) => frame.id === 'p1'), { type: 'error', code: 'forbidden' })
  t.match(await publisher.next((frame) => frame.id === 'p2'), { type: 'ack' })
  t.equal((await subscriber.nextOfType('message')).data, 'allowed')
})
