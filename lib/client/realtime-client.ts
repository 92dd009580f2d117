// RealtimeClient: one logical connection to a fastify-realtime server that survives
// reconnects. It keeps what the user asked for (channels, queued frames) across sockets and
// reports everything else through typed events (client-events.ts). This file is the
// connection's lifecycle and the routing of incoming frames; the parts live beside it:
// channels.ts and subscription.ts (held channels and their states), requests.ts (ids,
// timeouts, abort), outbox.ts and send-queue.ts (writing, queueing, pacing, size),
// liveness.ts and pings.ts (client pings), network.ts (online, offline, visibility),
// debug-log.ts.
// Browser-safe: the protocol types are imported as types only (protocol.ts pulls TypeBox in
// at run time); errors.ts has no imports.
import type {
  BroadcastMessage, ChannelMessage, ChatBroadcastMessage, ErrorMessage, PongMessage,
  SubscribedMessage, UnsubscribedMessage, WelcomeMessage, AckMessage, PresenceDiffMessage, PresenceUser
} from '../protocol.js'
import { CloseCode, ErrorCode, FINAL_CLOSE_CODES, RealtimeError } from '../errors.js'
import { backoffDelay } from './backoff.js'
import { Channels } from './channels.js'
import { DebugLog } from './debug-log.js'
import { Liveness } from './liveness.js'
import { isOffline, watchNetwork } from './network.js'
import {
  number, resolveClientOptions, type ClientSettings, type RealtimeClientOptions, type UrlSource, type WebSocketLike
} from './options.js'
import { Outbox } from './outbox.js'
import { Pings } from './pings.js'
import { Requests, type RequestOptions } from './requests.js'
import type { ChannelHandler, ChannelSubscription } from './subscription.js'
import type { StreamPosition, Unrecovered } from './recovery.js'
import { TypedEmitter } from './typed-emitter.js'
import type { ConnectionState, IncomingFrame, RealtimeClientEvents } from './client-events.js'
import { emitPresenceDiff, requestPresence, requestPresenceStats, type PresenceCounts } from './presence.js'
import { SessionRefresher, currentToken, urlWithToken } from './session.js'
import type { ChannelArgument, DataArgument, MessageType, RealtimeContract, ReplyOf, RequestFields } from './contract-types.js'

/** A frame the client may send: a built-in type or one registered with `app.realtime.handle()`. */
export interface OutgoingMessage {
  type: string
  [field: string]: unknown
}

export type { ConnectionState, CloseInfo, IncomingFrame, RealtimeClientEvents } from './client-events.js'
export type { ChannelHandler } from './subscription.js'

export interface SubscribeOptions {
  /** Resume a history channel after a position the application stored (e.g. across a page reload). */
  since?: StreamPosition
  /** Called when this channel missed messages that could not be replayed (the subscription's `unrecovered` event). */
  onUnrecovered?: (info: Unrecovered) => void
  /** Presence info sent with every (re)subscribe, for channels whose rule has a presence `info` schema. */
  info?: unknown
  /**
   * A subscription token from your HTTP route (`app.realtime.subscriptionToken()`), sent with
   * every subscribe of the channel, resubscribes included; a later `subscribe()` with a new
   * token replaces it. See docs/sessions.md.
   */
  token?: string
}

/** Calling it removes the handler (the channel goes with its last handler); `ready` settles when the server answers the first subscribe. */
export interface Subscription {
  (): void
  readonly ready: Promise<void>
  /** The channel's subscription object: state, last error, events. */
  readonly subscription: ChannelSubscription
}

/**
 * `Contract` (a type only: `RealtimeClient<typeof contract>`) types channel names, their data
 * and `request()`; without it channel data is `unknown` or the type parameter of each call.
 */
export class RealtimeClient<Contract extends RealtimeContract | undefined = undefined> extends TypedEmitter<RealtimeClientEvents> {
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
    aborted: (id) => this.#outbox.remove(id)
  })

  // Made in the constructor, from the settings.
  readonly #outbox: Outbox
  readonly #channels: Channels
  readonly #log: DebugLog
  readonly #pings = new Pings((text) => this.#outbox.sendNow(text))
  readonly #liveness = new Liveness(
    () => this.#pings.send(),
    () => { if (this.#socket !== undefined) this.#abandon(this.#socket, CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout') }
  )

  #offline = false
  #stopWatchingNetwork: (() => void) | undefined
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #connectTimer: ReturnType<typeof setTimeout> | undefined
  #stableTimer: ReturnType<typeof setTimeout> | undefined
  #refresher: SessionRefresher | undefined

  /**
   * `url` is a string or a function (sync or async) called before every attempt. Connects at
   * once unless `autoConnect: false`. Throws on bad options or a URL the WebSocket refuses.
   */
  constructor (url: UrlSource, options: RealtimeClientOptions = {}) {
    super()
    if (typeof url !== 'string' && typeof url !== 'function') throw new TypeError('fastify-realtime client: url must be a string or a function')
    this.#urlSource = url
    if (typeof url === 'string') this.#url = url
    const settings = this.#settings = resolveClientOptions(options)
    this.#log = new DebugLog(settings.debug, settings.debugPayloads)
    this.#outbox = new Outbox(settings.queueLimit, {
      sent: (id) => this.#requests.sent(id),
      refused: (id, err) => this.#requests.fail(id, err),
      error: (err) => this.emit('error', err),
      written: (text) => this.#log.frame('send', text)
    })
    this.#channels = new Channels({
      settings,
      requests: this.#requests,
      outbox: this.#outbox,
      subscribed: (channel, answer) => this.emit('subscribed', answer?.offset === undefined
        ? { channel }
        : { channel, recovered: answer.recovered, offset: answer.offset, epoch: answer.epoch }),
      unrecovered: (info) => this.emit('unrecovered', info),
      error: (err) => this.emit('error', err)
    })
    if (settings.getToken !== undefined) {
      this.#refresher = new SessionRefresher(settings.getToken, {
        request: async (message) => await this.request(message),
        isOpen: () => this.#outbox.writable,
        loggedOut: () => this.#loggedOut(),
        refreshed: (expiresIn) => this.emit('refreshed', { expiresIn }),
        error: (err) => this.emit('error', err)
      })
    }
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
    return this.#channels.names
  }

  /** The subscription object of a channel this client holds. */
  subscription (channel: string): ChannelSubscription | undefined {
    return this.#channels.get(channel)
  }

  /**
   * Calls `handler` with the `data` of every message on `channel`. The subscription is kept
   * across reconnects until the returned function is called (for its last handler).
   */
  subscribe<const Argument = unknown> (channel: ChannelArgument<Contract, Argument>, handler: ChannelHandler<DataArgument<Contract, Argument>>, options: SubscribeOptions = {}): Subscription {
    this.#assertUsable()
    const token = options.token
    if (token !== undefined && (typeof token !== 'string' || token === '')) throw new TypeError('fastify-realtime client: a subscription token is a non-empty string')
    const subscription = this.#channels.hold(channel, options.since, options.info, token)
    const remove = subscription.add(handler)
    const { onUnrecovered } = options
    const stopUnrecovered = onUnrecovered === undefined ? undefined : subscription.on('unrecovered', onUnrecovered)
    return Object.assign(() => { stopUnrecovered?.(); remove() }, { ready: subscription.ready, subscription })
  }

  /** Every member of `channel` (a channel with presence) on every node, grouped per user; asked fresh each time. */
  presence (channel: string): Promise<PresenceUser[]> {
    return requestPresence((message) => this.request(message), channel)
  }

  /** How many users and connections `channel` has. */
  presenceStats (channel: string): Promise<PresenceCounts> {
    return requestPresenceStats((message) => this.request(message), channel)
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
  async publish<const Argument = unknown> (channel: ChannelArgument<Contract, Argument>, data: DataArgument<Contract, Argument>, options?: RequestOptions): Promise<void> {
    await this.request({ type: 'publish', channel, data }, options)
  }

  /** Sends a chat line to every connection; resolves on the server's `ack`. */
  async chat (content: string, options?: RequestOptions): Promise<void> {
    await this.request({ type: 'chat', content }, options)
  }

  /**
   * Sends `message` (or `{ ...fields, type }`) with a fresh `id` and resolves with the `data`
   * of the server's `ack` (what a handler registered with `app.realtime.handle()` returned).
   * Rejects with `RealtimeError`: the server's `error` code, `request_timeout`, `queue_full`,
   * `payload_too_large`, `aborted` or `disconnected`.
   */
  request<const Type extends MessageType<Contract>> (type: Type, fields: RequestFields<Contract, Type>, options?: RequestOptions): Promise<ReplyOf<Contract, Type>>
  request<Result = unknown> (message: OutgoingMessage, options?: RequestOptions): Promise<Result>
  request (typeOrMessage: string | OutgoingMessage, fieldsOrOptions?: unknown, maybeOptions?: RequestOptions): Promise<any> {
    const byType = typeof typeOrMessage === 'string'
    const message: OutgoingMessage = byType ? { ...(fieldsOrOptions as object), type: typeOrMessage } : typeOrMessage
    const options = (byType ? maybeOptions : fieldsOrOptions as RequestOptions | undefined) ?? {}
    return new Promise((resolve, reject) => {
      const id = this.#requests.nextId()
      const { id: _replaced, ...fields } = checkMessage(message)
      // The id first: a server that refuses the frame unread (rate limit) can still echo it.
      const text = serialize({ id, ...fields })
      const timeout = number('timeout', options.timeout, this.#settings.requestTimeout, 1)
      this.#assertUsable()
      this.#outbox.check(text)
      this.#requests.add(id, message.type, timeout, resolve, reject, options.signal)
      this.#outbox.send({ text, id })
    })
  }

  /**
   * Sends `message` without waiting for an answer (a server error then arrives as an `error`
   * event). Throws `RealtimeError` when it cannot be sent or queued.
   */
  send (message: OutgoingMessage): void {
    const text = serialize(checkMessage(message))
    this.#assertUsable()
    this.#outbox.check(text)
    this.#outbox.send({ text })
  }

  /** Measures the round trip now; resolves with the latency in ms (also stored in `latency`). */
  ping (): Promise<number> {
    if (!this.#outbox.writable) return Promise.reject(new RealtimeError(ErrorCode.DISCONNECTED, 'Not connected'))
    return this.#pings.wait()
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
    try {
      this.#startAttempt()
    } catch (err) {
      // A URL the WebSocket refuses: nothing is left running (no timer, no network listener).
      this.#stopWatchingNetwork?.()
      this.#stopWatchingNetwork = undefined
      this.#state = 'disconnected'
      throw err
    }
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
    const source = this.#urlSource
    const getToken = this.#settings.getToken
    const direct = typeof source === 'string' && getToken === undefined
    if (direct) this.#openSocket(source)
    // Covers the URL, the token, the handshake and the welcome; armed once the socket did not throw.
    this.#connectTimer = setTimeout(() => this.#giveUp(CloseCode.ABNORMAL, 'connect timeout'), this.#settings.connectTimeout)
    if (direct) return
    const failed = (err: unknown): void => {
      if (generation !== this.#generation) return
      this.emit('error', err instanceof Error ? err : new Error(String(err)))
      this.#giveUp(CloseCode.ABNORMAL, 'url failed')
    }
    try {
      Promise.resolve(typeof source === 'string' ? source : source()).then(async (url) => {
        if (generation !== this.#generation) return
        if (typeof url !== 'string') throw new TypeError('fastify-realtime client: the url function must return a string')
        if (getToken === undefined) {
          this.#openSocket(url)
          return
        }
        // A fresh token for every attempt: a reconnect after an hour offline never reuses an expired one.
        const token = await currentToken(getToken)
        if (generation !== this.#generation) return
        if (token === null) this.#loggedOut()
        else this.#openSocket(urlWithToken(url, token))
      }).catch(failed)
    } catch (err) {
      failed(err)
    }
  }

  #openSocket (url: string): void {
    this.#url = url
    this.#log.line('connecting', { url })
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

  /** `getToken()` has no token: stop for good, whatever the state. */
  #loggedOut (): void {
    this.emit('error', new RealtimeError(ErrorCode.LOGGED_OUT))
    this.close(CloseCode.NORMAL, 'logged out')
  }

  /** The current attempt or link is given up: drop it like a close. */
  #giveUp (code: number, reason: string): void {
    if (this.#socket !== undefined) this.#abandon(this.#socket, code, reason)
    else this.#onDrop(code, reason)
  }

  #onWelcome (welcome: WelcomeMessage): void {
    const socket = this.#socket
    if (this.#welcomed || socket === undefined) return
    clearTimeout(this.#connectTimer)
    this.#welcomed = true
    this.connectionId = welcome.connectionId
    this.nodeId = welcome.nodeId
    this.#stableTimer = setTimeout(() => { this.#attempt = 0 }, this.#settings.resetAfter)
    this.#liveness.start(this.#settings.pingInterval, this.#settings.pingTimeout)
    // Channels first, then what was queued, all ahead of anything a `welcome`, `open` or
    // `state` listener sends; paced below the server's rate limit.
    this.#outbox.open(socket, welcome, this.#channels.resubscribes())
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
    for (const id of this.#outbox.close()) this.#requests.fail(id, lost)
    this.#pings.rejectAll(lost)
    this.#channels.dropped()

    const stopping = this.#stopping !== undefined || !this.#settings.reconnect || FINAL_CLOSE_CODES.includes(code)
    // 1012: the node drains for a restart and is healthy: reconnect soon (the first attempt's
    // jittered window), whatever happened before, and the load balancer picks another node.
    if (code === CloseCode.SERVICE_RESTART) this.#attempt = 0
    // Offline, nothing is scheduled and no attempt is counted: the `online` event retries.
    const delay = stopping || this.#offline ? undefined : backoffDelay(++this.#attempt, this.#settings.backoff, this.#settings.random)
    this.#log.line('close', { code, reason })
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
    this.#log.line('network', { online })
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
    this.#outbox.close()
    this.#outbox.clear()
    this.#requests.failAll(stopped)
    this.#pings.rejectAll(stopped)
    // A disconnected client keeps its channels for the next connect().
    if (kind === 'closed') this.#channels.closed(stopped)
    else this.#channels.dropped()
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
    this.#liveness.stop()
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.#log.line('state', { state })
    this.emit('state', state)
  }

  // Outgoing

  #assertUsable (): void {
    if (this.#state === 'closed') throw stoppedError('closed')
  }

  // Incoming: one route per frame type; a new server frame gets its line here.

  readonly #routes: Record<string, (frame: any) => void> = {
    welcome: (frame: WelcomeMessage) => this.#onWelcome(frame),
    pong: (frame: PongMessage) => { if (frame.ts !== undefined) this.#onPong(frame.ts) },
    message: (frame: ChannelMessage) => {
      if (this.#channels.deliver(frame)) this.emit('message', frame)
    },
    broadcast: (frame: BroadcastMessage) => this.emit('broadcast', frame),
    chat: (frame: ChatBroadcastMessage) => this.emit('chat', frame),
    ack: (frame: AckMessage) => this.#requests.settle(frame.id, frame.data),
    subscribed: (frame: SubscribedMessage) => { if (frame.id !== undefined) this.#requests.settle(frame.id, frame) },
    presence: (frame: { id?: string }) => { if (frame.id !== undefined) this.#requests.settle(frame.id, frame) },
    presence_stats: (frame: { id?: string }) => { if (frame.id !== undefined) this.#requests.settle(frame.id, frame) },
    presence_diff: (frame: PresenceDiffMessage) => emitPresenceDiff(frame, (event, payload) => this.emit<typeof event>(event, payload as RealtimeClientEvents[typeof event])),
    unsubscribed: (frame: UnsubscribedMessage) => {
      if (frame.id !== undefined) this.#requests.settle(frame.id, undefined)
      // Nobody asked: the server dropped the channel.
      else this.#channels.get(frame.channel)?.ended('server')
    },
    error: (frame: ErrorMessage) => {
      const err = new RealtimeError(frame.code as ErrorCode, frame.message, frame.details)
      if (frame.id === undefined || !this.#requests.fail(frame.id, err)) this.emit('error', err)
    },
    // Without getToken the application answers it itself (the `frame` event).
    refresh_needed: () => this.#refresher?.refresh()
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
    if (this.#log.enabled) this.#log.frame('receive', data, frame)
    this.emit('frame', frame)
    // Own properties only: a frame typed "constructor" or "__proto__" is not a route.
    if (Object.hasOwn(this.#routes, frame.type)) this.#routes[frame.type]!(frame)
  }

  #onPong (ts: number): void {
    const latency = this.#pings.answered(ts)
    this.latency = latency
    this.emit('latency', latency)
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
