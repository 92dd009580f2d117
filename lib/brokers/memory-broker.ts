// The default broker: one process, no network. Delivery is synchronous, so order is the
// order of publish calls and nothing can be lost between publish and delivery.
import { RealtimeError, ErrorCode } from '../errors.js'
import type { Broker, BrokerContext, BrokerState, BrokerListener } from './broker.js'
import { ChannelInterest } from './channel-interest.js'
import { MemoryHistory } from './memory-history.js'
import { MemoryPresence } from './memory-presence.js'

export class MemoryBroker implements Broker {
  #state: BrokerState = 'starting'
  #onMessage: BrokerListener | undefined
  readonly #interest = new ChannelInterest()
  /** Channel history: a ring per channel, in this process (a restart starts new epochs). */
  readonly history = new MemoryHistory({
    assertReady: () => this.#assertReady(),
    deliver: (channel, frame) => { if (this.#interest.has(channel)) this.#onMessage!(channel, frame) }
  })

  readonly presence = new MemoryPresence()

  get state (): BrokerState {
    return this.#state
  }

  async start (context: BrokerContext): Promise<void> {
    this.#onMessage = context.onMessage
    this.#state = 'ready'
  }

  async publish (channel: string, frame: string): Promise<void> {
    this.#assertReady()
    if (this.#interest.has(channel)) this.#onMessage!(channel, frame)
  }

  async subscribe (channel: string): Promise<void> {
    this.#interest.add(channel)
  }

  async unsubscribe (channel: string): Promise<void> {
    this.#interest.remove(channel)
  }

  async close (): Promise<void> {
    this.#state = 'closed'
    this.#interest.clear()
    this.presence.clear()
    this.#onMessage = undefined
    this.history.close()
  }

  #assertReady (): void {
    if (this.#state !== 'ready' || this.#onMessage === undefined) {
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, `Broker is ${this.#state}`)
    }
  }
}
