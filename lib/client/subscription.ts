// One channel the client holds: its handlers, its state as the server sees it, and the
// promise of the first confirmation. The client drives the transitions (it owns the socket);
// the app reads `state` and `error` and listens to the events to show per-channel status.
import type { ChannelMessage } from '../protocol.js'
import { TypedEmitter, callSafely } from './typed-emitter.js'
import type { Unrecovered } from './recovery.js'

/**
 * `subscribing`: asked for, or held while disconnected (asked again on reconnect);
 * `subscribed`: confirmed on the current connection; `unsubscribed`: let go by the app or
 * dropped by the server; `failed`: refused for good (`error` says why).
 */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed' | 'failed'

export interface SubscriptionEvents {
  /** Every state change. */
  state: SubscriptionState
  /** The server confirmed it (again after each reconnect). */
  subscribed: { resubscribed: boolean }
  /** Let go: `client` by unsubscribe, `server` when the server dropped it, `closed` by close(). */
  unsubscribed: { reason: 'client' | 'server' | 'closed' }
  /** Refused for good: forbidden, invalid_channel, too_many_subscriptions, or no first answer in time. */
  failed: Error
  /** A temporary failure (`broker_unavailable`, a timed-out resubscribe): the client asks again. */
  error: Error
  /** Every message on the channel. */
  message: ChannelMessage
  /** History channels: messages were missed that could not be replayed; reload the channel's state. */
  unrecovered: Unrecovered
}

export type ChannelHandler<Data = unknown> = (data: Data, message: ChannelMessage) => void

export class ChannelSubscription extends TypedEmitter<SubscriptionEvents> {
  readonly channel: string
  /** Settles once: resolves on the first confirmation, rejects on a final refusal or close(). */
  readonly ready: Promise<void>
  /** The last failure, temporary or final; cleared by the next confirmation. */
  error: Error | undefined
  #state: SubscriptionState = 'subscribing'
  #confirm!: () => void
  #refuse!: (err: Error) => void
  readonly #handlers = new Set<{ handler: ChannelHandler<any> }>()
  readonly #release: (subscription: ChannelSubscription, tellServer: boolean) => void
  /** @internal Confirmed at least once: a timeout then only delays it, it does not end it. */
  confirmed = false
  /** @internal Temporary refusals in a row; sets the backoff of the next retry. */
  retries = 0
  /** @internal */
  retryTimer: ReturnType<typeof setTimeout> | undefined

  /** @internal Made by `RealtimeClient.subscribe()`; `release` lets the client forget it. */
  constructor (channel: string, release: (subscription: ChannelSubscription, tellServer: boolean) => void) {
    super()
    this.channel = channel
    this.#release = release
    this.ready = new Promise<void>((resolve, reject) => {
      this.#confirm = resolve
      this.#refuse = reject
    })
    // Nobody has to await `ready`; an unobserved refusal is reported as an event instead.
    this.ready.catch(() => {})
  }

  get state (): SubscriptionState {
    return this.#state
  }

  /** Held by the client: not yet let go, refused or closed. */
  get active (): boolean {
    return this.#state === 'subscribing' || this.#state === 'subscribed'
  }

  /** Lets the channel go for every handler (the functions `subscribe()` returned become no-ops). */
  unsubscribe (): void {
    if (!this.active) return
    this.#handlers.clear()
    this.#end('unsubscribed', { reason: 'client' })
  }

  /** @internal Adds a handler; its remover lets the channel go once the last one leaves. */
  add (handler: ChannelHandler<any>): () => void {
    const entry = { handler }
    this.#handlers.add(entry)
    return () => {
      if (this.#handlers.delete(entry) && this.#handlers.size === 0) this.unsubscribe()
    }
  }

  /** @internal */
  deliver (message: ChannelMessage): void {
    for (const { handler } of [...this.#handlers]) callSafely(handler, message.data, message)
    this.emit('message', message)
  }

  /** @internal The connection dropped: held, and asked for again on the next one. */
  resubscribing (): void {
    this.#stopRetry()
    if (this.active) this.#setState('subscribing')
  }

  /** @internal */
  subscribed (): void {
    const resubscribed = this.confirmed
    this.confirmed = true
    this.retries = 0
    this.error = undefined
    this.#confirm()
    this.#setState('subscribed')
    this.emit('subscribed', { resubscribed })
  }

  /** @internal History: missed messages could not be replayed. */
  unrecovered (info: Unrecovered): void {
    this.emit('unrecovered', info)
  }

  /** @internal A temporary failure; the client schedules the retry. */
  failedForNow (err: Error, retry: () => void, delay: number): void {
    this.error = err
    this.#stopRetry()
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      retry()
    }, delay)
    this.emit('error', err)
  }

  /** @internal Refused for good. */
  failed (err: Error): void {
    if (!this.active) return
    this.error = err
    this.#refuse(err)
    this.#end('failed', err)
  }

  /** @internal Dropped by the server or ended by close(). */
  ended (reason: 'server' | 'closed', err?: Error): void {
    if (!this.active) return
    if (err !== undefined) this.#refuse(err)
    this.#end('unsubscribed', { reason })
  }

  #end<Name extends 'unsubscribed' | 'failed'> (state: Name, payload: SubscriptionEvents[Name]): void {
    this.#stopRetry()
    this.#release(this, state === 'unsubscribed' && (payload as { reason: string }).reason === 'client')
    this.#setState(state)
    this.emit(state, payload)
  }

  #stopRetry (): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  #setState (state: SubscriptionState): void {
    if (this.#state === state) return
    this.#state = state
    this.emit('state', state)
  }
}
