// A broker that cannot take work: clients get broker_unavailable with their request id, and
// nothing is left half-subscribed.
import t from 'tap'
import { MemoryBroker } from '../../lib/brokers/memory-broker.js'
import { ErrorCode, RealtimeError } from '../../lib/errors.js'
import Fastify from 'fastify'
import realtime from '../../lib/index.js'
import { startServer } from '../helpers/server.js'

/** The embedded broker, with channels named `down-*` failing like an unreachable Redis. */
class PartlyDownBroker extends MemoryBroker {
  override async subscribe (channel: string): Promise<void> {
    await super.subscribe(channel)
    if (channel.startsWith('down-')) throw new Error('connection refused')
  }

  override async publish (channel: string, frame: string): Promise<void> {
    if (channel.startsWith('down-')) throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, 'Redis is unreachable')
    await super.publish(channel, frame)
  }
}

t.test('a failed broker subscription answers broker_unavailable and holds nothing', async (t) => {
  const { connect, app } = await startServer(t, { plugin: { broker: new PartlyDownBroker() } })
  const client = await connect()
  const first = client.request({ type: 'subscribe', channel: 'down-1' }, 'a')
  const repeated = client.request({ type: 'subscribe', channel: 'down-1' }, 'b')
  t.match(await first, { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, id: 'a' })
  t.match(await repeated, { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, id: 'b' }, 'a repeat waits for the same outcome')
  t.equal(app.realtime.subscriberCount('down-1'), 0)
  t.same(app.realtime.channels(), [])

  t.same(await client.request({ type: 'subscribe', channel: 'up' }, 'up-1'), { type: 'subscribed', channel: 'up', id: 'up-1' }, 'other channels still work')
})

t.test('a publish the broker refuses answers broker_unavailable with its id; app.publish rejects', async (t) => {
  const { connect, app } = await startServer(t, { plugin: { broker: new PartlyDownBroker() } })
  const client = await connect()
  t.same(await client.request({ type: 'publish', channel: 'down-x', data: 1 }, 'p'), {
    type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, message: 'Redis is unreachable', id: 'p'
  })
  await t.rejects(app.publish('down-x', 1), { code: ErrorCode.BROKER_UNAVAILABLE })
})

t.test('the memory broker refuses publishes once closed', async (t) => {
  const broker = new MemoryBroker()
  t.equal(broker.state, 'starting')
  await t.rejects(broker.publish('a', '{}'), { code: ErrorCode.BROKER_UNAVAILABLE })
  await broker.start({ onMessage: () => {}, log: undefined as never, nodeId: 'n' })
  await broker.close()
  t.equal(broker.state, 'closed')
  await t.rejects(broker.publish('a', '{}'), { code: ErrorCode.BROKER_UNAVAILABLE })
})

t.test('a failed start releases the broker, so nothing it opened keeps the process alive', async (t) => {
  class BroadcastRefusingBroker extends MemoryBroker {
    closed = false
    override async subscribe (channel: string): Promise<void> {
      await super.subscribe(channel)
      throw new Error('cannot subscribe the broadcast channel')
    }

    override async close (): Promise<void> {
      this.closed = true
      await super.close()
    }
  }
  const broker = new BroadcastRefusingBroker()
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(realtime, { broker })
  await t.rejects(async () => { await app.ready() }, /cannot subscribe the broadcast channel/)
  t.equal(broker.closed, true)
  t.equal(broker.state, 'closed')
})
