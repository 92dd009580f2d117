// RealtimeClient: one logical connection to a fastify-realtime server that survives
// reconnects. It keeps what the user asked for (channels, queued frames) across sockets and
// reports everything else through typed events. The parts live beside it: subscription.ts
// (channel objects and their states), requests.ts (ids, timeouts, abort), send-queue.ts
// (queue and pacing), liveness.ts (client pings), network.ts (online, offline, visibility).
// Browser-safe: the protocol types are imported as types only (protocol.ts pulls TypeBox in
// at run time); errors.ts has no imports.
import type {
  BroadcastMessage, ChannelMessage, ChatBroadcastMessage, ErrorMessage, PongMessage, ServerMessage,
  SubscribedMessage, UnsubscribedMessage, WelcomeMessage, AckMessage
} from '../protocol.js'
import { CloseCode, ErrorCode, FINAL_CLOSE_CODES, RealtimeError } from '../errors.js'
import { backoffDelay } from './backoff.js'
import { Liveness } from './liveness.js'
import { isOffline, watchNetwork } from './network.js'
import {
  number, resolveClientOptions, type ClientSettings, type RealtimeClientOptions, type UrlSource, type WebSocketLike
} from './options.js'
import { Requests, type RequestOptions } from './requests.js'
import { Pacer, SendQueue, type QueuedFrame } from './send-queue.js'
import { ChannelSubscription, type ChannelHandler } from './subscription.js'
import { TypedEmitter } from './typed-emitter.js'

/**
 * `connecting` (first connect, or after `connect()`), `open` (welcomed by the server),
 * `reconnecting` (waiting or retrying), `disconnected` (by `disconnect()`, or not yet
 * connected with `autoConnect: false`; `connect()` resumes), `closed` (final).
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'disconnected' | 'closed'

export interface CloseInfo {
  code: number
  reason: string
  /** False when the client stops here: `close()`/`disconnect()` was called, the code is final, or the attempts are used up. */
  willReconnect: boolean
}

/** A frame the client may send: a built-in type or one registered with `app.realtime.handle()`. */
export interface OutgoingMessage {
  type: string
  [field: string]: unknown
}

/** Any server frame, including application types the protocol does not define. */
export type IncomingFrame = ServerMessage | { type: string, [field: string]: unknown }

export interface RealtimeClientEvents {
  /** Every state change. */
  state: ConnectionState
  /** The server welcomed the connection (`connectionId`, `nodeId` are set); channels are being resubscribed, queued frames sent. */
  open: { reconnected: boolean }
  /** The socket closed (or was given up as dead). */
  close: CloseInfo
  /** A reconnect is scheduled `delay` ms from now. */
  reconnecting: { attempt: number, delay: number }
  /** Browsers: the network went away (retries pause) or came back. */
  network: { online: boolean }
  /** Server errors no request is waiting for, refused subscriptions, unreadable frames, giving up. */
  error: Error
  welcome: WelcomeMessage
  /** The server confirmed a subscription (again after each reconnect). */
  subscribed: { channel: string }
  /** Every channel message, whichever channel. */
  message: ChannelMessage
  broadcast: BroadcastMessage
  chat: ChatBroadcastMessage
  /** A fresh round-trip measurement, ms. */
  latency: number
  /** Every frame from the server, before it is handled. */
  frame: IncomingFrame
}

export type { ChannelHandler } from './subscription.js'

/** Calling it removes the handler (the channel goes with its last handler); `ready` settles when the server answers the first subscribe. */
export interface Subscription {
  (): void
  readonly ready: Promise<void>
  /** The channel's subscription object: state, last error, events. */
  readonly subscription: ChannelSubscription
}

interface PingWaiter {
  ts: number
  resolve: (latency: number) => void
  reject: (err: Error) => void
}

// WebSocket.OPEN in both the DOM and `ws`; read as a constant so a minimal implementation need not carry statics.
const OPEN = 1

const now = (): number => performance.now()

export class RealtimeClient extends TypedEmitter<RealtimeClientEvents> {
  /** Last round trip of a `ping`, in ms, measured on the client's clock; undefined before the first pong. */
  latency: number | undefined
  /** The current connection's id, from its `welcome` frame; undefined while not open. */
  connectionId: string | undefined
  /** The server node the current connection landed on, from `welcome`; undefined while not open. */
  nodeId: string | undefined

  readonly #urlSource: UrlSource
  #url: string | undefined
  readonly #settings: ClientSettings
  #state: ConnectionState
  #socket: WebSocketLike | undefined
  /** The server's `welcome` arrived on the current socket: only then is it open for frames. */
  #welcomed = false
  #attempt = 0
  #hasOpened = false
  /** Set by close() / disconnect() while the drop they cause is handled. */
  #stopping: 'closed' | 'disconnected' | undefined
  /** Bumped whenever an attempt is abandoned: a URL computed for an older one is not used. */
  #generation = 0
  readonly #requests = new Requests({
    timedOut: () => this.#liveness.probe(this.#settings.probeTimeout),
    aborted: (id) => this.#queue.remove(id)
  })

  readonly #queue = new SendQueue()
  readonly #pacer = new Pacer()
  readonly #subscriptions = new Map<string, ChannelSubscription>()
  readonly #liveness = new Liveness(
    () => this.#sendPing(),
    () => { if (this.#socket !== undefined) this.#abandon(this.#socket, CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout') }
  )

  #pings: PingWaiter[] = []
  #maxPayload: number | undefined
  #offline = false
  #stopWatchingNetwork: (() => void) | undefined
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #connectTimer: ReturnType<typeof setTimeout> | undefined
  #stableTimer: ReturnType<typeof setTimeout> | undefined
  #flushTimer: ReturnType<typeof setTimeout> | undefined

  /**
   * `url` is a string or a function (sync or async) called before every attempt. Connects at
   * once unless `autoConnect: false`. Throws on bad options or a URL the WebSocket refuses.
   */
  constructor (url: UrlSource, options: RealtimeClientOptions = {}) {
    super()
    if (typeof url !== 'string' && typeof url !== 'function') throw new TypeError('fastify-realtime client: url must be a string or a function')
    this.#urlSource = url
    if (typeof url === 'string') this.#url = url
    this.#settings = resolveClientOptions(options)
    this.#state = 'disconnected'
    if (this.#settings.autoConnect) this.connect()
  }

  /** The URL of the current or last attempt (with a function `url`, undefined before the first). */
  get url (): string | undefined {
    return this.#url
  }

  get state (): ConnectionState {
    return this.#state
  }

  /** Browsers: not connected and not retrying until the network comes back. */
  get waitingForNetwork (): boolean {
    return this.#offline && this.#socket === undefined && (this.#state === 'reconnecting' || this.#state === 'connecting')
  }

  /** Channels this client holds (and resubscribes after a reconnect). */
  get channels (): string[] {
    return [...this.#subscriptions.keys()]
  }

  /** The subscription object of a channel this client holds. */
  subscription (channel: string): ChannelSubscription | undefined {
    return this.#subscriptions.get(channel)
  }

  /**
   * Calls `handler` with the `data` of every message on `channel`. The subscription is kept
   * across reconnects until the returned function is called (for its last handler).
   */
  subscribe<Data = unknown> (channel: string, handler: ChannelHandler<Data>): Subscription {
    this.#assertUsable()
    let subscription = this.#subscriptions.get(channel)
    if (subscription === undefined) {
      subscription = new ChannelSubscription(channel, this.#release)
      this.#subscriptions.set(channel, subscription)
      if (this.#writable()) this.#requestSubscribe(subscription)
    }
    const remove = subscription.add(handler)
    return Object.assign(() => remove(), { ready: subscription.ready, subscription })
  }

  /** Calls `handler` with the `data` of every `app.broadcast()`; returns a function that stops it. */
  onBroadcast<Data = unknown> (handler: (data: Data, message: BroadcastMessage) => void): () => void {
    return this.on('broadcast', (message) => handler(message.data as Data, message))
  }

  /** Calls `handler` with every chat line (`from` is the sender's connection id); returns a function that stops it. */
  onChat (handler: (message: ChatBroadcastMessage) => void): () => void {
    return this.on('chat', handler)
  }

  /** Publishes `data` on `channel`; resolves on the server's `ack`, rejects with `RealtimeError`. */
  async publish (channel: string, data: unknown, options?: RequestOptions): Promise<void> {
    await this.request({ type: 'publish', channel, data }, options)
  }

  /** Sends a chat line to every connection; resolves on the server's `ack`. */
  async chat (content: string, options?: RequestOptions): Promise<void> {
    await this.request({ type: 'chat', content }, options)
  }

  /**
   * Sends `message` with a fresh `id` and resolves with the `data` of the server's `ack`
   * (what a handler registered with `app.realtime.handle()` returned). Rejects with
   * `RealtimeError`: the server's `error` code, `request_timeout`, `queue_full`,
   * `payload_too_large`, `aborted` or `disconnected`.
   */
  request<Result = unknown> (message: OutgoingMessage, options: RequestOptions = {}): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const id = this.#requests.nextId()
      const { id: _replaced, ...fields } = checkMessage(message)
      // The id first: a server that refuses the frame unread (rate limit) can still echo it.
      const text = serialize({ id, ...fields })
      const timeout = number('timeout', options.timeout, this.#settings.requestTimeout, 1)
      this.#assertUsable()
      this.#assertSize(text)
      this.#assertRoom()
      this.#requests.add(id, message.type, timeout, resolve, reject, options.signal)
      this.#dispatch({ text, id })
    })
  }

  /**
   * Sends `message` without waiting for an answer (a server error then arrives as an `error`
   * event). Throws `RealtimeError` when it cannot be sent or queued.
   */
  send (message: OutgoingMessage): void {
    const text = serialize(checkMessage(message))
    this.#assertUsable()
    this.#assertSize(text)
    this.#assertRoom()
    this.#dispatch({ text })
  }

  /** Measures the round trip now; resolves with the latency in ms (also stored in `latency`). */
  ping (): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.#writable()) {
        reject(new RealtimeError(ErrorCode.DISCONNECTED, 'Not connected'))
        return
      }
      const ts = this.#sendPing()
      this.#pings.push({ ts, resolve, reject })
    })
  }

  /** Connects when `disconnected` (after `disconnect()`, or with `autoConnect: false`); otherwise does nothing. */
  connect (): void {
    this.#assertUsable()
    if (this.#state !== 'disconnected') return
    this.#stopping = undefined
    this.#attempt = 0
    if (this.#settings.network && this.#stopWatchingNetwork === undefined) {
      this.#offline = isOffline()
      this.#stopWatchingNetwork = watchNetwork({
        online: () => this.#onNetwork(true),
        offline: () => this.#onNetwork(false),
        visible: (hiddenFor) => { if (hiddenFor >= this.#settings.pingInterval) this.#checkNow() }
      })
    }
    this.#setState('connecting')
    this.#startAttempt()
  }

  /**
   * Closes the connection but keeps the client: channels stay held (`subscribing`) and
   * listeners stay; `connect()` resumes. Queued frames and waiting requests fail with `disconnected`.
   */
  disconnect (code: number = CloseCode.NORMAL, reason = ''): void {
    this.#assertUsable()
    if (this.#state === 'disconnected') return
    this.#stop('disconnected', code, reason)
  }

  /** Retries at once instead of waiting for the backoff (a "retry now" button); reopens an open link. */
  reconnect (): void {
    this.#assertUsable()
    if (this.#state === 'disconnected') {
      this.connect()
      return
    }
    if (this.#socket !== undefined) this.#abandon(this.#socket, CloseCode.NORMAL, 'reconnect')
    this.#retryNow()
  }

  /** Closes for good: no reconnect; queued frames and waiting requests fail with `disconnected` ("Client is closed"). */
  close (code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#state === 'closed') return
    this.#stop('closed', code, reason)
  }

  // Connection lifecycle

  #stop (kind: 'closed' | 'disconnected', code: number, reason: string): void {
    const socket = this.#socket
    // Throws on a code the WebSocket refuses, before anything has changed.
    socket?.close(code, reason)
    this.#stopping = kind
    if (socket === undefined) this.#finish()
    else this.#onDrop(code, reason)
  }

  #startAttempt (): void {
    this.#reconnectTimer = undefined
    if (this.#offline) return
    const generation = ++this.#generation
    // Covers the URL, the handshake and the welcome.
    this.#connectTimer = setTimeout(() => this.#giveUp(CloseCode.ABNORMAL, 'connect timeout'), this.#settings.connectTimeout)
    const source = this.#urlSource
    if (typeof source === 'string') {
      this.#openSocket(source)
      return
    }
    const failed = (err: unknown): void => {
      if (generation !== this.#generation) return
      this.emit('error', err instanceof Error ? err : new Error(String(err)))
      this.#giveUp(CloseCode.ABNORMAL, 'url failed')
    }
    try {
      Promise.resolve(source()).then((url) => {
        if (generation !== this.#generation) return
        if (typeof url !== 'string') throw new TypeError('fastify-realtime client: the url function must return a string')
        this.#openSocket(url)
      }).catch(failed)
    } catch (err) {
      failed(err)
    }
  }

  #openSocket (url: string): void {
    this.#url = url
    this.#debug('connecting', { url })
    const socket = new this.#settings.WebSocket(url, this.#settings.protocols)
    this.#socket = socket
    this.#welcomed = false
    // Handlers stay on a socket after it is abandoned (`ws` throws on an 'error' event without
    // a listener); the identity check makes a replaced socket's late events harmless.
    socket.onmessage = (event) => { if (socket === this.#socket) this.#onMessage(event.data) }
    socket.onclose = (event) => { if (socket === this.#socket) this.#onDrop(event.code, event.reason) }
    // Browsers put nothing useful in the error event; the close event that follows decides.
    socket.onerror = () => {}
    // `open` waits for the server's welcome, which follows the handshake.
    socket.onopen = () => {}
  }

  /** The current attempt or link is given up: drop it like a close. */
  #giveUp (code: number, reason: string): void {
    if (this.#socket !== undefined) this.#abandon(this.#socket, code, reason)
    else this.#onDrop(code, reason)
  }

  #onWelcome (welcome: WelcomeMessage): void {
    if (this.#welcomed) return
    clearTimeout(this.#connectTimer)
    this.#welcomed = true
    this.connectionId = welcome.connectionId
    this.nodeId = welcome.nodeId
    // A nonsensical limit is ignored rather than refusing every frame.
    if (typeof welcome.maxPayload === 'number' && welcome.maxPayload >= 1) this.#maxPayload = welcome.maxPayload
    this.#pacer.configure(welcome.rateLimit, now())
    this.#stableTimer = setTimeout(() => { this.#attempt = 0 }, this.#settings.resetAfter)
    this.#liveness.start(this.#settings.pingInterval, this.#settings.pingTimeout)
    // Channels first, then what was queued, all ahead of anything a `welcome`, `open` or
    // `state` listener sends; paced below the server's rate limit.
    const subscribes: QueuedFrame[] = []
    for (const subscription of this.#subscriptions.values()) subscribes.push(this.#subscribeRequest(subscription))
    this.#queue.prepend(subscribes)
    this.#flush()
    this.emit('welcome', welcome)
    const reconnected = this.#hasOpened
    this.#hasOpened = true
    // A `welcome` listener may have closed or disconnected the client.
    if (!this.#welcomed) return
    this.#setState('open')
    if (this.#state === 'open') this.emit('open', { reconnected })
  }

  /** Gives up on a socket that did not open or went silent, and treats it as dropped. */
  #abandon (socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.#socket) return
    if (typeof socket.terminate === 'function') socket.terminate()
    else socket.close()
    this.#onDrop(code, reason)
  }

  #onDrop (code: number, reason: string): void {
    this.#socket = undefined
    this.#welcomed = false
    this.#generation++
    this.#stopTimers()
    this.connectionId = undefined
    this.nodeId = undefined
    const lost = this.#stopping === undefined ? new RealtimeError(ErrorCode.DISCONNECTED) : stoppedError(this.#stopping)
    this.#requests.failSent(lost)
    for (const id of this.#queue.dropPerConnection()) this.#requests.fail(id, lost)
    this.#rejectPings(lost)
    for (const subscription of this.#subscriptions.values()) subscription.resubscribing()

    const stopping = this.#stopping !== undefined || !this.#settings.reconnect || FINAL_CLOSE_CODES.includes(code)
    // Offline, nothing is scheduled and no attempt is counted: the `online` event retries.
    const delay = stopping || this.#offline ? undefined : backoffDelay(++this.#attempt, this.#settings.backoff, this.#settings.random)
    this.#debug('close', { code, reason })
    this.emit('close', { code, reason, willReconnect: !stopping && (delay !== undefined || this.#offline) })
    // A `close` listener may have called close() or disconnect(), which finished the client already.
    if (this.#state === 'closed' || this.#state === 'disconnected') return
    if (delay === undefined && !(this.#offline && !stopping)) {
      if (!stopping) {
        this.emit('error', new RealtimeError(ErrorCode.DISCONNECTED, `Gave up after ${this.#settings.backoff.maxAttempts} reconnect attempts`))
      }
      this.#finish()
      return
    }
    this.#setState('reconnecting')
    // Likewise from a `state` listener.
    if (this.#state !== 'reconnecting' || delay === undefined) return
    this.emit('reconnecting', { attempt: this.#attempt, delay })
    this.#reconnectTimer = setTimeout(() => this.#retry(), delay)
  }

  #retry (): void {
    try {
      this.#startAttempt()
    } catch (err) {
      // The URL was accepted once, so this is the environment failing; retrying cannot help.
      this.emit('error', err as Error)
      this.#stopping = 'closed'
      this.#finish()
    }
  }

  /** Waiting to (re)connect: try now. */
  #retryNow (): void {
    if ((this.#state !== 'reconnecting' && this.#state !== 'connecting') || this.#socket !== undefined || this.#offline) return
    if (this.#reconnectTimer === undefined && this.#connectTimer !== undefined) return // an attempt is under way
    clearTimeout(this.#reconnectTimer)
    this.#retry()
  }

  /** The network or the page came back: check an open link at once, or retry at once. */
  #checkNow (): void {
    if (this.#state === 'open') this.#liveness.probe(this.#settings.probeTimeout)
    else this.#retryNow()
  }

  #onNetwork (online: boolean): void {
    if (this.#offline === !online) return
    this.#offline = !online
    this.#debug('network', { online })
    this.emit('network', { online })
    if (online) {
      this.#checkNow()
      return
    }
    // An open link may already be dead; a retry waiting for its timer waits for `online` instead.
    if (this.#state === 'open') this.#liveness.probe(this.#settings.probeTimeout)
    clearTimeout(this.#reconnectTimer)
    this.#reconnectTimer = undefined
  }

  #finish (): void {
    const kind = this.#stopping ?? 'closed'
    this.#stopTimers()
    clearTimeout(this.#reconnectTimer)
    this.#generation++
    this.#socket = undefined
    const stopped = stoppedError(kind)
    this.#requests.failAll(stopped)
    this.#queue.clear()
    this.#rejectPings(stopped)
    for (const subscription of [...this.#subscriptions.values()]) {
      // A disconnected client keeps its channels for the next connect().
      if (kind === 'closed') subscription.ended('closed', stopped)
      else subscription.resubscribing()
    }
    if (kind === 'closed') {
      this.#stopWatchingNetwork?.()
      this.#stopWatchingNetwork = undefined
    }
    this.#setState(kind)
  }

  #stopTimers (): void {
    clearTimeout(this.#connectTimer)
    this.#connectTimer = undefined
    clearTimeout(this.#stableTimer)
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    this.#liveness.stop()
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#debug('state', { state })
    this.emit('state', state)
  }

  // Outgoing

  #assertUsable (): void {
    if (this.#state === 'closed') throw stoppedError('closed')
  }

  /** Welcomed and not closing: a frame written now reaches the server or is reported lost. */
  #writable (): boolean {
    return this.#welcomed && this.#socket?.readyState === OPEN
  }

  #assertRoom (): void {
    const queued = !this.#writable() || this.#queue.length > 0
    if (queued && this.#queue.userFrames >= this.#settings.queueLimit) {
      throw new RealtimeError(ErrorCode.QUEUE_FULL, `${this.#settings.queueLimit} frames are already waiting to be sent`)
    }
  }

  #assertSize (text: string): void {
    if (this.#tooLarge(text)) throw this.#tooLargeError()
  }

  #tooLarge (text: string): boolean {
    const max = this.#maxPayload
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: only long frames need counting.
    return max !== undefined && text.length * 3 > max && (text.length > max || new TextEncoder().encode(text).length > max)
  }

  #tooLargeError (): RealtimeError {
    return new RealtimeError(ErrorCode.PAYLOAD_TOO_LARGE, `Message is larger than the ${this.#maxPayload} bytes the server accepts`)
  }

  /** Writes now when open, nothing waits and the pacer allows; otherwise queues. */
  #dispatch (frame: QueuedFrame): void {
    if (this.#writable() && this.#queue.length === 0 && this.#pacer.wait(now()) === 0) {
      this.#write(frame)
      return
    }
    this.#queue.push(frame)
    if (this.#writable() && this.#flushTimer === undefined) this.#flush()
  }

  /** Writes queued frames as fast as the pacer allows; one timer waits for the next token. */
  #flush (): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    while (this.#queue.length > 0 && this.#writable()) {
      const wait = this.#pacer.wait(now())
      if (wait > 0) {
        this.#flushTimer = setTimeout(() => this.#flush(), wait)
        return
      }
      this.#write(this.#queue.shift()!)
    }
  }

  #write (frame: QueuedFrame): void {
    const socket = this.#socket
    // Only pings and unsubscribes get here while closing; the reconnect redoes them.
    if (socket === undefined || socket.readyState !== OPEN) return
    const text = typeof frame.text === 'function' ? frame.text() : frame.text
    // Queued before the server told its limit: refused now, never sent.
    if (this.#tooLarge(text)) {
      if (frame.id === undefined || !this.#requests.fail(frame.id, this.#tooLargeError())) this.emit('error', this.#tooLargeError())
      return
    }
    socket.send(text)
    this.#pacer.take(now())
    if (this.#settings.debug !== undefined) this.#debugFrame('send', text)
    if (frame.id !== undefined) this.#requests.sent(frame.id)
  }

  #sendPing (): number {
    const ts = now()
    this.#write({ text: JSON.stringify({ type: 'ping', ts }) })
    return ts
  }

  #rejectPings (err: Error): void {
    const pings = this.#pings
    this.#pings = []
    for (const ping of pings) ping.reject(err)
  }

  // Channels

  /**
   * The subscribe frame of `subscription`, built when it is written. Resuming from a
   * history offset adds the last offset seen here.
   */
  #subscribeFrame (subscription: ChannelSubscription, id: string): string {
    return JSON.stringify({ id, type: 'subscribe', channel: subscription.channel })
  }

  /** Tracks one subscribe of `subscription` and returns its frame for the queue. */
  #subscribeRequest (subscription: ChannelSubscription): QueuedFrame {
    const id = this.#requests.nextId()
    const channel = subscription.channel
    this.#requests.add(id, 'subscribe', this.#settings.requestTimeout, () => {
      if (this.#subscriptions.get(channel) !== subscription) return
      subscription.subscribed()
      this.emit('subscribed', { channel })
    }, (err) => this.#onSubscribeRefused(subscription, err))
    return { text: () => this.#subscribeFrame(subscription, id), id, perConnection: true }
  }

  #requestSubscribe (subscription: ChannelSubscription): void {
    this.#dispatch(this.#subscribeRequest(subscription))
  }

  #onSubscribeRefused (subscription: ChannelSubscription, err: Error): void {
    const code = err instanceof RealtimeError ? err.code : undefined
    // A dropped connection is not a refusal: the channel is resubscribed on reconnect.
    if (code === ErrorCode.DISCONNECTED || this.#subscriptions.get(subscription.channel) !== subscription) return
    // A broker outage (Redis away) passes: keep the channel and ask again; `ready` waits.
    // A slow server passes too for a channel the user already holds (confirmed before,
    // so `ready` has resolved): the user keeps it rather than losing it to one late answer.
    if (code === ErrorCode.BROKER_UNAVAILABLE || (code === ErrorCode.REQUEST_TIMEOUT && subscription.confirmed)) {
      const delay = backoffDelay(++subscription.retries, { ...this.#settings.backoff, maxAttempts: Infinity }, this.#settings.random) ?? 0
      subscription.failedForNow(err, () => {
        if (this.#subscriptions.get(subscription.channel) === subscription && this.#writable()) this.#requestSubscribe(subscription)
      }, delay)
      this.emit('error', err)
      return
    }
    // Given up on an answer that may still come: leave nothing subscribed behind the user's back.
    if (code === ErrorCode.REQUEST_TIMEOUT) this.#sendUnsubscribe(subscription.channel)
    subscription.failed(err)
    this.emit('error', err)
  }

  /** Called by a subscription that ends; `tellServer` when the app let it go. */
  readonly #release = (subscription: ChannelSubscription, tellServer: boolean): void => {
    if (this.#subscriptions.get(subscription.channel) !== subscription) return
    this.#subscriptions.delete(subscription.channel)
    if (tellServer) this.#sendUnsubscribe(subscription.channel)
  }

  /** With an id, so that an `unsubscribed` without one can only be the server dropping a channel. */
  #sendUnsubscribe (channel: string): void {
    // After a reconnect the channel is simply not subscribed again.
    if (!this.#writable()) return
    const id = this.#requests.nextId()
    this.#requests.add(id, 'unsubscribe', this.#settings.requestTimeout, ignore, ignore)
    this.#dispatch({ text: JSON.stringify({ id, type: 'unsubscribe', channel }), id, perConnection: true })
  }

  // Incoming: one route per frame type; a new server frame gets its line here.

  readonly #routes: Record<string, (frame: any) => void> = {
    welcome: (frame: WelcomeMessage) => this.#onWelcome(frame),
    pong: (frame: PongMessage) => { if (frame.ts !== undefined) this.#onPong(frame.ts) },
    message: (frame: ChannelMessage) => {
      this.#subscriptions.get(frame.channel)?.deliver(frame)
      this.emit('message', frame)
    },
    broadcast: (frame: BroadcastMessage) => this.emit('broadcast', frame),
    chat: (frame: ChatBroadcastMessage) => this.emit('chat', frame),
    ack: (frame: AckMessage) => this.#requests.settle(frame.id, frame.data),
    subscribed: (frame: SubscribedMessage) => { if (frame.id !== undefined) this.#requests.settle(frame.id, undefined) },
    unsubscribed: (frame: UnsubscribedMessage) => {
      if (frame.id !== undefined) this.#requests.settle(frame.id, undefined)
      // Nobody asked: the server dropped the channel.
      else this.#subscriptions.get(frame.channel)?.ended('server')
    },
    error: (frame: ErrorMessage) => {
      const err = new RealtimeError(frame.code as ErrorCode, frame.message, frame.details)
      if (frame.id === undefined || !this.#requests.fail(frame.id, err)) this.emit('error', err)
    }
  }

  #onMessage (data: unknown): void {
    // Whatever arrives proves the link alive.
    this.#liveness.heard()
    let frame: IncomingFrame
    try {
      if (typeof data !== 'string') throw new TypeError('binary frame')
      frame = JSON.parse(data)
      if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') throw new TypeError('no type')
    } catch {
      this.emit('error', new RealtimeError(ErrorCode.INVALID_MESSAGE, 'The server sent a frame the client cannot read'))
      return
    }
    if (this.#settings.debug !== undefined) this.#debugFrame('receive', data, frame)
    this.emit('frame', frame)
    // Own properties only: a frame typed "constructor" or "__proto__" is not a route.
    if (Object.hasOwn(this.#routes, frame.type)) this.#routes[frame.type]!(frame)
  }

  #onPong (ts: number): void {
    const latency = now() - ts
    this.latency = latency
    const waiting = this.#pings.filter((ping) => ping.ts === ts)
    if (waiting.length > 0) this.#pings = this.#pings.filter((ping) => ping.ts !== ts)
    for (const ping of waiting) ping.resolve(latency)
    this.emit('latency', latency)
  }

  // Debug logging

  #debug (message: string, details: Record<string, unknown>): void {
    if (this.#settings.debug !== undefined) callLogger(this.#settings.debug, message, details)
  }

  #debugFrame (direction: 'send' | 'receive', text: string, parsed?: IncomingFrame): void {
    const frame = (parsed ?? JSON.parse(text)) as Record<string, unknown>
    if (this.#settings.debugPayloads) {
      this.#debug(direction, { frame })
      return
    }
    const details: Record<string, unknown> = { type: frame.type, bytes: text.length }
    for (const key of ['id', 'channel', 'code'] as const) if (frame[key] !== undefined) details[key] = frame[key]
    this.#debug(direction, details)
  }
}

function ignore (): void {}

function callLogger (logger: (message: string, details: Record<string, unknown>) => void, message: string, details: Record<string, unknown>): void {
  try {
    logger(message, details)
  } catch {
    // A failing logger must not break the connection.
  }
}

function stoppedError (kind: 'closed' | 'disconnected'): RealtimeError {
  return new RealtimeError(ErrorCode.DISCONNECTED, kind === 'closed' ? 'Client is closed' : 'Client is disconnected')
}

function checkMessage (message: OutgoingMessage): OutgoingMessage {
  if (message === null || typeof message !== 'object' || typeof message.type !== 'string') {
    throw new TypeError('fastify-realtime client: a message is an object with a string "type"')
  }
  return message
}

function serialize (message: OutgoingMessage): string {
  try {
    return JSON.stringify(message)
  } catch (err) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, `Message cannot be serialized to JSON: ${(err as Error).message}`)
  }
}
