// The Broker contract, run against every implementation (MemoryBroker, RedisBroker in
// both modes): the plugin's delivery rules hold whatever carries the frames.
import type { Test } from 'tap'
import Fastify from 'fastify'
import { BROADCAST_CHANNEL, type Broker } from '../../lib/brokers/broker.js'
import { ErrorCode } from '../../lib/errors.js'

export interface Delivery {
  channel: string
  frame: string
}

/** What a started broker delivered to this node, awaitable frame by frame. */
export class DeliveryLog {
  readonly deliveries: Delivery[] = []
  #waiters: Array<{ match: (d: Delivery) => boolean, resolve: (d: Delivery) => void }> = []

  readonly onMessage = (channel: string, frame: string): void => {
    const delivery = { channel, frame }
    this.deliveries.push(delivery)
    const index = this.#waiters.findIndex((waiter) => waiter.match(delivery))
    if (index !== -1) this.#waiters.splice(index, 1)[0]!.resolve(delivery)
  }

  /** The first delivery (past or future) matching `match`. */
  async wait (match: (d: Delivery) => boolean, timeoutMs = 5000): Promise<Delivery> {
    const seen = this.deliveries.find(match)
    if (seen !== undefined) return seen
    let timer: NodeJS.Timeout | undefined
    try {
      return await new Promise<Delivery>((resolve, reject) => {
        this.#waiters.push({ match, resolve })
        timer = setTimeout(() => reject(new Error('timed out waiting for a delivery')), timeoutMs)
      })
    } finally {
      clearTimeout(timer)
    }
  }

  count (frame: string): number {
    return this.deliveries.filter((d) => d.frame === frame).length
  }
}

let sequence = 0
/** A frame as the plugin would publish it, unique per call. */
export function frame (label = 'm'): string {
  return `{"type":"message","channel":"c","data":${JSON.stringify(`${label}-${++sequence}`)},"ts":1}`
}

export type CreateBroker = (t: Test) => Broker | Promise<Broker>

/**
 * Publishes a fresh frame on `channel`, then a marker on `markerChannel` (one this node
 * receives), and returns how often the frame was delivered once the marker was: both brokers
 * keep a publisher's order, so after the marker the count is final.
 */
async function deliveriesBeforeMarker (broker: Broker, log: DeliveryLog, channel: string, markerChannel: string): Promise<{ count: number, published: string }> {
  const published = frame()
  const marker = frame('marker')
  await broker.publish(channel, published)
  await broker.publish(markerChannel, marker)
  await log.wait((d) => d.frame === marker)
  return { count: log.count(published), published }
}

export async function startBroker (t: Test, create: CreateBroker, nodeId = 'node-a'): Promise<{ broker: Broker, log: DeliveryLog }> {
  const broker = await create(t)
  const log = new DeliveryLog()
  await broker.start({ onMessage: log.onMessage, log: Fastify({ logger: false }).log, nodeId })
  t.teardown(() => broker.close())
  return { broker, log }
}

export function brokerContract (t: Test, create: CreateBroker): void {
  t.test('goes from starting to ready to closed, and refuses publishes once closed', async (t) => {
    const broker = await create(t)
    t.teardown(() => broker.close())
    t.equal(broker.state, 'starting')
    await broker.start({ onMessage: () => {}, log: Fastify({ logger: false }).log, nodeId: 'n' })
    t.equal(broker.state, 'ready')
    await broker.close()
    t.equal(broker.state, 'closed')
    await t.rejects(broker.publish('a', frame()), { code: ErrorCode.BROKER_UNAVAILABLE })
  })

  t.test('delivers a publish to this node exactly once, with the frame unchanged', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.subscribe('news')
    const { count, published } = await deliveriesBeforeMarker(broker, log, 'news', 'news')
    t.equal(count, 1)
    t.same(log.deliveries[0], { channel: 'news', frame: published })
  })

  t.test('delivers nothing of a channel this node has no interest in', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.subscribe('wanted')
    t.equal((await deliveriesBeforeMarker(broker, log, 'other', 'wanted')).count, 0)
  })

  t.test('counts references: the last unsubscribe ends delivery', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.subscribe('c')
    await broker.subscribe('c')
    await broker.unsubscribe('c')
    const stillWanted = frame()
    await broker.publish('c', stillWanted)
    await log.wait((d) => d.frame === stillWanted)

    await broker.unsubscribe('c')
    await broker.subscribe('marker')
    t.equal((await deliveriesBeforeMarker(broker, log, 'c', 'marker')).count, 0)
  })

  t.test('interleaved subscribe and unsubscribe calls end in the last one\'s state', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await Promise.all([broker.subscribe('x'), broker.unsubscribe('x'), broker.subscribe('x')])
    const wanted = frame()
    await broker.publish('x', wanted)
    await log.wait((d) => d.frame === wanted)

    await Promise.all([broker.unsubscribe('x'), broker.subscribe('x'), broker.unsubscribe('x'), broker.subscribe('y')])
    t.equal((await deliveriesBeforeMarker(broker, log, 'x', 'y')).count, 0)
  })

  t.test('keeps the order of publishes', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.subscribe('ordered')
    const frames = Array.from({ length: 500 }, () => frame())
    await Promise.all(frames.map((f) => broker.publish('ordered', f)))
    await log.wait((d) => d.frame === frames.at(-1))
    t.same(log.deliveries.map((d) => d.frame), frames)
  })

  t.test('carries the broadcast channel like any other', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.subscribe(BROADCAST_CHANNEL)
    const everyone = '{"type":"broadcast","data":1,"ts":1}'
    await broker.publish(BROADCAST_CHANNEL, everyone)
    const delivery = await log.wait((d) => d.frame === everyone)
    t.equal(delivery.channel, BROADCAST_CHANNEL)
  })

  t.test('unsubscribing a channel never subscribed is harmless', async (t) => {
    const { broker, log } = await startBroker(t, create)
    await broker.unsubscribe('never')
    await broker.subscribe('never')
    const f = frame()
    await broker.publish('never', f)
    await log.wait((d) => d.frame === f)
    t.equal(log.count(f), 1)
  })
}
