// Joining and leaving channels: a connection's subscribe (token or `authorize`, the
// subscription limit, presence info, history recovery) and unsubscribe, run in request order
// per connection and channel, and the broker reference each channel holds while it has members.
import type { FastifyBaseLogger } from 'fastify'
import type { Authorization } from './authorization.js'
import type { Broker, StreamPosition } from './brokers/broker.js'
import type { ChannelRegistry } from './channel-registry.js'
import type { Connection } from './connection.js'
import { ErrorCode, RealtimeError } from './errors.js'
import type { FanOut } from './fanout.js'
import type { ChannelHistory, JoinSteps, SubscribeOutcome } from './history/channel-history.js'
import type { LifecycleHooks } from './hooks/lifecycle-hooks.js'
import type { Presence } from './presence/presence.js'
import { isValidChannel } from './protocol.js'
import type { RealtimeSettings } from './realtime-types.js'

export interface MembershipParts {
  settings: Pick<RealtimeSettings, 'subscriptionTokens' | 'maxSubscriptionsPerConnection'>
  registry: ChannelRegistry
  broker: Broker
  history: ChannelHistory
  /** Only when a channel rule asks for presence. */
  presence: Presence | undefined
  hooks: LifecycleHooks
  authorization: Authorization
  fanOut: FanOut
  log: FastifyBaseLogger
  /** False once the connection has closed. */
  isOpen: (connection: Connection) => boolean
}

function ignore (): void {}

export class ChannelMembership {
  readonly #settings: MembershipParts['settings']
  readonly #registry: ChannelRegistry
  readonly #broker: Broker
  readonly #history: ChannelHistory
  readonly #presence: Presence | undefined
  readonly #hooks: LifecycleHooks
  readonly #authorization: Authorization
  readonly #fanOut: FanOut
  readonly #log: FastifyBaseLogger
  readonly #isOpen: (connection: Connection) => boolean
  /** Channel operations still running, per connection and channel: each waits for the one before. */
  readonly #channelOperations = new WeakMap<Connection, Map<string, Promise<void>>>()

  constructor (parts: MembershipParts) {
    this.#settings = parts.settings
    this.#registry = parts.registry
    this.#broker = parts.broker
    this.#history = parts.history
    this.#presence = parts.presence
    this.#hooks = parts.hooks
    this.#authorization = parts.authorization
    this.#fanOut = parts.fanOut
    this.#log = parts.log
    this.#isOpen = parts.isOpen
  }

  /**
   * The server's subscribe (`app.realtime.subscribe()`): no authorization, no limit.
   * Resolves once frames of the channel reach this node.
   */
  async subscribe (connection: Connection, channel: string): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    const info = this.#presence?.infoFor(connection, channel, undefined)
    await this.#inOrder(connection, channel, () => this.#join(connection, channel, undefined, undefined, info))
  }

  /**
   * A client's subscribe: namespace rules, `authorize` (or the subscription `token` instead),
   * then the subscription limit. `answer` gets the fields of `subscribed` (recovery,
   * position) before any replayed message is sent; `sentInfo` is the presence info sent.
   */
  async subscribeFrom (connection: Connection, channel: string, since?: StreamPosition, answer?: (outcome: SubscribeOutcome) => void, sentInfo?: unknown, token?: string): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    // Presence info is checked before anything is subscribed (`invalid_message`).
    const info = this.#presence === undefined
      ? refuseInfo(sentInfo)
      : this.#presence.infoFor(connection, channel, sentInfo)
    // Inside the in-order queue, so a pipelined unsubscribe cannot overtake a subscribe
    // that is still being authorized.
    await this.#inOrder(connection, channel, async () => {
      const granted = token === undefined ? false : this.#checkSubscriptionToken(connection, channel, token)
      await this.#authorization.check(connection, channel, 'subscribe', granted)
      // Checked in the same synchronous step as #join's registry add (plain channel) or as
      // the history join's count of joins under way, so pipelined subscribes cannot overshoot.
      const limit = this.#settings.maxSubscriptionsPerConnection
      if (connection.channels.size + this.#history.joining(connection) >= limit && !connection.channels.has(channel)) {
        throw new RealtimeError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `At most ${limit} subscriptions per connection`)
      }
      await this.#join(connection, channel, since, answer, info)
    })
  }

  async unsubscribe (connection: Connection, channel: string): Promise<void> {
    await this.#inOrder(connection, channel, async () => {
      if (!this.#registry.remove(connection, channel)) return
      this.#presence?.leave(connection, channel)
      if (this.#hooks.unsubscribe.length !== 0) this.#hooks.notify(this.#hooks.unsubscribe, connection, channel)
      await this.#broker.unsubscribe(channel)
    })
  }

  /** A closed connection leaves every channel it was in. */
  leaveAll (connection: Connection): void {
    for (const channel of this.#registry.removeAll(connection)) {
      this.#presence?.leave(connection, channel)
      this.#releaseChannel(channel)
    }
  }

  /** True when `token` grants this connection's user `channel`; throws `invalid_token` otherwise. */
  #checkSubscriptionToken (connection: Connection, channel: string, token: string): true {
    const tokens = this.#settings.subscriptionTokens
    const refusal = tokens === undefined
      ? 'subscription tokens are not enabled on this server'
      : tokens.refusal(token, this.#authorization.userIdOf(connection.user), channel, Date.now())
    if (refusal === undefined) return true
    connection.log.debug({ channel, reason: refusal }, 'subscription token refused')
    throw new RealtimeError(ErrorCode.INVALID_TOKEN, refusal)
  }

  async #join (connection: Connection, channel: string, since: StreamPosition | undefined, answer?: (outcome: SubscribeOutcome) => void, info?: unknown): Promise<void> {
    // A connection that closed while this waited its turn must not re-enter the registry.
    if (!this.#isOpen(connection)) return
    const history = this.#history.limitsFor(channel)
    if (history !== undefined) {
      // Already a member: operations run in order, so it has every message since it joined.
      if (connection.channels.has(channel)) await this.#history.answerMember(channel, since, answer)
      else {
        await this.#history.join(connection, channel, history, since, this.#joinSteps, answer)
        // After `subscribed` here: a replay must follow the answer, and may not wait for presence.
        await this.#presence?.join(connection, channel, info)
      }
      return
    }
    // Without history nothing can be recovered (documented): the client reloads what it needs.
    const outcome = since === undefined ? {} : { recovered: false }
    // Already a member: operations run in order, so its subscription is live.
    if (!this.#registry.add(connection, channel)) {
      answer?.(outcome)
      return
    }
    try {
      await this.#broker.subscribe(channel)
    } catch (err) {
      // The broker holds a reference even when it fails; drop it unless a disconnect already did.
      if (this.#registry.remove(connection, channel)) this.#releaseChannel(channel)
      throw err instanceof RealtimeError ? err : new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
    // Listed before `subscribed` is answered: a presence request after it includes this connection.
    await this.#presence?.join(connection, channel, info)
    if (this.#hooks.subscribe.length !== 0) this.#hooks.notify(this.#hooks.subscribe, connection, channel)
    answer?.(outcome)
  }

  /** A history join takes the broker reference first and enters the registry last. */
  readonly #joinSteps: JoinSteps = {
    subscribe: async (channel) => {
      try {
        await this.#broker.subscribe(channel)
      } catch (err) {
        this.#releaseChannel(channel)
        throw err instanceof RealtimeError ? err : new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
      }
    },
    release: (channel) => this.#releaseChannel(channel),
    isOpen: (connection) => this.#isOpen(connection),
    join: (connection, channel) => {
      this.#registry.add(connection, channel)
      if (this.#hooks.subscribe.length !== 0) this.#hooks.notify(this.#hooks.subscribe, connection, channel)
    },
    write: (connection, frame) => { this.#fanOut.send(frame, [connection]) }
  }

  /**
   * Runs `operation` after the previous operation of the same connection and channel has
   * settled, so pipelined subscribe/unsubscribe requests take effect and are answered in order.
   */
  #inOrder (connection: Connection, channel: string, operation: () => Promise<void>): Promise<void> {
    let queue = this.#channelOperations.get(connection)
    if (queue === undefined) {
      queue = new Map()
      this.#channelOperations.set(connection, queue)
    }
    const previous = queue.get(channel)
    const result = previous === undefined ? operation() : previous.then(operation)
    const settled = result.then(ignore, ignore)
    queue.set(channel, settled)
    settled.then(() => { if (queue.get(channel) === settled) queue.delete(channel) }, ignore)
    return result
  }

  #releaseChannel (channel: string): void {
    this.#broker.unsubscribe(channel).catch((err: unknown) => {
      this.#log.warn({ err, channel }, 'broker unsubscribe failed')
    })
  }
}

/** Without presence, no channel takes presence info. */
function refuseInfo (sent: unknown): undefined {
  if (sent !== undefined) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, 'This channel takes no presence info', [{ path: '/info', message: 'not accepted for this channel' }])
  }
  return undefined
}
