// RealtimeClient: one logical connection to a fastify-realtime server that survives
// reconnects. It keeps what the user asked for (channels, queued frames) across sockets,
// and reports everything else through typed events. Browser-safe: the protocol types are
// imported as types only (protocol.ts pulls TypeBox in at run time); errors.ts has no imports.
import type {
  BroadcastMessage, ChannelMessage, ChatBroadcastMessage, ServerMessage, WelcomeMessage
} from '../protocol.js'
import { CloseCode, ErrorCode, FINAL_CLOSE_CODES, RealtimeError } from '../errors.js'
import { backoffDelay } from './backoff.js'
import { resolveClientOptions, type ClientSettings, type RealtimeClientOptions, type WebSocketLike } from './options.js'
import { TypedEmitter, callSafely } from './typed-emitter.js'
import type { ChannelArgument, DataArgument, MessageType, RealtimeContract, ReplyOf, RequestFields } from './contract-types.js'

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export interface CloseInfo {
  code: number
  reason: string
  /** False when the client stops here: `close()` was called, the code is final, or the attempts are used up. */
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
  /** The socket is open; channels are resubscribed and queued frames sent. */
  open: { reconnected: boolean }
  /** The socket closed (or was given up as dead). */
  close: CloseInfo
  /** A reconnect is scheduled `delay` ms from now. */
  reconnecting: { attempt: number, delay: number }
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

export type ChannelHandler<Data = unknown> = (data: Data, message: ChannelMessage) => void

/** Calling it unsubscribes; `ready` settles when the server answers the first subscribe. */
export interface Subscription {
  (): void
  readonly ready: Promise<void>
}

interface PendingRequest {
  type: string
  resolve: (data: unknown) => void
  reject: (err: Error) => void
  /** Set once the frame is on the wire: only then can the connection lose it. */
  sent: boolean
  timer?: ReturnType<typeof setTimeout>
}

interface OutgoingFrame {
  text: string
  /** Request id whose timeout starts when the frame is written. */
  id?: string
}

interface ChannelEntry {
  subscribers: Set<{ handler: ChannelHandler<any> }>
  ready: Promise<void>
  confirm: () => void
  refuse: (err: Error) => void
  /** The server confirmed it at least once: `ready` has resolved, so only a final refusal lets it go. */
  confirmed: boolean
  /** Temporary refusals in a row; sets the backoff of the next subscribe retry. */
  retries: number
  retryTimer?: ReturnType<typeof setTimeout>
}

interface PingWaiter {
  ts: number
  resolve: (latency: number) => void
  reject: (err: Error) => void
}

// WebSocket.OPEN in both the DOM and `ws`; read as a constant so a minimal implementation need not carry statics.
const OPEN = 1

const now = (): number => performance.now()

/**
 * `Contract` (a type only: `RealtimeClient<typeof contract>`) types channel names, their data
 * and `request()`; without it channel data is `unknown` or the type parameter of each call.
 */
export class RealtimeClient<Contract extends RealtimeContract | undefined = undefined> extends TypedEmitter<RealtimeClientEvents> {
  readonly url: string
  /** Last round trip of a `ping`, in ms, measured on the client's clock; undefined before the first pong. */
  latency: number | undefined
  /** The current connection's id, from its `welcome` frame; undefined while disconnected. */
  connectionId: string | undefined
  /** The server node the current connection landed on, from `welcome`; undefined while disconnected. */
  nodeId: string | undefined

  readonly #settings: ClientSettings
  #state: ConnectionState = 'connecting'
  #socket: WebSocketLike | undefined
  #attempt = 0
  #hasOpened = false
  #closing = false
  #seq = 0
  readonly #pending = new Map<string, PendingRequest>()
  #queue: OutgoingFrame[] = []
  readonly #channels = new Map<string, ChannelEntry>()
  #pings: PingWaiter[] = []
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #connectTimer: ReturnType<typeof setTimeout> | undefined
  #stableTimer: ReturnType<typeof setTimeout> | undefined
  #pingTimer: ReturnType<typeof setInterval> | undefined
  #deadTimer: ReturnType<typeof setTimeout> | undefined

  /** Connects at once (state `connecting`). Throws on bad options or a URL the WebSocket refuses. */
  constructor (url: string, options: RealtimeClientOptions = {}) {
    super()
    this.url = url
    this.#settings = resolveClientOptions(options)
    this.#connect()
  }

  get state (): ConnectionState {
    return this.#state
  }

  /** Channels this client holds (and resubscribes after a reconnect). */
  get channels (): string[] {
    return [...this.#channels.keys()]
  }

  /**
   * Calls `handler` with the `data` of every message on `channel`. The subscription is kept
   * across reconnects until the returned function is called.
   */
  subscribe<const Argument = unknown> (channel: ChannelArgument<Contract, Argument>, handler: ChannelHandler<DataArgument<Contract, Argument>>): Subscription {
    this.#assertUsable()
    let entry = this.#channels.get(channel)
    if (entry === undefined) {
      const created = newChannelEntry()
      entry = created
      this.#channels.set(channel, created)
      if (this.#state === 'open') this.#sendSubscribe(channel, created)
    }
    const subscriber = { handler }
    const held = entry
    held.subscribers.add(subscriber)
    const unsubscribe = (): void => {
      if (!held.subscribers.delete(subscriber) || held.subscribers.size > 0) return
      if (this.#channels.get(channel) !== held) return
      this.#channels.delete(channel)
      clearTimeout(held.retryTimer)
      // No id: nothing waits for the answer, and after a reconnect the channel is simply not resubscribed.
      if (this.#state === 'open') this.#write({ text: JSON.stringify({ type: 'unsubscribe', channel }) })
    }
    return Object.assign(unsubscribe, { ready: held.ready })
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
  async publish<const Argument = unknown> (channel: ChannelArgument<Contract, Argument>, data: DataArgument<Contract, Argument>): Promise<void> {
    await this.request({ type: 'publish', channel, data })
  }

  /** Sends a chat line to every connection; resolves on the server's `ack`. */
  async chat (content: string): Promise<void> {
    await this.request({ type: 'chat', content })
  }

  /**
   * Sends `message` (or `{ ...fields, type }`) with a fresh `id` and resolves with the `data` of the server's `ack`
   * (what a handler registered with `app.realtime.handle()` returned). Rejects with
   * `RealtimeError`: the server's `error` code, `request_timeout`, `queue_full` or `disconnected`.
   */
  request<const Type extends MessageType<Contract>> (type: Type, fields: RequestFields<Contract, Type>): Promise<ReplyOf<Contract, Type>>
  request<Result = unknown> (message: OutgoingMessage): Promise<Result>
  request (typeOrMessage: string | OutgoingMessage, fields?: unknown): Promise<any> {
    const message: OutgoingMessage = typeof typeOrMessage === 'string' ? { ...(fields as object), type: typeOrMessage } : typeOrMessage
    return new Promise((resolve, reject) => {
      const id = String(++this.#seq)
      const text = serialize({ ...message, id })
      this.#assertUsable()
      this.#assertRoom()
      this.#pending.set(id, { type: message.type, resolve, reject, sent: false })
      this.#dispatch({ text, id })
    })
  }

  /**
   * Sends `message` without waiting for an answer (a server error then arrives as an `error`
   * event). Throws `RealtimeError` when it cannot be sent or queued.
   */
  send (message: OutgoingMessage): void {
    const text = serialize(message)
    this.#assertUsable()
    this.#assertRoom()
    this.#dispatch({ text })
  }

  /** Measures the round trip now; resolves with the latency in ms (also stored in `latency`). */
  ping (): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#state !== 'open') {
        reject(new RealtimeError(ErrorCode.DISCONNECTED, 'Not connected'))
        return
      }
      const ts = this.#sendPing()
      this.#pings.push({ ts, resolve, reject })
    })
  }

  /** Closes for good: no reconnect; queued frames and waiting requests fail with `disconnected`. */
  close (code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#state === 'closed') return
    const socket = this.#socket
    // Throws on a code the WebSocket refuses, before anything has changed.
    socket?.close(code, reason)
    this.#closing = true
    if (socket === undefined) this.#finish()
    else this.#onDrop(code, reason)
  }

  // Connection lifecycle

  #connect (): void {
    this.#reconnectTimer = undefined
    const socket = new this.#settings.WebSocket(this.url, this.#settings.protocols)
    this.#socket = socket
    // Handlers stay on a socket after it is abandoned (`ws` throws on an 'error' event without
    // a listener); the identity check makes a replaced socket's late events harmless.
    socket.onopen = () => { if (socket === this.#socket) this.#onOpen(socket) }
    socket.onmessage = (event) => { if (socket === this.#socket) this.#onMessage(event.data) }
    socket.onclose = (event) => { if (socket === this.#socket) this.#onDrop(event.code, event.reason) }
    // Browsers put nothing useful in the error event; the close event that follows decides.
    socket.onerror = () => {}
    this.#connectTimer = setTimeout(() => this.#abandon(socket, CloseCode.ABNORMAL, 'connect timeout'), this.#settings.connectTimeout)
  }

  #onOpen (socket: WebSocketLike): void {
    clearTimeout(this.#connectTimer)
    this.#stableTimer = setTimeout(() => { this.#attempt = 0 }, this.#settings.resetAfter)
    this.#pingTimer = setInterval(() => this.#heartbeat(socket), this.#settings.pingInterval)
    // Channels first, then what was queued, all before anyone hears `open`: a frame sent from
    // an `open` or `state` listener must not overtake the queue.
    for (const [channel, entry] of this.#channels) this.#sendSubscribe(channel, entry)
    const queued = this.#queue
    this.#queue = []
    for (const frame of queued) this.#write(frame)
    const reconnected = this.#hasOpened
    this.#hasOpened = true
    this.#setState('open')
    this.emit('open', { reconnected })
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
    this.#stopTimers()
    this.connectionId = undefined
    this.nodeId = undefined
    const lost = new RealtimeError(ErrorCode.DISCONNECTED)
    for (const [id, request] of this.#pending) {
      if (!request.sent) continue
      this.#pending.delete(id)
      clearTimeout(request.timer)
      request.reject(lost)
    }
    this.#rejectPings(lost)

    // The next open subscribes every held channel anyway.
    for (const entry of this.#channels.values()) this.#stopRetry(entry)

    const stopping = this.#closing || !this.#settings.reconnect || FINAL_CLOSE_CODES.includes(code)
    const delay = stopping ? undefined : backoffDelay(++this.#attempt, this.#settings.backoff, this.#settings.random)
    this.emit('close', { code, reason, willReconnect: delay !== undefined })
    // A `close` listener may have called close(), which finished the client already.
    if (this.#state === 'closed') return
    if (delay === undefined) {
      if (!stopping) {
        this.emit('error', new RealtimeError(ErrorCode.DISCONNECTED, `Gave up after ${this.#settings.backoff.maxAttempts} reconnect attempts`))
      }
      this.#finish()
      return
    }
    this.#setState('reconnecting')
    // Likewise from a `state` listener.
    if (this.#state !== 'reconnecting') return
    this.emit('reconnecting', { attempt: this.#attempt, delay })
    this.#reconnectTimer = setTimeout(() => this.#reconnect(), delay)
  }

  #reconnect (): void {
    try {
      this.#connect()
    } catch (err) {
      // The URL was accepted once, so this is the environment failing; retrying cannot help.
      this.emit('error', err as Error)
      this.#finish()
    }
  }

  #finish (): void {
    this.#stopTimers()
    clearTimeout(this.#reconnectTimer)
    this.#socket = undefined
    const closed = new RealtimeError(ErrorCode.DISCONNECTED, 'Client is closed')
    for (const request of this.#pending.values()) {
      clearTimeout(request.timer)
      request.reject(closed)
    }
    this.#pending.clear()
    this.#queue = []
    this.#rejectPings(closed)
    // Settles `ready` of subscriptions the server never confirmed; confirmed ones ignore it.
    for (const entry of this.#channels.values()) {
      this.#stopRetry(entry)
      entry.refuse(closed)
    }
    this.#setState('closed')
  }

  #stopTimers (): void {
    clearTimeout(this.#connectTimer)
    clearTimeout(this.#stableTimer)
    clearInterval(this.#pingTimer)
    clearTimeout(this.#deadTimer)
    this.#deadTimer = undefined
  }

  #setState (state: ConnectionState): void {
    if (this.#state === state) return
    this.#state = state
    this.emit('state', state)
  }

  // Heartbeat: browsers cannot see WebSocket-level pings, so the client pings in JSON and
  // counts any frame as a sign of life.

  #heartbeat (socket: WebSocketLike): void {
    this.#sendPing()
    this.#deadTimer ??= setTimeout(() => this.#abandon(socket, CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout'), this.#settings.pingTimeout)
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

  // Outgoing

  #assertUsable (): void {
    if (this.#state === 'closed') throw new RealtimeError(ErrorCode.DISCONNECTED, 'Client is closed')
  }

  /** Open and not already closing: a frame written now reaches the server or is reported lost. */
  #writable (): boolean {
    return this.#state === 'open' && this.#socket?.readyState === OPEN
  }

  #assertRoom (): void {
    if (!this.#writable() && this.#queue.length >= this.#settings.queueLimit) {
      throw new RealtimeError(ErrorCode.QUEUE_FULL, `Not connected and ${this.#settings.queueLimit} frames are already queued`)
    }
  }

  /** Writes now when open, otherwise queues for the next connection. */
  #dispatch (frame: OutgoingFrame): void {
    if (this.#writable()) this.#write(frame)
    else this.#queue.push(frame)
  }

  #write (frame: OutgoingFrame): void {
    const socket = this.#socket
    // Only pings, subscribes and unsubscribes get here while closing; the reconnect redoes them.
    if (socket === undefined || socket.readyState !== OPEN) return
    socket.send(frame.text)
    if (frame.id === undefined) return
    const request = this.#pending.get(frame.id)
    if (request === undefined) return
    request.sent = true
    const id = frame.id
    request.timer = setTimeout(() => {
      this.#pending.delete(id)
      request.reject(new RealtimeError(ErrorCode.REQUEST_TIMEOUT, `No answer to "${request.type}" within ${this.#settings.requestTimeout} ms`))
    }, this.#settings.requestTimeout)
  }

  #sendSubscribe (channel: string, entry: ChannelEntry): void {
    const id = String(++this.#seq)
    const request: PendingRequest = {
      type: 'subscribe',
      sent: false,
      resolve: () => {
        entry.retries = 0
        entry.confirmed = true
        entry.confirm()
        this.emit('subscribed', { channel })
      },
      reject: (err) => {
        const code = err instanceof RealtimeError ? err.code : undefined
        // A dropped connection is not a refusal: the channel is resubscribed on reconnect.
        if (code === ErrorCode.DISCONNECTED) return
        if (this.#channels.get(channel) !== entry) return
        // A broker outage (Redis away) passes: keep the channel and ask again; `ready` waits.
        // A slow server passes too for a channel the user already holds (confirmed before,
        // so `ready` has resolved): the user keeps it rather than losing it to one late answer.
        if (code === ErrorCode.BROKER_UNAVAILABLE || (code === ErrorCode.REQUEST_TIMEOUT && entry.confirmed)) {
          this.#retrySubscribe(channel, entry)
          this.emit('error', err)
          return
        }
        this.#channels.delete(channel)
        // Given up on an answer that may still come: leave nothing subscribed behind the user's back.
        if (code === ErrorCode.REQUEST_TIMEOUT && this.#writable()) this.#write({ text: JSON.stringify({ type: 'unsubscribe', channel }) })
        entry.refuse(err)
        this.emit('error', err)
      }
    }
    this.#pending.set(id, request)
    // Resuming from a history offset (a later issue) adds the last offset seen to this frame.
    // Through #write with the id, so the request timeout starts once the frame is on the wire.
    this.#write({ text: JSON.stringify({ type: 'subscribe', channel, id }), id })
    // Not written (the socket is closing): the next open subscribes again.
    if (!request.sent) this.#pending.delete(id)
  }

  /** Subscribes `channel` again after a backoff delay (reconnect's bounds, no attempt limit). */
  #retrySubscribe (channel: string, entry: ChannelEntry): void {
    this.#stopRetry(entry)
    const delay = backoffDelay(++entry.retries, { ...this.#settings.backoff, maxAttempts: Infinity }, this.#settings.random) ?? 0
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined
      if (this.#channels.get(channel) === entry && this.#writable()) this.#sendSubscribe(channel, entry)
    }, delay)
  }

  #stopRetry (entry: ChannelEntry): void {
    clearTimeout(entry.retryTimer)
    entry.retryTimer = undefined
  }

  // Incoming

  #onMessage (data: unknown): void {
    // Whatever arrives proves the link alive.
    clearTimeout(this.#deadTimer)
    this.#deadTimer = undefined
    let frame: IncomingFrame
    try {
      if (typeof data !== 'string') throw new TypeError('binary frame')
      frame = JSON.parse(data)
      if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') throw new TypeError('no type')
    } catch {
      this.emit('error', new RealtimeError(ErrorCode.INVALID_MESSAGE, 'The server sent a frame the client cannot read'))
      return
    }
    this.emit('frame', frame)
    const message = frame as ServerMessage
    switch (message.type) {
      case 'welcome':
        this.connectionId = message.connectionId
        this.nodeId = message.nodeId
        this.emit('welcome', message)
        break
      case 'pong':
        if (message.ts !== undefined) this.#onPong(message.ts)
        break
      case 'message':
        this.#deliver(message)
        break
      case 'broadcast':
        this.emit('broadcast', message)
        break
      case 'chat':
        this.emit('chat', message)
        break
      case 'ack':
        this.#settle(message.id, message.data)
        break
      case 'subscribed':
      case 'unsubscribed':
        if (message.id !== undefined) this.#settle(message.id, undefined)
        break
      case 'error': {
        const err = new RealtimeError(message.code as ErrorCode, message.message, message.details)
        const request = message.id === undefined ? undefined : this.#pending.get(message.id)
        if (request === undefined) {
          this.emit('error', err)
          break
        }
        this.#pending.delete(message.id!)
        clearTimeout(request.timer)
        request.reject(err)
        break
      }
    }
  }

  #settle (id: string, data: unknown): void {
    const request = this.#pending.get(id)
    if (request === undefined) return
    this.#pending.delete(id)
    clearTimeout(request.timer)
    request.resolve(data)
  }

  #deliver (message: ChannelMessage): void {
    const entry = this.#channels.get(message.channel)
    if (entry !== undefined) {
      for (const subscriber of [...entry.subscribers]) callSafely(subscriber.handler, message.data, message)
    }
    this.emit('message', message)
  }

  #onPong (ts: number): void {
    const latency = now() - ts
    this.latency = latency
    const waiting = this.#pings.filter((ping) => ping.ts === ts)
    if (waiting.length > 0) this.#pings = this.#pings.filter((ping) => ping.ts !== ts)
    for (const ping of waiting) ping.resolve(latency)
    this.emit('latency', latency)
  }
}

function newChannelEntry (): ChannelEntry {
  let confirm!: () => void
  let refuse!: (err: Error) => void
  const ready = new Promise<void>((resolve, reject) => {
    confirm = resolve
    refuse = reject
  })
  // Nobody has to await `ready`; an unobserved refusal is reported as an `error` event instead.
  ready.catch(() => {})
  return { subscribers: new Set(), ready, confirm, refuse, confirmed: false, retries: 0 }
}

function serialize (message: OutgoingMessage): string {
  if (message === null || typeof message !== 'object' || typeof message.type !== 'string') {
    throw new TypeError('fastify-realtime client: a message is an object with a string "type"')
  }
  try {
    return JSON.stringify(message)
  } catch (err) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, `Message cannot be serialized to JSON: ${(err as Error).message}`)
  }
}
