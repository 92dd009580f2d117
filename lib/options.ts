// Plugin options: one TypeBox schema with defaults, checked once at register time.
import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { Broker } from './brokers/broker.js'
import { MemoryBroker } from './brokers/memory-broker.js'
import { RedisBroker, type RedisBrokerOptions } from './brokers/redis-broker.js'

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
  nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 }))
})

export type DataOptions = Static<typeof OptionsSchema>

export interface RealtimePluginOptions extends Partial<DataOptions> {
  /** Where frames travel between publishers and subscribers; `MemoryBroker` (one process) by default. */
  broker?: Broker
  /** Fan out through Redis: shorthand for `broker: new RedisBroker(redis)`. */
  redis?: RedisBrokerOptions
}

export interface ResolvedOptions extends DataOptions {
  nodeId: string
  broker: Broker
}

const validator = Compile(OptionsSchema)

function isBroker (value: unknown): value is Broker {
  if (value === null || typeof value !== 'object') return false
  const broker = value as Record<string, unknown>
  return ['start', 'publish', 'subscribe', 'unsubscribe', 'close'].every((name) => typeof broker[name] === 'function')
}

/** Fills defaults and checks every option; throws a plain message naming the bad one. */
export function resolveOptions (options: RealtimePluginOptions): ResolvedOptions {
  const { broker, redis, ...data } = options
  const withDefaults = validator.Default(structuredClone(data)) as Record<string, unknown>
  for (const key of Object.keys(withDefaults)) {
    // Fastify passes its own register options (prefix, logLevel...) through; they are not ours.
    if (!(key in OptionsSchema.properties)) delete withDefaults[key]
  }
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
  return { ...resolved, nodeId: resolved.nodeId ?? randomUUID(), broker: broker ?? createBroker(redis) }
}

function createBroker (redis: RedisBrokerOptions | undefined): Broker {
  if (redis === undefined) return new MemoryBroker()
  if (redis === null || typeof redis !== 'object') throw new TypeError('fastify-realtime: redis must be an object ({ url } or { client })')
  return new RedisBroker(redis)
}
