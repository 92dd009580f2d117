// Presence of this node's connections: who joined which channel with presence, written to
// the broker (memory or Redis) and announced in coalesced `presence_diff` frames. One timer
// refreshes every member of this node each heartbeat interval; in Redis a member expires
// PRESENCE_TTL_INTERVALS intervals after its node last refreshed it, so the members of a
// node that died are gone from every list within that time.
import type { FastifyBaseLogger } from 'fastify'
import type { Broker, BrokerPresence, PresenceMember, PresenceStats } from '../brokers/broker.js'
import type { Connection } from '../connection.js'
import { ErrorCode, RealtimeError } from '../errors.js'
import type { PresenceInfoFunction, PresenceOptions } from '../options.js'
import { isValidChannel, type PresenceUser } from '../protocol.js'
import { PresenceEvents } from './presence-events.js'
import { groupByUser } from './presence-frames.js'
import { checkSentInfo, derivedInfo } from './presence-info.js'
import type { PresenceRule, PresenceRules } from './presence-rules.js'

/** A member's entry lives this many heartbeat intervals after its node last refreshed it. */
export const PRESENCE_TTL_INTERVALS = 3

export interface PresenceSettings {
  nodeId: string
  heartbeatInterval: number
  options: PresenceOptions
  presenceInfo: PresenceInfoFunction | undefined
  /** The connection's user id, or undefined for anonymous connections. */
  userIdOf: (connection: Connection) => string | undefined
}

export class Presence {
  readonly #settings: PresenceSettings
  readonly #rules: PresenceRules
  readonly #store: BrokerPresence
  readonly #events: PresenceEvents
  readonly #log: FastifyBaseLogger
  /** This node's members: channel -> connection id -> member. */
  readonly #members = new Map<string, Map<string, PresenceMember>>()
  /** Broker writes still running, awaited at stop. */
  readonly #writes = new Set<Promise<void>>()
  /** Reads running now, per channel, shared by the requests that arrive meanwhile. */
  readonly #memberReads = new Map<string, Promise<PresenceUser[]>>()
  readonly #statsReads = new Map<string, Promise<PresenceStats>>()
  readonly ttl: number
  #timer: NodeJS.Timeout | undefined

  constructor (settings: PresenceSettings, rules: PresenceRules, broker: Broker, log: FastifyBaseLogger) {
    if (broker.presence === undefined) {
      throw new TypeError('fastify-realtime: a channel rule asks for presence, and the broker has none (MemoryBroker, RedisBroker and ClusterBroker have it)')
    }
    this.#settings = settings
    this.#rules = rules
    this.#store = broker.presence
    this.#log = log
    this.ttl = settings.heartbeatInterval * PRESENCE_TTL_INTERVALS
    this.#events = new PresenceEvents({
      window: settings.options.eventWindow,
      maxPerFrame: settings.options.maxEventsPerFrame,
      publish: (channel, frame) => broker.publish(channel, frame),
      log
    })
  }

  /** `presence_diff` frames this node published. */
  get diffsPublished (): number {
    return this.#events.published
  }

  ruleFor (channel: string): PresenceRule | undefined {
    return this.#rules.ruleFor(channel)
  }

  /**
   * The info a subscribe to `channel` joins with: the info the client sent, checked, or else
   * the `presenceInfo` option's. Throws `invalid_message` before anything is subscribed.
   */
  infoFor (connection: Connection, channel: string, sent: unknown): unknown {
    const rule = this.#rules.ruleFor(channel)
    if (sent !== undefined) return checkSentInfo(rule, sent, this.#settings.options.maxInfoBytes)
    if (rule === undefined) return undefined
    return derivedInfo(this.#settings.presenceInfo, connection, this.#settings.options.maxInfoBytes)
  }

  /** Lists `connection` in `channel` once it is subscribed there. Broker failures are logged: the next refresh writes it again. */
  async join (connection: Connection, channel: string, info: unknown): Promise<void> {
    const rule = this.#rules.ruleFor(channel)
    // A connection that left (or closed) while its subscribe waited must not come back as a ghost.
    if (rule === undefined || !connection.channels.has(channel)) return
    let local = this.#members.get(channel)
    if (local === undefined) {
      local = new Map()
      this.#members.set(channel, local)
    }
    if (local.has(connection.id)) return
    const member: PresenceMember = {
      userId: this.#settings.userIdOf(connection) ?? connection.id,
      connectionId: connection.id,
      nodeId: this.#settings.nodeId
    }
    if (info !== undefined) member.info = info
    local.set(connection.id, member)
    if (rule.events) this.#events.joined(channel, member)
    await this.#track(this.#store.add(channel, [member], this.ttl).then((expired) => this.#announceExpired(channel, expired)), channel)
  }

  /** Takes `connection` off `channel`'s list (unsubscribe or disconnect). */
  leave (connection: Connection, channel: string): void {
    const local = this.#members.get(channel)
    const member = local?.get(connection.id)
    if (local === undefined || member === undefined) return
    local.delete(connection.id)
    if (local.size === 0) this.#members.delete(channel)
    if (this.#rules.ruleFor(channel)?.events === true) this.#events.left(channel, member)
    this.#track(this.#store.remove(channel, [member]), channel).catch(() => {})
  }

  /**
   * Every member of `channel` on every node, grouped per user. Requests for one channel
   * that arrive while one is running share its answer: a crowd asking at once (a big room
   * reconnecting) costs one broker read.
   */
  async members (channel: string): Promise<PresenceUser[]> {
    this.#assertEnabled(channel)
    return await this.#shared(this.#memberReads, channel, async () => groupByUser(await this.#store.members(channel)))
  }

  async stats (channel: string): Promise<PresenceStats> {
    this.#assertEnabled(channel)
    return await this.#shared(this.#statsReads, channel, () => this.#store.stats(channel))
  }

  /** Removes what a previous run of this node id left behind, then starts refreshing. */
  async start (): Promise<void> {
    try {
      await this.#store.removeNode(this.#settings.nodeId)
    } catch (err) {
      this.#log.warn({ err }, 'presence: members of an earlier run of this node not removed; they expire on their own')
    }
    this.#timer = setInterval(this.#refresh, this.#settings.heartbeatInterval)
    this.#timer.unref()
  }

  /** Stops refreshing, sends the last events, and removes whatever members of this node remain. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    // The leaves of the connections app.close() just closed reach the other nodes first.
    await Promise.all([this.#events.stop(), Promise.allSettled([...this.#writes])])
    this.#members.clear()
    try {
      await this.#store.removeNode(this.#settings.nodeId)
    } catch (err) {
      this.#log.warn({ err }, 'presence: members of this node not removed at close; they expire on their own')
    }
  }

  /** Writes every member of this node again, which also brings back members a Redis restart lost. */
  readonly #refresh = (): void => {
    for (const [channel, local] of this.#members) {
      this.#track(this.#store.add(channel, [...local.values()], this.ttl).then((expired) => this.#announceExpired(channel, expired)), channel).catch(() => {})
    }
  }

  /** Members whose node stopped refreshing them: announce them as leaves. */
  #announceExpired (channel: string, expired: PresenceMember[]): void {
    if (expired.length === 0 || this.#rules.ruleFor(channel)?.events !== true) return
    for (const member of expired) this.#events.left(channel, member)
  }

  #assertEnabled (channel: string): void {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid channel name ${JSON.stringify(channel)}`)
    if (this.#rules.ruleFor(channel) === undefined) throw new RealtimeError(ErrorCode.PRESENCE_DISABLED, `Presence is not enabled for channel ${channel}`)
  }

  #shared<T> (reads: Map<string, Promise<T>>, channel: string, read: () => Promise<T>): Promise<T> {
    let running = reads.get(channel)
    if (running === undefined) {
      running = read()
      reads.set(channel, running)
      const done = (): void => { reads.delete(channel) }
      running.then(done, done)
    }
    return running
  }

  async #track (write: Promise<void>, channel: string): Promise<void> {
    const logged = write.catch((err: unknown) => {
      // While the broker is away (it logs that once, at warn), every join, leave and refresh
      // would fail: one line each at debug, not a flood at warn.
      const level = err instanceof RealtimeError && err.code === ErrorCode.BROKER_UNAVAILABLE ? 'debug' : 'warn'
      this.#log[level]({ err, channel }, 'presence write failed; the next refresh retries it')
    })
    this.#writes.add(logged)
    try {
      await logged
    } finally {
      this.#writes.delete(logged)
    }
  }
}
