// A broker that cannot take work: clients get broker_unavailable with their request id, and
// nothing is left half-subscribed.
import t from 'tap'
import { MemoryBroker } from '../../lib/brokers/memory-broker.js'
import { ErrorCode, RealtimeError } from '../../lib/errors.js'
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

  t.same(await client.subscribe('up'), { type: 'subscribed', channel: 'up', id: client.received.at(-1)?.id }, 'other channels still work')
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
