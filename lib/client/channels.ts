// The channels a client holds: one subscription object per channel, the subscribe requests
// that confirm them on each connection, and what a refusal means (retry, or let go).
import { ErrorCode, RealtimeError } from '../errors.js'
import type { ChannelMessage, SubscribedMessage } from '../protocol.js'
import { backoffDelay } from './backoff.js'
import type { ClientSettings } from './options.js'
import type { Outbox } from './outbox.js'
import type { Requests } from './requests.js'
import type { QueuedFrame } from './send-queue.js'
import { ChannelSubscription } from './subscription.js'
import { ChannelPositions, type StreamPosition, type Unrecovered } from './recovery.js'

export interface ChannelsHost {
  settings: ClientSettings
  requests: Requests
  outbox: Outbox
  /** The server confirmed `channel` (the client's `subscribed` event); history channels add their position. */
  subscribed: (channel: string, answer: SubscribedMessage | undefined) => void
  /** A history channel could not be recovered (the client's `unrecovered` event). */
  unrecovered: (info: Unrecovered) => void
  /** A refusal, temporary or final (the client's `error` event). */
  error: (err: Error) => void
}

function ignore (): void {}

export class Channels {
  readonly #held = new Map<string, ChannelSubscription>()
  /** Subscription tokens (docs/sessions.md) of held channels. */
  readonly #tokens = new Map<string, string>()
  readonly #host: ChannelsHost
  /** Last position seen on each history channel, resumed from on every resubscribe. */
  readonly #positions = new ChannelPositions()
  /** Presence info sent with every subscribe of a channel (rules with a presence `info` schema). */
  readonly #info = new Map<string, unknown>()

  constructor (host: ChannelsHost) {
    this.#host = host
  }

  get names (): string[] {
    return [...this.#held.keys()]
  }

  get (channel: string): ChannelSubscription | undefined {
    return this.#held.get(channel)
  }

  /**
   * The subscription of `channel`; a new one is asked for at once when the link is open,
   * resuming after `since` when given (a position the application stored). `token`: a
   * subscription token sent with every subscribe of it from now on.
   */
  hold (channel: string, since?: StreamPosition, info?: unknown, token?: string): ChannelSubscription {
    if (token !== undefined) this.#tokens.set(channel, token)
    let subscription = this.#held.get(channel)
    if (subscription === undefined) {
      subscription = new ChannelSubscription(channel, this.#release)
      this.#held.set(channel, subscription)
      if (since !== undefined) this.#positions.set(channel, since)
      // The first holder's info counts, as the server keeps one membership per connection.
      if (info !== undefined) this.#info.set(channel, info)
      else this.#info.delete(channel)
      if (this.#host.outbox.writable) this.#host.outbox.send(this.#subscribeRequest(subscription))
    }
    return subscription
  }

  /** A new connection: one subscribe per held channel, for the front of the queue. */
  resubscribes (): QueuedFrame[] {
    return [...this.#held.values()].map((subscription) => this.#subscribeRequest(subscription))
  }

  /** The connection dropped, or the client was disconnected: every channel waits for the next one. */
  dropped (): void {
    for (const subscription of this.#held.values()) subscription.resubscribing()
  }

  /** close(): every channel ends. */
  closed (err: Error): void {
    for (const subscription of [...this.#held.values()]) subscription.ended('closed', err)
  }

  /**
   * A message of a held channel: true when it goes to the handlers. History channels drop a
   * message seen twice, and heal a gap (the server node lost messages while its own broker
   * link was down) by subscribing again from the last offset seen: the replay brings the rest.
   */
  deliver (message: ChannelMessage): boolean {
    const subscription = this.#held.get(message.channel)
    if (subscription === undefined) return true
    const verdict = this.#positions.message(message)
    if (verdict === 'gap' && this.#host.outbox.writable) {
      this.#unsubscribe(message.channel)
      this.#host.outbox.send(this.#subscribeRequest(subscription))
    }
    if (verdict !== 'deliver') return false
    subscription.deliver(message)
    return true
  }

  /** Tracks one subscribe of `subscription` and returns its frame, built when it is written. */
  #subscribeRequest (subscription: ChannelSubscription): QueuedFrame {
    const { requests, settings } = this.#host
    const { channel } = subscription
    const id = requests.nextId()
    // The position is read when the frame is written: messages received until then count.
    let since: StreamPosition | undefined
    requests.add(id, 'subscribe', settings.requestTimeout, (answer: SubscribedMessage | undefined) => {
      if (this.#held.get(channel) !== subscription) return
      const lost = answer === undefined ? undefined : this.#positions.subscribed(answer, since)
      subscription.subscribed()
      this.#host.subscribed(channel, answer)
      if (lost === undefined) return
      subscription.unrecovered(lost)
      this.#host.unrecovered(lost)
    }, (err) => this.#refused(subscription, err))
    const text = (): string => {
      since = this.#positions.since(channel)
      const info = this.#info.get(channel)
      const token = this.#tokens.get(channel)
      return JSON.stringify({
        id, type: 'subscribe', channel, ...(since !== undefined && { since }), ...(info !== undefined && { info }), ...(token !== undefined && { token })
      })
    }
    return { text, id, perConnection: true }
  }

  #refused (subscription: ChannelSubscription, err: Error): void {
    const code = err instanceof RealtimeError ? err.code : undefined
    // A dropped connection is not a refusal: the channel is resubscribed on reconnect.
    if (code === ErrorCode.DISCONNECTED || this.#held.get(subscription.channel) !== subscription) return
    // A broker outage (Redis away) passes: keep the channel and ask again; `ready` waits.
    // A slow server passes too for a channel the user already holds (confirmed before,
    // so `ready` has resolved): the user keeps it rather than losing it to one late answer.
    if (code === ErrorCode.BROKER_UNAVAILABLE || (code === ErrorCode.REQUEST_TIMEOUT && subscription.confirmed)) {
      const { backoff, random } = this.#host.settings
      const delay = backoffDelay(++subscription.retries, { ...backoff, maxAttempts: Infinity }, random) ?? 0
      subscription.failedForNow(err, () => {
        if (this.#held.get(subscription.channel) === subscription && this.#host.outbox.writable) {
          this.#host.outbox.send(this.#subscribeRequest(subscription))
        }
      }, delay)
      this.#host.error(err)
      return
    }
    // Given up on an answer that may still come: leave nothing subscribed behind the user's back.
    if (code === ErrorCode.REQUEST_TIMEOUT) this.#unsubscribe(subscription.channel)
    subscription.failed(err)
    this.#host.error(err)
  }

  /** Called by a subscription that ends; `tellServer` when the app let it go. */
  readonly #release = (subscription: ChannelSubscription, tellServer: boolean): void => {
    if (this.#held.get(subscription.channel) !== subscription) return
    this.#held.delete(subscription.channel)
    this.#tokens.delete(subscription.channel)
    this.#positions.forget(subscription.channel)
    if (tellServer) this.#unsubscribe(subscription.channel)
  }

  /** With an id, so that an `unsubscribed` without one can only be the server dropping a channel. */
  #unsubscribe (channel: string): void {
    const { requests, outbox, settings } = this.#host
    // After a reconnect the channel is simply not subscribed again.
    if (!outbox.writable) return
    const id = requests.nextId()
    requests.add(id, 'unsubscribe', settings.requestTimeout, ignore, ignore)
    outbox.send({ text: JSON.stringify({ id, type: 'unsubscribe', channel }), id, perConnection: true })
  }
}
