// Plugin options: one TypeBox schema with defaults, checked once at register time.
import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { FastifyRequest } from 'fastify'
import type { Broker } from './brokers/broker.js'
import type { Connection } from './connection.js'
import { MemoryBroker } from './brokers/memory-broker.js'
import { RedisBroker, type RedisBrokerOptions } from './brokers/redis-broker.js'
import { ChannelRules, type ChannelRuleOptions } from './channels/channel-rules.js'
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
  /** Cap on each connection's queued outgoing bytes, and what happens above it. */
  slowConsumer: Type.Object({
    /** Bytes queued on the socket (`writableLength`) above which the policy applies. */
    maxBufferedBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
    /** `close`: close with 1013 (terminated after `closeGracePeriod`); `drop`: skip frames for it until it catches up. */
    policy: Type.Union([Type.Literal('close'), Type.Literal('drop')], { default: 'close' })
  }, { default: {}, additionalProperties: false })
})

export type DataOptions = Static<typeof OptionsSchema>
export type RateLimitOptions = Exclude<DataOptions['rateLimit'], false>
export type SlowConsumerOptions = DataOptions['slowConsumer']

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

export interface RealtimePluginOptions extends Partial<Omit<DataOptions, 'rateLimit' | 'slowConsumer'>> {
  /** Where frames travel between publishers and subscribers; `MemoryBroker` (one process) by default. */
  broker?: Broker
  /** Fan out through Redis: shorthand for `broker: new RedisBroker(redis)`. */
  redis?: RedisBrokerOptions
  rateLimit?: false | Partial<RateLimitOptions>
  slowConsumer?: Partial<SlowConsumerOptions>
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
  contract: RealtimeContract | undefined
}

const validator = Compile(OptionsSchema)

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

function defaultUserId (user: unknown): string | number | undefined {
  if (user === null || typeof user !== 'object') return undefined
  const { id, sub } = user as { id?: unknown, sub?: unknown }
  const value = id ?? sub
  return typeof value === 'string' || typeof value === 'number' ? value : undefined
}

/** Fills defaults and checks every option; throws a plain message naming the bad one. */
export function resolveOptions (options: RealtimePluginOptions): ResolvedOptions {
  const { broker, redis, authenticate, authorize, allowedOrigins, userId, channels, contract } = options
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
  if (broker !== undefined && redis !== undefined) {
    throw new TypeError('fastify-realtime: give either broker or redis, not both')
  }
  checkFunction('authenticate', authenticate)
  checkFunction('authorize', authorize)
  checkFunction('userId', userId)
  checkAllowedOrigins(allowedOrigins)
  const idOf = userId ?? defaultUserId
  checkContract(contract)
  if (contract?.channels !== undefined && channels !== undefined) {
    throw new TypeError('fastify-realtime: give the channel rules either in contract.channels or in channels, not both')
  }
  const channelRules = new ChannelRules(contract?.channels ?? channels ?? [])
  return {
    ...resolved,
    nodeId: resolved.nodeId ?? randomUUID(),
    broker: broker ?? createBroker(redis),
    authenticate,
    authorize,
    allowedOrigins,
    channels: channelRules,
    contract,
    userId: (user) => {
      const id = idOf(user)
      return id === undefined || id === null || id === '' ? undefined : String(id)
    }
  }
}

function createBroker (redis: RedisBrokerOptions | undefined): Broker {
  if (redis === undefined) return new MemoryBroker()
  if (redis === null || typeof redis !== 'object') throw new TypeError('fastify-realtime: redis must be an object ({ url } or { client })')
  return new RedisBroker(redis)
}
