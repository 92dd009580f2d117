// The plugin's runtime, exposed as `app.realtime`: connections, channels, the broker and
// the message types. `index.ts` wires it into Fastify; this file knows nothing of routes.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type WebSocket from 'ws'
import Type, { IsObject, type Static, type TObject, type TSchema } from 'typebox'
import { ChannelRegistry } from './channel-registry.js'
import { Connection, type TrafficCounters } from './connection.js'
import { Dispatcher } from './dispatcher.js'
import { registerBuiltInHandlers } from './builtin-handlers.js'
import { ErrorCode, RealtimeError, CloseCode } from './errors.js'
import { FanOut } from './fanout.js'
import { releaseUpgradeResponse } from './ws-internals.js'
import { broadcastFrame, channelFrame, chatFrame } from './frames.js'
import { Heartbeat } from './heartbeat.js'
import { Authorization } from './authorization.js'
import { RateLimiter } from './rate-limit.js'
import { SlowConsumerGuard } from './slow-consumer.js'
import type { RateLimitOptions, ResolvedOptions, SlowConsumerOptions } from './options.js'
import { CUSTOM_TYPE_PATTERN, RESERVED_TYPES, RequestId, isValidChannel } from './protocol.js'
import { BROADCAST_CHANNEL, type Broker, type BrokerState } from './brokers/broker.js'
import { ChannelPayloads } from './channels/channel-payloads.js'
import type { RegisteredContract, ReplyOf } from './channels/contract-types.js'
import { asyncApiDocument, type AsyncApiDocument, type AsyncApiInfo } from './channels/asyncapi.js'
import type { RealtimeInjector } from './testing/inject-client.js'

export interface RealtimeSettings extends Pick<ResolvedOptions, 'authorize' | 'allowClientPublish' | 'userId' | 'channels' | 'contract' | 'path'> {
  nodeId: string
  heartbeatInterval: number
  heartbeatTimeout: number
  closeGracePeriod: number
  maxSubscriptionsPerConnection: number
  rateLimit: false | RateLimitOptions
  slowConsumer: SlowConsumerOptions
  /** When on, published frames go through ws so that they are compressed. */
  perMessageDeflate: boolean
}

export interface RealtimeStats {
  connections: number
  channels: number
  messagesIn: number
  messagesOut: number
  errors: number
  bytesOut: number
  broker: BrokerState
  nodeId: string
  /** Connections closed with 1013 for not reading what they were sent. */
  slowConsumersClosed: number
  /** Frames skipped for connections over the queued-bytes cap (policy `drop`). */
  slowConsumerDrops: number
  /** Incoming frames refused by the rate limit. */
  rateLimited: number
  /** Connections closed with 1008 for sustained abuse of the rate limit. */
  rateLimitClosed: number
}

/** What a registered message type's handler receives: the schema's fields plus `type` and `id`. */
export type CustomMessage<Type extends string, Schema extends TSchema> = Static<Schema> & { type: Type, id?: string }

/** `Reply` is what the registered contract (if any) says the message type answers. */
export type CustomMessageHandler<Message, Reply = unknown> = (message: Message, connection: Connection) => Reply | Promise<Reply>

function ignore (): void {}

// Sockets carry their connection under a symbol so one set of listeners serves them all.
const kConnection = Symbol('fastify-realtime.connection')
type TrackedSocket = WebSocket & { [kConnection]?: Connection }

export class Realtime {
  readonly nodeId: string
  readonly #settings: RealtimeSettings
  readonly #broker: Broker
  readonly #log: FastifyBaseLogger
  readonly #connections = new Map<string, Connection>()
  readonly #registry = new ChannelRegistry()
  readonly #counters: TrafficCounters = { messagesIn: 0, messagesOut: 0, errors: 0, bytesOut: 0 }
  readonly #dispatcher = new Dispatcher(this.#counters)
  readonly #fanOut: FanOut
  readonly #payloads: ChannelPayloads
  /** Registered message types and their schemas, for the AsyncAPI document. */
  readonly #messageTypes = new Map<string, TObject>()
  readonly #heartbeat: Heartbeat
  readonly #authorization: Authorization
  readonly #rateLimiter: RateLimiter | undefined
  readonly #slowConsumers: SlowConsumerGuard
  /** Channel operations still running, per connection and channel: each waits for the one before. */
  readonly #channelOperations = new WeakMap<Connection, Map<string, Promise<void>>>()

  constructor (settings: RealtimeSettings, broker: Broker, log: FastifyBaseLogger) {
    this.#settings = settings
    this.#payloads = new ChannelPayloads(settings.channels)
    this.#authorization = new Authorization(settings)
    this.#rateLimiter = settings.rateLimit === false ? undefined : new RateLimiter(settings.rateLimit)
    this.#slowConsumers = new SlowConsumerGuard(settings.slowConsumer, settings.closeGracePeriod)
    // The cap is checked on the fast path before every write, corked bytes included.
    this.#fanOut = new FanOut(this.#counters, this.#slowConsumers, { writeDirect: settings.perMessageDeflate === false })
    this.nodeId = settings.nodeId
    this.#broker = broker
    this.#log = log
    this.#heartbeat = new Heartbeat(
      () => this.#connections.values(),
      { interval: settings.heartbeatInterval, timeout: settings.heartbeatTimeout },
      (connection) => {
        connection.log.info('no heartbeat answer, terminating')
        connection.socket.terminate()
      }
    )
    registerBuiltInHandlers(this.#dispatcher, this)
  }

  // Public API (app.realtime)

  get connectionCount (): number {
    return this.#connections.size
  }

  /** Names of the channels with at least one subscriber on this node. */
  channels (): string[] {
    return this.#registry.channels()
  }

  subscriberCount (channel: string): number {
    return this.#registry.subscriberCount(channel)
  }

  connection (id: string): Connection | undefined {
    return this.#connections.get(id)
  }

  connections (): IterableIterator<Connection> {
    return this.#connections.values()
  }

  stats (): RealtimeStats {
    return {
      connections: this.#connections.size,
      channels: this.#registry.channelCount,
      ...this.#counters,
      broker: this.#broker.state,
      nodeId: this.nodeId,
      slowConsumersClosed: this.#slowConsumers.closed,
      slowConsumerDrops: this.#slowConsumers.dropped,
      rateLimited: this.#rateLimiter?.refused ?? 0,
      rateLimitClosed: this.#rateLimiter?.closed ?? 0
    }
  }

  /**
   * Closes every connection of a user (by `userId`, see the option) with 1008, e.g. when
   * a session is revoked or expires. Returns how many were closed.
   */
  disconnectUser (userId: string | number, reason = 'session ended'): number {
    const wanted = String(userId)
    let closed = 0
    for (const connection of this.#connections.values()) {
      if (this.#authorization.userIdOf(connection.user) !== wanted) continue
      connection.close(CloseCode.POLICY_VIOLATION, closeReason(reason))
      closed++
    }
    if (closed > 0) this.#log.info({ userId: wanted, connections: closed }, 'disconnected user')
    return closed
  }

  /**
   * Adds an application message type. `schema` describes the message's own fields; `type`
   * and an optional request `id` are added. A frame with an `id` is answered with `ack`,
   * carrying what the handler returned; a handler that throws `RealtimeError` answers with
   * that code, anything else with `internal_error`.
   */
  handle<T extends string, S extends TObject> (type: T, schema: S, handler: CustomMessageHandler<CustomMessage<T, S>, ReplyOf<RegisteredContract, T>>): this {
    if (typeof type !== 'string' || !CUSTOM_TYPE_PATTERN.test(type)) {
      throw new TypeError(`fastify-realtime: invalid message type name ${JSON.stringify(type)}`)
    }
    if (RESERVED_TYPES.has(type)) throw new TypeError(`fastify-realtime: message type "${type}" is part of the protocol`)
    if (this.#dispatcher.has(type)) throw new TypeError(`fastify-realtime: message type "${type}" is already registered`)
    if (!IsObject(schema)) throw new TypeError(`fastify-realtime: the schema of "${type}" must be a Type.Object`)
    if (typeof handler !== 'function') throw new TypeError(`fastify-realtime: the handler of "${type}" must be a function`)

    this.#messageTypes.set(type, schema)
    const { properties, required: _required, ...options } = schema
    const frameSchema = Type.Object({ ...properties, type: Type.Literal(type), id: Type.Optional(RequestId) }, options)
    this.#dispatcher.register(type, frameSchema, async (message: CustomMessage<T, S>, connection: Connection) => {
      const result = await handler(message, connection)
      if (message.id !== undefined) {
        connection.send(result === undefined ? { type: 'ack', id: message.id } : { type: 'ack', id: message.id, data: result })
      }
    })
    return this
  }

  /** Delivers `data` to every subscriber of `channel` on every node. */
  async publish (channel: string, data: unknown): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid channel name ${JSON.stringify(channel)}`)
    this.#payloads.check(channel, data)
    await this.#broker.publish(channel, channelFrame(channel, data, Date.now()))
  }

  /** Delivers `data` to every connection on every node. */
  async broadcast (data: unknown): Promise<void> {
    await this.#broker.publish(BROADCAST_CHANNEL, broadcastFrame(data, Date.now()))
  }

  /**
   * Subscribes a connection; resolves once frames of the channel reach this node.
   * Subscribes and unsubscribes of one connection and channel run in request order.
   */
  async subscribe (connection: Connection, channel: string): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    await this.#inOrder(connection, channel, () => this.#join(connection, channel))
  }

  async unsubscribe (connection: Connection, channel: string): Promise<void> {
    await this.#inOrder(connection, channel, async () => {
      if (this.#registry.remove(connection, channel)) await this.#broker.unsubscribe(channel)
    })
  }

  /**
   * The AsyncAPI 3.0 document of the WebSocket endpoint: the protocol's frames, every channel
   * rule with its payload schema, the registered message types and the error codes.
   */
  asyncapi (info: AsyncApiInfo = {}): AsyncApiDocument {
    return asyncApiDocument({
      path: this.#settings.path,
      rules: this.#settings.channels.rules,
      contract: this.#settings.contract,
      messageTypes: this.#messageTypes,
      allowClientPublish: this.#settings.allowClientPublish,
      info
    })
  }

  /** Logs the contract's message types no `handle()` registered: clients would get `unknown_type`. */
  warnAboutContract (): void {
    for (const type of Object.keys(this.#settings.contract?.messages ?? {})) {
      if (!this.#messageTypes.has(type)) this.#log.warn({ messageType: type }, 'the contract lists a message type no app.realtime.handle() registered')
    }
  }

  /**
   * For tests: a `RealtimeClient` connected over `app.injectWS()` (no port), typed by the
   * registered contract; `headers` reach `authenticate`. Set by the plugin (see docs/testing.md).
   */
  inject: RealtimeInjector = async () => { throw new Error('fastify-realtime: inject() needs the plugin registered') }

  // Used by the built-in handlers

  /** A client's subscribe: namespace rules, `authorize`, then the subscription limit. */
  async subscribeFrom (connection: Connection, channel: string): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    // Inside the in-order queue, so a pipelined unsubscribe cannot overtake a subscribe
    // that is still being authorized.
    await this.#inOrder(connection, channel, async () => {
      await this.#authorization.check(connection, channel, 'subscribe')
      // Checked in the same synchronous step as #join's registry add, so concurrent
      // subscribes of one connection cannot overshoot the limit.
      const limit = this.#settings.maxSubscriptionsPerConnection
      if (connection.channels.size >= limit && !connection.channels.has(channel)) {
        throw new RealtimeError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `At most ${limit} subscriptions per connection`)
      }
      await this.#join(connection, channel)
    })
  }

  /** A client's publish. */
  async publishFrom (connection: Connection, channel: string, data: unknown): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    await this.#authorization.check(connection, channel, 'publish')
    await this.publish(channel, data)
  }

  /** A client's chat line, delivered to everyone as `{type:'chat', from, content, ts}`. */
  async chat (connection: Connection, content: string): Promise<void> {
    // A chat line reaches every connection on every node: it needs permission like a publish.
    await this.#authorization.check(connection, BROADCAST_CHANNEL, 'chat')
    await this.#broker.publish(BROADCAST_CHANNEL, chatFrame(connection.id, content, Date.now()))
  }

  // Lifecycle, driven by index.ts

  async start (): Promise<void> {
    await this.#broker.start({ onMessage: this.#deliver, log: this.#log, nodeId: this.nodeId })
    try {
      await this.#broker.subscribe(BROADCAST_CHANNEL)
    } catch (err) {
      // A broker started degraded keeps the reference and subscribes once it connects.
      if (this.#broker.state !== 'unavailable') {
        // Registration fails: release what the broker opened, or its connections keep the process alive.
        await this.#broker.close().catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'broker close after a failed start failed'))
        throw err
      }
      this.#log.warn({ err }, 'broadcast channel not subscribed yet: the broker is unavailable')
    }
    this.#heartbeat.start()
  }

  /** Takes a freshly upgraded socket. Listeners are attached before any await, so no frame is lost. */
  accept (socket: WebSocket, request: FastifyRequest, user?: unknown): Connection {
    const connection = new Connection({ socket, remoteAddress: request.ip, log: request.log, user, holdIfMidMessage: this.#holdIfMidMessage }, this.#counters)
    const tracked = socket as TrackedSocket
    tracked[kConnection] = connection
    // What an idle connection does not need goes: @fastify/websocket's own error listener closes
    // over the whole request and reply (one shared listener below does the same job), and the
    // TCP socket still points at the hijacked HTTP response.
    socket.removeAllListeners('error')
    releaseUpgradeResponse(socket)
    socket.on('error', this.#onSocketError)
    socket.on('message', this.#onSocketMessage)
    socket.on('pong', this.#onSocketPong)
    socket.on('close', this.#onSocketClose)
    this.#connections.set(connection.id, connection)
    connection.log.debug({ remoteAddress: connection.remoteAddress }, 'connection opened')
    connection.send({
      type: 'welcome',
      connectionId: connection.id,
      nodeId: this.nodeId,
      heartbeatInterval: this.#settings.heartbeatInterval
    })
    return connection
  }

  /** Stops the heartbeat and closes every socket with 1001, terminating those that do not answer in time. */
  async closeConnections (): Promise<void> {
    this.#heartbeat.stop()
    const open = [...this.#connections.values()]
    if (open.length === 0) return
    const closed = open.map((connection) => new Promise<void>((resolve) => {
      if (connection.socket.readyState === connection.socket.CLOSED) resolve()
      else connection.socket.once('close', () => resolve())
    }))
    for (const connection of open) connection.close(CloseCode.GOING_AWAY, 'server shutting down')
    let timer: NodeJS.Timeout | undefined
    const gracePeriod = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.#settings.closeGracePeriod) })
    await Promise.race([Promise.all(closed), gracePeriod])
    clearTimeout(timer)
    for (const connection of open) connection.socket.terminate()
  }

  async stop (): Promise<void> {
    this.#heartbeat.stop()
    this.#fanOut.flush()
    this.#registry.clear()
    this.#connections.clear()
    await this.#broker.close()
  }

  // Internals

  readonly #holdIfMidMessage = (connection: Connection, text: string): boolean => this.#fanOut.holdIfMidMessage(connection, text)

  #deliver = (channel: string, frame: string): void => {
    if (channel === BROADCAST_CHANNEL) {
      this.#fanOut.send(frame, this.#connections.values())
      return
    }
    const members = this.#registry.members(channel)
    if (members !== undefined) this.#fanOut.send(frame, members)
  }

  async #join (connection: Connection, channel: string): Promise<void> {
    // A connection that closed while this waited its turn must not re-enter the registry.
    if (!this.#connections.has(connection.id)) return
    // Already a member: operations run in order, so its subscription is live.
    if (!this.#registry.add(connection, channel)) return
    try {
      await this.#broker.subscribe(channel)
    } catch (err) {
      // The broker holds a reference even when it fails; drop it unless a disconnect already did.
      if (this.#registry.remove(connection, channel)) this.#releaseChannel(channel)
      throw err instanceof RealtimeError ? err : new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
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

  #remove (connection: Connection): void {
    if (!this.#connections.delete(connection.id)) return
    for (const channel of this.#registry.removeAll(connection)) this.#releaseChannel(channel)
  }

  // One listener of each kind for all sockets; `this` is the socket.
  readonly #onSocketMessage = (() => {
    const dispatcher = this.#dispatcher
    // Read at call time: field initializers run before the constructor creates these.
    const admit = (connection: Connection): boolean => {
      if (this.#rateLimiter !== undefined && !this.#rateLimiter.admit(connection)) return false
      // A client that sends but does not read would pile up our replies: same cap as fan-out.
      return this.#slowConsumers.admit(connection, 0)
    }
    return function onSocketMessage (this: TrackedSocket, data: Buffer, isBinary: boolean): void {
      const connection = this[kConnection]
      if (connection === undefined) return
      // Only a frame we process counts as alive: a client over its cap that keeps sending but
      // never reads must still fall to the heartbeat.
      if (!admit(connection)) return
      connection.alive = true
      dispatcher.dispatch(connection, data, isBinary)
    }
  })()

  // Replaces the route's per-socket errorHandler listener (which closes over the request and
  // reply). ws emits 'error' for a protocol violation or an oversized frame and closes the
  // socket itself with the matching code (1002, 1007, 1009): log it, and let that close go out.
  readonly #onSocketError = function onSocketError (this: TrackedSocket, err: Error): void {
    this[kConnection]?.log.info({ err }, 'websocket error, connection closing')
  }

  readonly #onSocketPong = (() => {
    // Read at call time: field initializers run before the constructor creates the heartbeat.
    const answers = (data: Buffer): boolean => this.#heartbeat.isAnswer(data)
    return function onSocketPong (this: TrackedSocket, data: Buffer): void {
      const connection = this[kConnection]
      // An unsolicited pong (or one for an older ping) says nothing about reading.
      if (connection !== undefined && answers(data)) connection.alive = true
    }
  })()

  readonly #onSocketClose = (() => {
    const remove = (connection: Connection): void => this.#remove(connection)
    return function onSocketClose (this: TrackedSocket, code: number): void {
      const connection = this[kConnection]
      if (connection === undefined) return
      connection.log.debug({ code }, 'connection closed')
      remove(connection)
    }
  })()
}

/** A close reason fits in 123 bytes of UTF-8 (RFC 6455); ws throws on a longer one. */
function closeReason (reason: string): string {
  let text = String(reason).slice(0, 123)
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1)
  return text
}
