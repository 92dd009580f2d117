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
  /**
   * Optional capability: channel history with offsets and epochs (channel rules with
   * `history`). A broker without it cannot serve such rules: `register` fails.
   */
  readonly history?: HistoryStore
}

/** Where a channel's stream stands: the offset of its latest message and its epoch. */
export interface StreamPosition {
  /** 1, 2, 3, ... per channel; 0 before the first message. */
  offset: number
  /** Changes whenever the channel's stream is lost or reset (restart, eviction). */
  epoch: string
}

/** How long and how much a channel keeps: the `history` of its rule. */
export interface HistoryLimits {
  /** Messages kept. */
  size: number
  /** Milliseconds without a publish after which the messages are dropped. */
  ttl: number
  /** Milliseconds the position (epoch and top offset) outlives the messages. */
  positionTtl: number
}

export interface HistoryQuery {
  /** Only messages with a greater offset. */
  since?: number
  /** At most this many messages. */
  limit: number
  /** Newest first. */
  reverse?: boolean
  /**
   * Resolve only once every message up to the returned offset that this node will receive
   * has been delivered to `onMessage`: a joining subscriber then tells replayed frames from
   * live ones by offset alone.
   */
  caughtUp?: boolean
}

export interface HistoryEntry {
  offset: number
  /** The frame exactly as it was fanned out, offset and epoch included. */
  frame: string
}

export interface HistoryPage extends StreamPosition {
  /** Offset of the oldest message still kept; `offset + 1` when none is. */
  earliest: number
  entries: HistoryEntry[]
}

export interface HistoryStore {
  /**
   * Gives the message the channel's next offset, keeps it and publishes it like `publish`,
   * as one step: every node sees the same offsets in the same order. `frameHead` is the frame
   * without its closing `}`; the store appends `,"offset":N,"epoch":"E"}`.
   */
  publish (channel: string, frameHead: string, limits: HistoryLimits): Promise<void>
  /** The channel's position and the kept messages `query` asks for (creating the position if none). */
  read (channel: string, query: HistoryQuery, limits: HistoryLimits): Promise<HistoryPage>
}

/** Internal channel that carries `app.broadcast()` and chat; not a valid user channel name. */
export const BROADCAST_CHANNEL = '!broadcast'
