// Plugin options: one TypeBox schema with defaults, checked once at register time.
import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { FastifyRequest } from 'fastify'
import type { Broker } from './brokers/broker.js'
import type { Connection } from './connection.js'
import { MemoryBroker } from './brokers/memory-broker.js'
import { RedisBroker, type RedisBrokerOptions } from './brokers/redis-broker.js'
import { MqttBroker, type MqttBrokerOptions } from './brokers/mqtt-broker.js'
import { ChannelRules, type ChannelRuleOptions } from './channels/channel-rules.js'
import { createSessionExpiry, type SessionExpiryFunction } from './sessions/session-expiry.js'
import { MIN_SECRET_BYTES, SubscriptionTokens } from './sessions/subscription-token.js'
import { checkMetricsOptions, type MetricsOptions } from './metrics/prometheus-metrics.js'
import { checkContract } from './channels/contract.js'
import type { RealtimeContract } from './channels/contract-types.js'

export const OptionsSchema = Type.Object({
  /** Route of the WebSocket endpoint. */
  path: Type.String({ pattern: '^/', default: '/ws' }),
  /** Largest frame accepted, in bytes; a bigger one closes the socket with 1009. */
  maxPayload: Type.Integer({ minimum: 1, maximum: 100 * 1024 * 1024, default: 64 * 1024 }),
  /** Milliseconds between server pings. */
  heartbeatInterval: Type.Integer({ minimum: 10, default: 30_000 }),
  /** Milliseconds a peer has to answer a ping before it is dropped; less than `heartbeatInterval`. */
  heartbeatTimeout: Type.Integer({ minimum: 5, default: 10_000 }),
  /** Milliseconds `app.close()` waits for clients to answer the 1001 close before cutting them off. */
  closeGracePeriod: Type.Integer({ minimum: 0, default: 1000 }),
  /** This node's id, sent in the welcome frame and in broker envelopes. Random by default. */
  // Printable ASCII only: broker envelopes carry it with its length in bytes.
  nodeId: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,64}$' })),
  /** permessage-deflate; off by default (CPU, memory per socket). Inflated frames stay bounded by `maxPayload`. */
  perMessageDeflate: Type.Boolean({ default: false }),
  /** Open connections this node accepts; more upgrades are answered 503 before the upgrade. */
  maxConnections: Type.Integer({ minimum: 1, default: 10_000 }),
  /** Open connections per client address (the `trustProxy` address); more are answered 429. Off by default. */
  maxConnectionsPerAddress: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Channels one connection may be subscribed to at once; more answer `too_many_subscriptions`. */
  maxSubscriptionsPerConnection: Type.Integer({ minimum: 1, default: 100 }),
  /** Refuse (403) handshakes without an `Origin` header. Off: non-browser clients send none. */
  requireOrigin: Type.Boolean({ default: false }),
  /** Milliseconds before a session expires that the server sends `refresh_needed` (see docs/sessions.md). */
  refreshLeadTime: Type.Integer({ minimum: 0, default: 60_000 }),
  /** Whether clients may `publish` and `chat`; when false both answer `forbidden`. */
  allowClientPublish: Type.Boolean({ default: true }),
  /** Per-connection token bucket over every incoming frame, or `false` for none. */
  rateLimit: Type.Union([Type.Literal(false), Type.Object({
    /** Frames per second a connection may send, sustained. */
    messagesPerSecond: Type.Number({ exclusiveMinimum: 0, default: 50 }),
    /** Frames a connection may send at once; room for re-subscribing `maxSubscriptionsPerConnection` channels after a reconnect. */
    burst: Type.Integer({ minimum: 1, default: 200 }),
    /** Refused frames (answered `rate_limited`) before the connection is closed with 1008, unless its bucket fills up again first. */
    closeAfterRefused: Type.Integer({ minimum: 1, default: 100 })
  }, { additionalProperties: false })], { default: {} }),
  /** Milliseconds `app.close()` spends draining (1012, spread evenly) before the 1001 close of what is left; 0: no drain. */
  drainOnClose: Type.Integer({ minimum: 0, default: 0 }),
  /** Milliseconds a cluster-wide command (`app.realtime.cluster.*`) waits for the nodes to answer. */
  clusterCommandTimeout: Type.Integer({ minimum: 1, default: 2000 }),
  /** Milliseconds between a node's announcements on the control channel; one silent for 3 is forgotten. */
  clusterAnnounceInterval: Type.Integer({ minimum: 10, default: 5000 }),
  /** Cap on each connection's queued outgoing bytes, and what happens above it. */
  slowConsumer: Type.Object({
    /** Bytes queued on the socket (`writableLength`) above which the policy applies. */
    maxBufferedBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
    /** `close`: close with 1013 (terminated after `closeGracePeriod`); `drop`: skip frames for it until it catches up. */
    policy: Type.Union([Type.Literal('close'), Type.Literal('drop')], { default: 'close' })
  }, { default: {}, additionalProperties: false }),
  /** Presence of channels whose rule asks for it (see docs/presence.md). */
  presence: Type.Object({
    /** Milliseconds over which joins and leaves of a channel are coalesced into one `presence_diff` per node. */
    eventWindow: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
    /** Joins and leaves listed in one `presence_diff`; more are counted in its `more`. */
    maxEventsPerFrame: Type.Integer({ minimum: 1, default: 100 }),
    /** Largest presence info of a member, in bytes of JSON; larger info sent with a subscribe answers `invalid_message`. */
    maxInfoBytes: Type.Integer({ minimum: 2, maximum: 65_536, default: 1024 })
  }, { default: {}, additionalProperties: false })
})

export type DataOptions = Static<typeof OptionsSchema>
export type RateLimitOptions = Exclude<DataOptions['rateLimit'], false>
export type SlowConsumerOptions = DataOptions['slowConsumer']
export type PresenceOptions = DataOptions['presence']

/** A member's presence info from its connection (for example a display name from `connection.user`). */
export type PresenceInfoFunction = (connection: Connection) => unknown

/** What `authorize` is asked about. */
/** `chat` is asked with `channel` set to `'!broadcast'`: a chat line reaches every connection. */
export type ChannelAction = 'subscribe' | 'publish' | 'chat'

export interface AuthorizeRequest {
  connection: Connection
  /** What `authenticate` returned, or undefined without `authenticate`. */
  user: unknown
  channel: string
  action: ChannelAction
}

/** True allows; false, undefined or a throw refuses with `forbidden` (a thrown `RealtimeError` answers its own code). */
export type AuthorizeFunction = (request: AuthorizeRequest) => boolean | undefined | Promise<boolean | undefined>

/** Returns the user or context of the connection; throwing, or returning null/undefined/false, answers 401. */
export type AuthenticateFunction = (request: FastifyRequest) => unknown

/** Exact origins, anchored regexes, or a function deciding per origin. */
export type AllowedOrigins = ReadonlyArray<string | RegExp> | ((origin: string, request: FastifyRequest) => boolean)

export interface RealtimePluginOptions extends Partial<Omit<DataOptions, 'rateLimit' | 'slowConsumer' | 'presence'>> {
  /** Where frames travel between publishers and subscribers; `MemoryBroker` (one process) by default. */
  broker?: Broker
  /** Fan out through Redis: shorthand for `broker: new RedisBroker(redis)`. */
  redis?: RedisBrokerOptions
  /** Fan out through an MQTT server: shorthand for `broker: new MqttBroker(mqtt)` (needs the `mqtt` package). */
  mqtt?: MqttBrokerOptions
  rateLimit?: false | Partial<RateLimitOptions>
  slowConsumer?: Partial<SlowConsumerOptions>
  presence?: Partial<PresenceOptions>
  /** The presence info of a connection's membership in channels with presence (unless the client sends its own). */
  presenceInfo?: PresenceInfoFunction
  /** Runs before the upgrade; its result becomes `connection.user`. */
  authenticate?: AuthenticateFunction
  /** Decides each client `subscribe` and `publish`, after the built-in namespace rules. */
  authorize?: AuthorizeFunction
  /** Origins allowed to open a connection; any origin when unset. */
  allowedOrigins?: AllowedOrigins
  /** The id of a user, for `user:<id>` channels and `disconnectUser()`; default `user.id ?? user.sub`. */
  userId?: (user: unknown) => string | number | undefined
  /** Per-channel rules; the first whose `match` fits a channel decides for it (see lib/channels/). */
  channels?: readonly ChannelRuleOptions[]
  /** When a user's session expires, ms since the epoch (undefined: never); default the JWT `exp` claim. */
  sessionExpiry?: SessionExpiryFunction
  /** HMAC secret (at least 32 bytes) of subscription tokens; unset, `subscribe` frames with a token are refused. */
  subscriptionTokenSecret?: string | Buffer
  /** Prometheus metrics on your prom-client registry (needs the `prom-client` package). */
  metrics?: MetricsOptions
  /** Channel rules and message types from `defineContract()`; its `channels` replace the `channels` option. */
  contract?: RealtimeContract
}

export interface ResolvedOptions extends DataOptions {
  nodeId: string
  broker: Broker
  authenticate: AuthenticateFunction | undefined
  authorize: AuthorizeFunction | undefined
  allowedOrigins: AllowedOrigins | undefined
  userId: (user: unknown) => string | undefined
  channels: ChannelRules
  sessionExpiry: (user: unknown) => number | undefined
  subscriptionTokens: SubscriptionTokens | undefined
  metrics: MetricsOptions | undefined
  contract: RealtimeContract | undefined
  presenceInfo: PresenceInfoFunction | undefined
}

const validator = Compile(OptionsSchema)

/**
 * Options that are not plain data (functions, brokers, clients, rule lists), each checked by
 * hand in resolveOptions. Every option that is not in OptionsSchema must be listed here, or
 * register refuses it as unknown.
 */
export const NON_DATA_OPTIONS = ['broker', 'redis', 'mqtt', 'authenticate', 'authorize', 'allowedOrigins', 'userId', 'channels', 'contract', 'metrics', 'presenceInfo', 'sessionExpiry', 'subscriptionTokenSecret'] as const satisfies ReadonlyArray<keyof RealtimePluginOptions>

// Fails to compile when RealtimePluginOptions gains a non-data option missing from the list.
type MustBeNever<T extends never> = T
/** Never: every option of RealtimePluginOptions is in OptionsSchema or NON_DATA_OPTIONS. */
export type UnlistedOption = MustBeNever<Exclude<keyof RealtimePluginOptions, keyof DataOptions | typeof NON_DATA_OPTIONS[number]>>

/** What Fastify and avvio read from every plugin's register options. */
const REGISTER_OPTIONS: readonly string[] = ['prefix', 'logLevel', 'logSerializers', 'name']

/** Refuses option names nobody reads: a typo would otherwise be ignored in silence. */
function checkOptionNames (options: object): void {
  const known: string[] = [...Object.keys(OptionsSchema.properties), ...NON_DATA_OPTIONS]
  const unknown = Object.keys(options).filter((name) => !known.includes(name) && !REGISTER_OPTIONS.includes(name))
  if (unknown.length === 0) return
  const described = unknown.map((name) => {
    const closest = closestName(name, known)
    return closest === undefined ? `"${name}"` : `"${name}" (did you mean "${closest}"?)`
  })
  throw new TypeError(`fastify-realtime: unknown option${unknown.length > 1 ? 's' : ''} ${described.join(', ')}`)
}

/** The known name nearest to `name` (case-insensitive edit distance), if one is near enough to be a typo. */
function closestName (name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Levenshtein distance, one row at a time. */
function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

function isBroker (value: unknown): value is Broker {
  if (value === null || typeof value !== 'object') return false
  const broker = value as Record<string, unknown>
  return ['start', 'publish', 'subscribe', 'unsubscribe', 'close'].every((name) => typeof broker[name] === 'function')
}

function checkFunction (name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`fastify-realtime: ${name} must be a function`)
}

function checkAllowedOrigins (value: unknown): void {
  if (value === undefined || typeof value === 'function') return
  if (!Array.isArray(value)) throw new TypeError('fastify-realtime: allowedOrigins must be an array of strings and RegExps, or a function')
  for (const origin of value) {
    if (typeof origin === 'string') continue
    if (!(origin instanceof RegExp)) throw new TypeError('fastify-realtime: allowedOrigins must be an array of strings and RegExps, or a function')
    // An unanchored /example\.com/ also matches https://example.com.evil.com: refuse it outright.
    if (!origin.source.startsWith('^') || !origin.source.endsWith('$')) {
      throw new TypeError(`fastify-realtime: allowedOrigins regex ${String(origin)} must be anchored with ^ and $`)
    }
  }
}

function checkSecret (value: unknown): void {
  if (value === undefined) return
  if ((typeof value !== 'string' && !Buffer.isBuffer(value)) || Buffer.byteLength(value) < MIN_SECRET_BYTES) {
    throw new TypeError(`fastify-realtime: subscriptionTokenSecret must be a string or Buffer of at least ${MIN_SECRET_BYTES} bytes`)
  }
}

function defaultUserId (user: unknown): string | number | undefined {
  if (user === null || typeof user !== 'object') return undefined
  const { id, sub } = user as { id?: unknown, sub?: unknown }
  const value = id ?? sub
  return typeof value === 'string' || typeof value === 'number' ? value : undefined
}

/** Fills defaults and checks every option; throws a plain message naming the bad one. */
export function resolveOptions (options: RealtimePluginOptions): ResolvedOptions {
  checkOptionNames(options)
  const { broker, redis, mqtt, authenticate, authorize, allowedOrigins, userId, channels, contract, metrics, presenceInfo, sessionExpiry, subscriptionTokenSecret } = options
  // Only our data options: Fastify passes its own register options (prefix, logLevel,
  // logSerializers with functions...) through, and they are not ours to check or copy.
  const data: Record<string, unknown> = {}
  for (const key of Object.keys(OptionsSchema.properties)) {
    const value = (options as Record<string, unknown>)[key]
    if (value !== undefined) data[key] = structuredClone(value)
  }
  const withDefaults = validator.Default(data) as Record<string, unknown>
  if (!validator.Check(withDefaults)) {
    const [first] = validator.Errors(withDefaults)
    throw new TypeError(`fastify-realtime: invalid option ${first?.instancePath.slice(1) ?? ''}: ${first?.message ?? 'invalid'}`)
  }
  const resolved = withDefaults as DataOptions
  if (resolved.heartbeatTimeout >= resolved.heartbeatInterval) {
    throw new TypeError('fastify-realtime: heartbeatTimeout must be less than heartbeatInterval')
  }
  if (broker !== undefined && !isBroker(broker)) {
    throw new TypeError('fastify-realtime: broker must implement start, publish, subscribe, unsubscribe and close')
  }
  if ([broker, redis, mqtt].filter((given) => given !== undefined).length > 1) {
    throw new TypeError('fastify-realtime: give one of broker, redis and mqtt, not several')
  }
  checkFunction('authenticate', authenticate)
  checkFunction('authorize', authorize)
  checkFunction('userId', userId)
  checkFunction('presenceInfo', presenceInfo)
  checkAllowedOrigins(allowedOrigins)
  checkFunction('sessionExpiry', sessionExpiry)
  checkSecret(subscriptionTokenSecret)
  const idOf = userId ?? defaultUserId
  checkContract(contract)
  if (contract?.channels !== undefined && channels !== undefined) {
    throw new TypeError('fastify-realtime: give the channel rules either in contract.channels or in channels, not both')
  }
  const channelRules = new ChannelRules(contract?.channels ?? channels ?? [])
  return {
    ...resolved,
    nodeId: resolved.nodeId ?? randomUUID(),
    broker: broker ?? createBroker(redis, mqtt),
    authenticate,
    authorize,
    allowedOrigins,
    channels: channelRules,
    sessionExpiry: createSessionExpiry(sessionExpiry),
    subscriptionTokens: subscriptionTokenSecret === undefined ? undefined : new SubscriptionTokens(subscriptionTokenSecret),
    metrics: checkMetricsOptions(metrics),
    contract,
    presenceInfo,
    userId: (user) => {
      const id = idOf(user)
      return id === undefined || id === null || id === '' ? undefined : String(id)
    }
  }
}

function createBroker (redis: RedisBrokerOptions | undefined, mqtt: MqttBrokerOptions | undefined): Broker {
  if (mqtt !== undefined) return new MqttBroker(mqtt)
  if (redis === undefined) return new MemoryBroker()
  if (redis === null || typeof redis !== 'object') throw new TypeError('fastify-realtime: redis must be an object ({ url } or { client })')
  return new RedisBroker(redis)
}
