// Pipelined subscribe/unsubscribe requests of one connection and channel take effect and
// are answered in request order, even while the broker is slow or failing.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { MemoryBroker } from '../lib/brokers/memory-broker.js'
import { ErrorCode } from '../lib/errors.js'
import { startServer } from './helpers/server.js'
import type { TestClient } from './helpers/ws-client.js'

/** The embedded broker, but each subscribe waits until the test settles it. */
class HeldBroker extends MemoryBroker {
  readonly held: Array<{ release: () => void, fail: (err: Error) => void }> = []
  #waiting: (() => void) | undefined

  override async subscribe (channel: string): Promise<void> {
    await super.subscribe(channel)
    if (channel.startsWith('!')) return
    await new Promise<void>((resolve, reject) => {
      this.held.push({ release: resolve, fail: reject })
      this.#waiting?.()
    })
  }

  /** Resolves once `count` subscribes are being held. */
  async holding (count: number): Promise<void> {
    while (this.held.length < count) await new Promise<void>((resolve) => { this.#waiting = resolve })
  }
}

/** Sends subscribe s1, unsubscribe u1, subscribe s2 on channel x while s1's broker subscribe is held. */
async function subscribeUnsubscribeSubscribe (t: Test): Promise<{ broker: HeldBroker, app: FastifyInstance, client: TestClient }> {
  const broker = new HeldBroker()
  const { connect, app } = await startServer(t, { plugin: { broker } })
  const client = await connect()
  client.send({ type: 'subscribe', channel: 'x', id: 's1' })
  client.send({ type: 'unsubscribe', channel: 'x', id: 'u1' })
  client.send({ type: 'subscribe', channel: 'x', id: 's2' })
  await broker.holding(1)
  return { broker, app, client }
}

t.test('subscribe then unsubscribe sent together: answered in order, and not subscribed at the end', async (t) => {
  const broker = new HeldBroker()
  const { connect, app } = await startServer(t, { plugin: { broker } })
  const client = await connect()
  client.send({ type: 'subscribe', channel: 'x', id: 's1' })
  client.send({ type: 'unsubscribe', channel: 'x', id: 'u1' })
  await broker.holding(1)
  broker.held[0]!.release()
  await client.next((f) => f.id === 'u1')
  t.same(client.seen((f) => f.id === 's1' || f.id === 'u1').map((f) => `${f.type}:${f.id}`), ['subscribed:s1', 'unsubscribed:u1'])
  t.equal(app.realtime.subscriberCount('x'), 0)
})

t.test('a failed subscribe does not undo a later subscribe to the same channel', async (t) => {
  const { broker, app, client } = await subscribeUnsubscribeSubscribe(t)
  broker.held[0]!.fail(new Error('redis went away'))
  t.match(await client.next((f) => f.id === 's1'), { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE })
  t.match(await client.next((f) => f.id === 'u1'), { type: 'unsubscribed' })
  await broker.holding(2)
  broker.held[1]!.release()
  t.match(await client.next((f) => f.id === 's2'), { type: 'subscribed', channel: 'x' })
  t.equal(app.realtime.subscriberCount('x'), 1, 'the later subscription holds')
  await app.publish('x', 'delivered')
  t.equal((await client.nextOfType('message')).data, 'delivered')
})

t.test('a connection that closes while its subscribe waits is not left in the channel', async (t) => {
  const { broker, app, client } = await subscribeUnsubscribeSubscribe(t)
  const serverSide = app.realtime.connection(client.welcome.connectionId)!.socket
  const gone = new Promise<void>((resolve) => serverSide.once('close', () => setImmediate(resolve)))
  await client.close()
  await gone
  broker.held[0]!.release()
  // s2 would run after u1; give the queued operations a chance to (wrongly) re-add it.
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(app.realtime.subscriberCount('x'), 0)
  t.same(app.realtime.channels(), [])
})
