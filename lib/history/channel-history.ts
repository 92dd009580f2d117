// The plugin side of channel history: which channels keep it, publishing into it, reading it
// for `app.realtime.history()`, and a subscriber's join with recovery: take the channel,
// hold its live frames, read what was missed, answer `subscribed`, replay, then release the
// held frames above the replay, all before the subscriber joins the live fan-out.
import type { Broker, HistoryLimits, HistoryPage, HistoryStore, StreamPosition } from '../brokers/broker.js'
import type { ChannelRules } from '../channels/channel-rules.js'
import type { Connection } from '../connection.js'
import { ErrorCode, RealtimeError } from '../errors.js'
import { channelFrameHead } from '../frames.js'
import type { ChannelMessage } from '../protocol.js'
import { historyLimitsOf } from './history-rule.js'
import { LiveHold } from './live-hold.js'

export interface HistoryOptions {
  /** Only messages with a greater offset (in the current epoch). */
  since?: number
  /** At most this many; default and cap: the rule's `size`. */
  limit?: number
  /** Newest first. */
  reverse?: boolean
}

export interface HistoryResult extends StreamPosition {
  /** The messages, each with its `offset` and `epoch`, oldest first unless `reverse`. */
  messages: ChannelMessage[]
}

/** What `subscribed` adds for recovery; empty for a plain channel subscribed without `since`. */
export interface SubscribeOutcome {
  recovered?: boolean
  offset?: number
  epoch?: string
}

/** What a join needs of the runtime: the broker reference, the registry, the fan-out. */
export interface JoinSteps {
  /** Takes a broker reference to the channel; resolves once its frames reach this node. */
  subscribe: (channel: string) => Promise<void>
  /** Drops that reference. */
  release: (channel: string) => void
  /** False once the connection has closed. */
  isOpen: (connection: Connection) => boolean
  /** Adds the connection to the channel's live fan-out. */
  join: (connection: Connection, channel: string) => void
  /** Writes one frame to the connection, in order with the fan-out. */
  write: (connection: Connection, frame: string) => void
}

export class ChannelHistory {
  readonly #rules: ChannelRules
  readonly #limits: Map<unknown, HistoryLimits>
  readonly #store: HistoryStore | undefined
  /** Live frames held while subscribers' histories are read. */
  readonly live = new LiveHold()
  /** History joins under way, per connection: each holds a subscription slot until it enters the registry or fails. */
  readonly #joining = new WeakMap<Connection, number>()

  /** Throws (failing `register`) on a bad `history` rule or a broker that keeps none. */
  constructor (rules: ChannelRules, broker: Broker) {
    this.#rules = rules
    this.#limits = historyLimitsOf(rules.rules)
    if (this.#limits.size > 0 && broker.history === undefined) {
      throw new TypeError('fastify-realtime: a channel rule asks for history, but the broker has no history capability (use the embedded or the Redis broker)')
    }
    this.#store = broker.history
  }

  /** How many history joins of `connection` are under way (counted against its subscription limit). */
  joining (connection: Connection): number {
    return this.#joining.get(connection) ?? 0
  }

  /** The history limits of `channel`, or undefined when it keeps none. */
  limitsFor (channel: string): HistoryLimits | undefined {
    if (this.#limits.size === 0) return undefined
    const rule = this.#rules.ruleFor(channel)
    return rule === undefined ? undefined : this.#limits.get(rule)
  }

  /** Publishes `data` with the channel's next offset; the frame is serialized once. */
  async publish (channel: string, data: unknown, limits: HistoryLimits): Promise<void> {
    await this.#store!.publish(channel, channelFrameHead(channel, data, Date.now()), limits)
  }

  async read (channel: string, options: HistoryOptions = {}): Promise<HistoryResult> {
    const limits = this.limitsFor(channel)
    if (limits === undefined) throw new RealtimeError(ErrorCode.NO_HISTORY, `Channel ${JSON.stringify(channel)} keeps no history (no channel rule with history matches it)`)
    const { since, limit, reverse } = checkOptions(options)
    const page = await this.#store!.read(channel, { since, limit: Math.min(limit ?? limits.size, limits.size), reverse }, limits)
    return {
      offset: page.offset,
      epoch: page.epoch,
      messages: page.entries.map((entry) => JSON.parse(entry.frame) as ChannelMessage)
    }
  }

  /**
   * Answers a subscribe of a connection that already holds the channel: where the stream stands.
   * Nothing is replayed to a member, so a `since` below the current offset is not recovered:
   * the frames it lacks may have been dropped for it (slow-consumer policy `drop`).
   */
  async answerMember (channel: string, since: StreamPosition | undefined, answer?: (outcome: SubscribeOutcome) => void): Promise<void> {
    const { offset, epoch } = await this.read(channel, { limit: 1, reverse: true })
    if (since === undefined) answer?.({ offset, epoch })
    else answer?.({ recovered: since.epoch === epoch && since.offset === offset, offset, epoch })
  }

  /**
   * Joins `connection` to a history channel, resuming after `since` when it can. `answer`
   * receives the `subscribed` fields before any replayed frame is written. The join counts in
   * `joining()` from this call (synchronously) until it enters the registry or fails.
   */
  async join (
    connection: Connection, channel: string, limits: HistoryLimits, since: StreamPosition | undefined,
    steps: JoinSteps, answer?: (outcome: SubscribeOutcome) => void
  ): Promise<void> {
    this.#joining.set(connection, this.joining(connection) + 1)
    let counted = true
    const uncount = (): void => {
      if (!counted) return
      counted = false
      const left = this.joining(connection) - 1
      if (left === 0) this.#joining.delete(connection)
      else this.#joining.set(connection, left)
    }
    try {
      await this.#join(connection, channel, limits, since, steps, answer, uncount)
    } finally {
      uncount()
    }
  }

  async #join (
    connection: Connection, channel: string, limits: HistoryLimits, since: StreamPosition | undefined,
    steps: JoinSteps, answer: ((outcome: SubscribeOutcome) => void) | undefined, uncount: () => void
  ): Promise<void> {
    const held = this.live.begin(channel)
    let page: HistoryPage
    try {
      await steps.subscribe(channel)
    } catch (err) {
      this.live.end(held, Infinity)
      throw err
    }
    try {
      // Without `since` only the position is needed. A replay is at most `size` messages:
      // more than that missing cannot be filled anyway.
      page = await this.#store!.read(channel, { since: since?.offset, limit: since === undefined ? 0 : limits.size, caughtUp: true }, limits)
    } catch (err) {
      this.live.end(held, Infinity)
      steps.release(channel)
      throw err
    }
    const recovered = since === undefined ? undefined : canRecover(since, page)
    const replayed = recovered === true ? page.entries : []
    const top = page.offset
    const fresh = this.live.end(held, top)
    if (!steps.isOpen(connection)) {
      steps.release(channel)
      return
    }
    // In the same synchronous step: the slot moves from `joining` to the registry.
    uncount()
    steps.join(connection, channel)
    answer?.(recovered === undefined ? { offset: top, epoch: page.epoch } : { recovered, offset: top, epoch: page.epoch })
    for (const entry of replayed) steps.write(connection, entry.frame)
    for (const frame of fresh) steps.write(connection, frame)
  }
}

/** True when every message after `since` is still kept: same epoch, nothing trimmed in between. */
function canRecover (since: StreamPosition, page: HistoryPage): boolean {
  if (since.epoch !== page.epoch || since.offset > page.offset) return false
  const missing = page.offset - since.offset
  return missing === 0 || (page.earliest <= since.offset + 1 && page.entries.length === missing)
}

function checkOptions (options: HistoryOptions): HistoryOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('fastify-realtime: history options must be an object')
  const { since, limit, reverse } = options
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new TypeError('fastify-realtime: history since must be an offset (an integer >= 0)')
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new TypeError('fastify-realtime: history limit must be a positive integer')
  if (reverse !== undefined && typeof reverse !== 'boolean') throw new TypeError('fastify-realtime: history reverse must be a boolean')
  return { since, limit, reverse }
}
