// The plugin's runtime, exposed as `app.realtime`: connections, channels, the broker and
// the message types, composed from the parts that do each job (channel-membership.ts,
// socket-listeners.ts, message-types.ts, ...) around the fan-out of delivered frames.
// `index.ts` wires it into Fastify; this file knows nothing of routes.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type WebSocket from 'ws'
import type { TObject } from 'typebox'
import { ChannelRegistry } from './channel-registry.js'
import { ChannelMembership } from './channel-membership.js'
import { SocketListeners } from './socket-listeners.js'
import { UserConnections } from './user-connections.js'
import { MessageTypes, type CustomMessage, type CustomMessageHandler } from './message-types.js'
import { Connection, type TrafficCounters } from './connection.js'
import { Dispatcher } from './dispatcher.js'
import { registerBuiltInHandlers } from './builtin-handlers.js'
import { ErrorCode, RealtimeError, CloseCode } from './errors.js'
import { FanOut } from './fanout.js'
import { broadcastFrame, channelFrame, chatFrame } from './frames.js'
import { Heartbeat } from './heartbeat.js'
import { closeGoingAway } from './shutdown.js'
import { ArrivalOrder } from './arrival-order.js'
import { Authorization } from './authorization.js'
import { RateLimiter } from './rate-limit.js'
import { SlowConsumerGuard } from './slow-consumer.js'
import { isValidChannel } from './protocol.js'
import { BROADCAST_CHANNEL, type Broker, type StreamPosition, type PresenceStats } from './brokers/broker.js'
import { Presence } from './presence/presence.js'
import { PresenceRules } from './presence/presence-rules.js'
import { registerPresenceHandlers } from './presence/presence-handlers.js'
import type { PresenceUser } from './protocol.js'
import { SessionTracker } from './sessions/session-tracker.js'
import { registerRefreshHandler } from './sessions/refresh-handler.js'
import type { SubscriptionTokenOptions } from './sessions/subscription-token.js'
import type { RealtimeSettings, RealtimeStats } from './realtime-types.js'
import { LifecycleHooks, type RealtimeHookHandlers, type RealtimeHookName } from './hooks/lifecycle-hooks.js'
import { Drainer, type DrainOptions } from './drain.js'
import { ClusterCommands, isClusterChannel } from './cluster/cluster-commands.js'
import { ChannelHistory, type HistoryOptions, type HistoryResult, type SubscribeOutcome } from './history/channel-history.js'
import { ChannelPayloads } from './channels/channel-payloads.js'
import type { RegisteredContract, ReplyOf } from './channels/contract-types.js'
import { asyncApiDocument, type AsyncApiDocument, type AsyncApiInfo } from './channels/asyncapi.js'
import type { RealtimeInjector } from './testing/inject-client.js'

export type { RealtimeSettings, RealtimeStats } from './realtime-types.js'
export type { CustomMessage, CustomMessageHandler } from './message-types.js'

export class Realtime {
  readonly nodeId: string
  readonly #settings: RealtimeSettings
  readonly #broker: Broker
  readonly #log: FastifyBaseLogger
  readonly #connections = new Map<string, Connection>()
  /** Broadcast recipients: connections past their `welcome` (a connect hook may still refuse the others). */
  readonly #welcomed = new Set<Connection>()
  readonly #registry = new ChannelRegistry()
  readonly #counters: TrafficCounters = { messagesIn: 0, messagesOut: 0, errors: 0, bytesOut: 0, errorsByCode: {} }
  readonly #hooks = new LifecycleHooks()
  readonly #dispatcher = new Dispatcher(this.#counters, this.#hooks)
  readonly #fanOut: FanOut
  readonly #payloads: ChannelPayloads
  readonly #messageTypes = new MessageTypes(this.#dispatcher)
  readonly #heartbeat: Heartbeat
  readonly #authorization: Authorization
  readonly #rateLimiter: RateLimiter | undefined
  readonly #slowConsumers: SlowConsumerGuard
  /** Only when a channel rule asks for presence. */
  readonly #presence: Presence | undefined
  readonly #sessions: SessionTracker
  readonly #history: ChannelHistory
  readonly #welcomeRateLimit: { rateLimit?: { messagesPerSecond: number, burst: number } }
  readonly #membership: ChannelMembership
  readonly #socketListeners: SocketListeners
  readonly #users: UserConnections
  readonly #arrivalOrder: ArrivalOrder
  readonly #drainer = new Drainer()
  #heartbeatTerminations = 0
  #connectionsClosed = 0
  /** Called with each delivery's recipient count on this node (metrics); unset costs nothing. */
  onDelivered: ((recipients: number) => void) | undefined
  /** `disconnectUser()`, `unsubscribeUser()`, `connectionsOf()` and `stats()` over every node. */
  readonly cluster: ClusterCommands

  constructor (settings: RealtimeSettings, broker: Broker, log: FastifyBaseLogger) {
    this.#settings = settings
    this.#payloads = new ChannelPayloads(settings.channels)
    this.#authorization = new Authorization(settings)
    this.#arrivalOrder = new ArrivalOrder(settings.authorize !== undefined)
    this.#rateLimiter = settings.rateLimit === false ? undefined : new RateLimiter(settings.rateLimit)
    this.#welcomeRateLimit = settings.rateLimit === false
      ? {}
      : { rateLimit: { messagesPerSecond: settings.rateLimit.messagesPerSecond, burst: settings.rateLimit.burst } }
    this.#slowConsumers = new SlowConsumerGuard(settings.slowConsumer, settings.closeGracePeriod)
    // The cap is checked on the fast path before every write, corked bytes included.
    this.#fanOut = new FanOut(this.#counters, this.#slowConsumers, { writeDirect: settings.perMessageDeflate === false })
    this.nodeId = settings.nodeId
    this.#broker = broker
    this.#log = log
    this.#history = new ChannelHistory(settings.channels, broker)
    this.#heartbeat = new Heartbeat(
      () => this.#connections.values(),
      { interval: settings.heartbeatInterval, timeout: settings.heartbeatTimeout },
      (connection) => {
        connection.log.info('no heartbeat answer, terminating')
        this.#heartbeatTerminations++
        connection.socket.terminate()
      }
    )
    this.#socketListeners = new SocketListeners({
      dispatcher: this.#dispatcher,
      hooks: this.#hooks,
      heartbeat: this.#heartbeat,
      rateLimiter: this.#rateLimiter,
      slowConsumers: this.#slowConsumers,
      closed: this.#closed
    })
    const presenceRules = new PresenceRules(settings.channels)
    this.#presence = presenceRules.used
      ? new Presence({
        nodeId: settings.nodeId,
        heartbeatInterval: settings.heartbeatInterval,
        options: settings.presence,
        presenceInfo: settings.presenceInfo,
        userIdOf: (connection) => this.#authorization.userIdOf(connection.user)
      }, presenceRules, broker, log)
      : undefined
    this.#membership = new ChannelMembership({
      settings,
      registry: this.#registry,
      broker,
      history: this.#history,
      presence: this.#presence,
      hooks: this.#hooks,
      authorization: this.#authorization,
      fanOut: this.#fanOut,
      log,
      isOpen: (connection) => this.#connections.has(connection.id)
    })
    this.#users = new UserConnections(this.#connections, this.#authorization, this.#membership, log)
    registerBuiltInHandlers(this.#dispatcher, this)
    registerPresenceHandlers(this.#dispatcher, this.#presence, (connection, channel) => this.#authorization.check(connection, channel, 'subscribe'))
    this.#sessions = new SessionTracker(settings)
    registerRefreshHandler(this.#dispatcher, this.#sessions)
    this.cluster = new ClusterCommands(this, broker, log, { commandTimeout: settings.clusterCommandTimeout, announceInterval: settings.clusterAnnounceInterval })
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
      errorsByCode: { ...this.#counters.errorsByCode },
      broker: this.#broker.state,
      nodeId: this.nodeId,
      slowConsumersClosed: this.#slowConsumers.closed,
      slowConsumerDrops: this.#slowConsumers.dropped,
      rateLimited: this.#rateLimiter?.refused ?? 0,
      rateLimitClosed: this.#rateLimiter?.closed ?? 0,
      heartbeatTerminations: this.#heartbeatTerminations,
      connectionsClosed: this.#connectionsClosed,
      sessionsExpired: this.#sessions.expired
    }
  }

  /** Who is subscribed to `channel` on every node, grouped per user. Rejects with `presence_disabled` when its rule has no presence. */
  async presence (channel: string): Promise<PresenceUser[]> {
    if (this.#presence === undefined) throw new RealtimeError(ErrorCode.PRESENCE_DISABLED)
    return await this.#presence.members(channel)
  }

  /** How many users and connections are subscribed to `channel` on every node. */
  async presenceStats (channel: string): Promise<PresenceStats> {
    if (this.#presence === undefined) throw new RealtimeError(ErrorCode.PRESENCE_DISABLED)
    return await this.#presence.stats(channel)
  }

  /** Adds a lifecycle hook (see lib/hooks/lifecycle-hooks.ts); sync or async, errors are logged. */
  addHook<Name extends RealtimeHookName> (name: Name, fn: RealtimeHookHandlers[Name]): this {
    this.#hooks.add(name, fn)
    return this
  }

  /** The connections of a user on this node (`app.realtime.cluster.connectionsOf()` for every node). */
  connectionsOf (userId: string | number): Connection[] {
    return this.#users.of(userId)
  }

  /**
   * Unsubscribes every connection of a user on this node from `channel` and tells each client
   * (`unsubscribed` without an id); returns how many were subscribed.
   */
  unsubscribeUser (userId: string | number, channel: string): Promise<number> {
    return this.#users.unsubscribe(userId, channel)
  }

  /**
   * Closes every connection with 1012 (service restart), spread evenly over `overMs`, and
   * refuses new ones (503): clients reconnect to the other nodes without a thundering herd.
   * Resolves once they are all closed.
   */
  drain (options: DrainOptions = {}): Promise<void> {
    return this.#drainer.drain(this.#connections.values(), options, this.#settings.closeGracePeriod)
  }

  /** `drainOnClose`: like `drain()`, but a drain under way ends within `overMs` too. */
  drainBeforeClose (overMs: number): Promise<void> {
    return this.#drainer.drain(this.#connections.values(), { overMs }, this.#settings.closeGracePeriod, true)
  }

  /** True once `drain()` was called: the handshake answers 503. */
  get draining (): boolean {
    return this.#drainer.draining
  }

  /**
   * Closes every connection of a user (by `userId`, see the option) with 1008, e.g. when
   * a session is revoked or expires. Returns how many were closed.
   */
  disconnectUser (userId: string | number, reason = 'session ended'): number {
    return this.#users.disconnect(userId, reason)
  }

  /**
   * Adds an application message type. `schema` describes the message's own fields; `type`
   * and an optional request `id` are added. A frame with an `id` is answered with `ack`,
   * carrying what the handler returned; a handler that throws `RealtimeError` answers with
   * that code, anything else with `internal_error`.
   */
  handle<T extends string, S extends TObject> (type: T, schema: S, handler: CustomMessageHandler<CustomMessage<T, S>, ReplyOf<RegisteredContract, T>>): this {
    this.#messageTypes.add(type, schema, handler)
    return this
  }

  /** Delivers `data` to every subscriber of `channel` on every node. */
  async publish (channel: string, data: unknown): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid channel name ${JSON.stringify(channel)}`)
    this.#payloads.check(channel, data)
    const history = this.#history.limitsFor(channel)
    if (history !== undefined) await this.#history.publish(channel, data, history)
    else await this.#broker.publish(channel, channelFrame(channel, data, Date.now()))
  }

  /**
   * The kept messages of a history channel, with its current position: for HTTP routes
   * (the first page of a chat room). `limit` defaults to, and is capped at, the rule's `size`.
   */
  async history (channel: string, options?: HistoryOptions): Promise<HistoryResult> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid channel name ${JSON.stringify(channel)}`)
    return await this.#history.read(channel, options)
  }

  /** Delivers `data` to every connection on every node. */
  async broadcast (data: unknown): Promise<void> {
    await this.#broker.publish(BROADCAST_CHANNEL, broadcastFrame(data, Date.now()))
  }

  /**
   * Subscribes a connection; resolves once frames of the channel reach this node.
   * Subscribes and unsubscribes of one connection and channel run in request order.
   */
  subscribe (connection: Connection, channel: string): Promise<void> {
    return this.#membership.subscribe(connection, channel)
  }

  unsubscribe (connection: Connection, channel: string): Promise<void> {
    return this.#membership.unsubscribe(connection, channel)
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
      messageTypes: this.#messageTypes.schemas,
      allowClientPublish: this.#settings.allowClientPublish,
      info
    })
  }

  /** Logs the contract's message types no `handle()` registered: clients would get `unknown_type`. */
  warnAboutContract (): void {
    this.#messageTypes.warnAboutContract(this.#settings.contract, this.#log)
  }

  /**
   * For tests: a `RealtimeClient` connected over `app.injectWS()` (no port), typed by the
   * registered contract; `headers` reach `authenticate`. Set by the plugin (see docs/testing.md).
   */
  inject: RealtimeInjector = async () => { throw new Error('fastify-realtime: inject() needs the plugin registered') }

  // Used by the built-in handlers

  /**
   * A token that lets `user` (what `authenticate` returns for them) subscribe `channel`
   * without `authorize` being asked, for `expiresIn` ms (default 60 s). For an HTTP route
   * of the application; needs the `subscriptionTokenSecret` option. See docs/sessions.md.
   */
  subscriptionToken (user: unknown, channel: string, options?: SubscriptionTokenOptions): string {
    const tokens = this.#settings.subscriptionTokens
    if (tokens === undefined) throw new Error('fastify-realtime: set the subscriptionTokenSecret option to issue subscription tokens')
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid channel name ${JSON.stringify(channel)}`)
    return tokens.issue(this.#authorization.userIdOf(user), channel, options)
  }

  /**
   * A client's subscribe: namespace rules, `authorize` (or the subscription `token` instead),
   * then the subscription limit. `answer` gets the fields of `subscribed` (recovery,
   * position) before any replayed message is sent; `sentInfo` is the presence info sent.
   */
  subscribeFrom (connection: Connection, channel: string, since?: StreamPosition, answer?: (outcome: SubscribeOutcome) => void, sentInfo?: unknown, token?: string): Promise<void> {
    return this.#membership.subscribeFrom(connection, channel, since, answer, sentInfo, token)
  }

  /** A client's publish. */
  async publishFrom (connection: Connection, channel: string, data: unknown): Promise<void> {
    if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL)
    const allowed = this.#authorization.check(connection, channel, 'publish')
    await this.#arrivalOrder.run(connection, allowed, () => this.publish(channel, data))
  }

  /** A client's chat line, delivered to everyone as `{type:'chat', from, content, ts}`. */
  async chat (connection: Connection, content: string): Promise<void> {
    // A chat line reaches every connection on every node: it needs permission like a publish.
    const allowed = this.#authorization.check(connection, BROADCAST_CHANNEL, 'chat')
    await this.#arrivalOrder.run(connection, allowed, () => this.#broker.publish(BROADCAST_CHANNEL, chatFrame(connection.id, content, Date.now())))
  }

  // Lifecycle, driven by index.ts

  async start (): Promise<void> {
    await this.#broker.start({ onMessage: this.#deliver, log: this.#log, nodeId: this.nodeId, ingest: this.#ingest })
    try {
      await Promise.all([this.#broker.subscribe(BROADCAST_CHANNEL), this.cluster.start()])
    } catch (err) {
      // A broker started degraded keeps the reference and subscribes once it connects.
      if (this.#broker.state !== 'unavailable') {
        await this.cluster.stop()
        // Registration fails: release what the broker opened, or its connections keep the process alive.
        await this.#broker.close().catch((closeErr: unknown) => this.#log.warn({ err: closeErr }, 'broker close after a failed start failed'))
        throw err
      }
      this.#log.warn({ err }, 'broadcast channel not subscribed yet: the broker is unavailable')
    }
    await this.#presence?.start()
    this.#heartbeat.start()
  }

  /** Takes a freshly upgraded socket. Listeners are attached before any await, so no frame is lost. */
  accept (socket: WebSocket, request: FastifyRequest, user?: unknown): Connection {
    const connection = new Connection({ socket, remoteAddress: request.ip, log: request.log, user, holdIfMidMessage: this.#holdIfMidMessage }, this.#counters)
    this.#socketListeners.attach(socket, connection)
    this.#connections.set(connection.id, connection)
    this.#sessions.hold(connection, request)
    connection.log.debug({ remoteAddress: connection.remoteAddress }, 'connection opened')
    // Past the handshake checks before a drain began (authenticate still running): it goes too.
    if (this.#drainer.draining) {
      connection.close(CloseCode.SERVICE_RESTART, 'service restart')
      return connection
    }
    if (this.#hooks.connect.length === 0) this.#welcome(connection)
    else this.#hooks.admit(connection, request, this.#welcome, this.#dispatchFrame).catch((err: unknown) => connection.log.error({ err }, 'connect hooks failed'))
    return connection
  }

  readonly #welcome = (connection: Connection): void => {
    connection.send({
      type: 'welcome',
      connectionId: connection.id,
      nodeId: this.nodeId,
      heartbeatInterval: this.#settings.heartbeatInterval,
      // Told up front so a client refuses an oversized frame itself and paces below the limit.
      maxPayload: this.#settings.maxPayload,
      ...this.#welcomeRateLimit
    })
    this.#sessions.start(connection)
    this.#welcomed.add(connection)
  }

  readonly #dispatchFrame = (connection: Connection, data: Buffer, isBinary: boolean): void => {
    this.#dispatcher.dispatch(connection, data, isBinary)
  }

  /**
   * Stops the heartbeat and closes every socket with 1001 (ours and `others`, such as the
   * clients of other WebSocket routes), terminating those that do not answer in time.
   */
  async closeConnections (others: Iterable<WebSocket> = []): Promise<void> {
    this.#heartbeat.stop()
    this.#sessions.stop()
    this.#drainer.stop()
    const sockets = new Set(others)
    for (const connection of this.#connections.values()) sockets.add(connection.socket)
    await closeGoingAway(sockets, this.#settings.closeGracePeriod)
  }

  async stop (): Promise<void> {
    this.#heartbeat.stop()
    this.#sessions.stop()
    this.#drainer.stop()
    await this.cluster.stop()
    // Leaves of the connections just closed are written before the broker goes.
    await this.#presence?.stop()
    this.#fanOut.flush()
    this.#registry.clear()
    this.#welcomed.clear()
    this.#connections.clear()
    await this.#broker.close()
  }

  // Internals

  /** Data from outside the plugin (a device through the MQTT bridge) as a frame, or undefined when refused. */
  readonly #ingest = (channel: string, data: unknown): string | undefined => {
    if (!isValidChannel(channel)) return undefined
    try {
      // The channel's contract holds for data from devices as for the server's own publishes.
      this.#payloads.check(channel, data)
      return channelFrame(channel, data, Date.now())
    } catch (err) {
      this.#log.debug({ err, channel }, 'data from outside the plugin refused')
      return undefined
    }
  }

  readonly #holdIfMidMessage = (connection: Connection, text: string): boolean => this.#fanOut.holdIfMidMessage(connection, text)

  #deliver = (channel: string, frame: string): void => {
    if (channel === BROADCAST_CHANNEL) {
      const recipients = this.#fanOut.send(frame, this.#welcomed)
      if (this.onDelivered !== undefined) this.onDelivered(recipients)
      return
    }
    const members = this.#registry.members(channel)
    if (members !== undefined) {
      const recipients = this.#fanOut.send(frame, members)
      if (this.onDelivered !== undefined) this.onDelivered(recipients)
    } else if (isClusterChannel(channel)) {
      this.cluster.receive(channel, frame)
    }
    if (this.#history.live.active) this.#history.live.hold(channel, frame)
  }

  #remove (connection: Connection): void {
    this.#welcomed.delete(connection)
    if (!this.#connections.delete(connection.id)) return
    this.#sessions.end(connection)
    this.#membership.leaveAll(connection)
  }

  readonly #closed = (connection: Connection, code: number, reason: Buffer): void => {
    this.#remove(connection)
    this.#connectionsClosed++
    const hooks = this.#hooks
    if (hooks.disconnect.length !== 0) {
      hooks.notify(hooks.disconnect, connection, { code, reason: reason.toString(), lifetimeMs: Date.now() - connection.connectedAt })
    }
  }
}
