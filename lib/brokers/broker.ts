// The one interface every broker implements. Everything the plugin delivers goes through
// a broker, so the delivery rules hold the same way on one node and on many. Brokers move
// already-serialized frames: a publish is serialized once, whatever the number of nodes.
import type { FastifyBaseLogger } from 'fastify'

export type BrokerState = 'starting' | 'ready' | 'unavailable' | 'closed'

/** Called for every frame the broker delivers to this node. */
export type BrokerListener = (channel: string, frame: string) => void

export interface BrokerContext {
  /** Receives every frame published on a channel this node is subscribed to. */
  onMessage: BrokerListener
  log: FastifyBaseLogger
  /** This node's id, carried in every envelope a cross-node broker sends. */
  nodeId: string
  /**
   * Turns data that reaches the broker from outside the plugin (a device's MQTT message, see
   * the MQTT bridge) into a channel frame, checked as the server's own publish would be
   * (channel name, the channel rule's schema); undefined when it is refused (and logged).
   */
  ingest?: (channel: string, data: unknown) => string | undefined
}

export interface Broker {
  readonly state: BrokerState
  /** Connects; resolves once publish and subscribe work. */
  start (context: BrokerContext): Promise<void>
  /**
   * Sends `frame` to every node subscribed to `channel`, this one included: a node
   * never delivers its own publishes on the side, so each subscriber gets each frame once
   * and in the broker's order. Rejects with `RealtimeError('broker_unavailable')` when
   * the frame cannot be sent.
   */
  publish (channel: string, frame: string): Promise<void>
  /**
   * Takes one reference to `channel`. Resolves once frames of the channel reach this node
   * (for Redis: the SUBSCRIBE is acknowledged). The reference is taken even if it rejects
   * (`broker_unavailable`): the caller drops it with `unsubscribe`, or keeps it and the
   * broker subscribes when it reconnects.
   */
  subscribe (channel: string): Promise<void>
  /**
   * Drops one reference; the last one ends this node's interest in `channel`. Never rejects
   * for a lost connection: the interest is gone either way.
   */
  unsubscribe (channel: string): Promise<void>
  /** Releases what the broker opened; never closes a connection the user owns. */
  close (): Promise<void>
}

/** Internal channel that carries `app.broadcast()` and chat; not a valid user channel name. */
export const BROADCAST_CHANNEL = '!broadcast'
