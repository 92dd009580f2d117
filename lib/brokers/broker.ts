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
}

/** One subscribed connection as presence lists it. */
export interface PresenceMember {
  /** The connection's user id (the `userId` option), or its connection id when anonymous. */
  userId: string
  connectionId: string
  nodeId: string
  /** Small application data: from `presenceInfo`, or sent with the subscribe. */
  info?: unknown
}

export interface PresenceStats {
  /** Distinct user ids. */
  users: number
  connections: number
}

/**
 * Optional broker capability: who is subscribed to a channel, across every node. Members
 * are written by the node that holds their connection and expire `ttl` ms after that node
 * last wrote them, so a node that dies without a word loses its members within `ttl`.
 */
export interface BrokerPresence {
  /**
   * Adds or refreshes `members` of `channel` (all of this node), listed until removed or
   * until `ttl` ms pass without another add. Resolves with members of any node whose
   * time ran out, removed on the way (their node is gone): the caller announces them.
   */
  add (channel: string, members: readonly PresenceMember[], ttl: number): Promise<PresenceMember[]>
  /** Removes members (as they were added). */
  remove (channel: string, members: readonly PresenceMember[]): Promise<void>
  /** Every live member of `channel`, on every node. */
  members (channel: string): Promise<PresenceMember[]>
  stats (channel: string): Promise<PresenceStats>
  /** Removes every member listed by the node `nodeId`, on every channel (a previous run's, or ours at close). */
  removeNode (nodeId: string): Promise<void>
}

export interface Broker {
  readonly state: BrokerState
  /** Presence, when the broker can hold it; a channel rule with `presence` needs it. */
  readonly presence?: BrokerPresence
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
