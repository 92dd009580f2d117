// Prometheus metrics of the plugin on a registry the application passes (`metrics: { registry }`),
// so they appear on the app's own /metrics next to its other metrics (fastify-metrics,
// prom-client's defaults). prom-client is an optional peer dependency, loaded only when this
// option is set: an app without metrics pays nothing, and an app with them shares its own copy.
//
// The hot path stays as it is: most values are read from counters the plugin keeps anyway
// (`stats()`), at scrape time, in `collect`. What is updated as it happens is per publish
// (two histogram observations), per incoming frame, or per refused handshake: never per recipient.
import type { Broker } from '../brokers/broker.js'
import type { Realtime } from '../realtime.js'
import type { ErrorCode } from '../errors.js'

/** The part of a prom-client `Registry` the plugin uses. */
export interface MetricsRegistry {
  registerMetric: (metric: any) => void
  getSingleMetric: (name: string) => unknown
}

export interface MetricsOptions {
  /** A prom-client `Registry` (e.g. prom-client's `register`, or fastify-metrics' `client.register`). */
  registry: MetricsRegistry
  /** Prefix of every metric name; `realtime_` by default. */
  prefix?: string
}

const BROKER_STATES = ['starting', 'ready', 'unavailable', 'closed'] as const
/** Statuses a handshake can be refused with (see lib/handshake.ts). */
const REFUSAL_STATUSES = new Set([401, 403, 429, 503])

export function checkMetricsOptions (options: unknown): MetricsOptions | undefined {
  if (options === undefined) return undefined
  const registry = (options as MetricsOptions | null)?.registry
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw new TypeError('fastify-realtime: metrics.registry must be a prom-client Registry')
  }
  const prefix = (options as MetricsOptions).prefix
  if (prefix !== undefined && (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))) {
    throw new TypeError('fastify-realtime: metrics.prefix must be a valid Prometheus metric name prefix')
  }
  return options as MetricsOptions
}

export interface RealtimeMetrics {
  /** The broker, timing each publish into the latency histogram. */
  instrument: (broker: Broker) => Broker
  /** Starts reading the node's counters at scrape time, and counting frames and deliveries. */
  bind: (realtime: Realtime) => void
  /** A refused handshake (its HTTP status). */
  refused: (statusCode: number) => void
}

export async function createMetrics (options: MetricsOptions): Promise<RealtimeMetrics> {
  let client: typeof import('prom-client')
  try {
    client = await import('prom-client')
  } catch (err) {
    throw new Error('fastify-realtime: the metrics option needs prom-client (npm install prom-client)', { cause: err })
  }
  const { Counter, Gauge, Histogram } = client
  const registers = [options.registry as InstanceType<typeof client.Registry>]
  const name = (suffix: string): string => (options.prefix ?? 'realtime_') + suffix
  let realtime: Realtime | undefined
  const stats = (): ReturnType<Realtime['stats']> | undefined => realtime?.stats()

  /** A counter whose value is read from the node's own counters at scrape time. */
  const readCounter = (suffix: string, help: string, read: (stats: ReturnType<Realtime['stats']>) => number): void => {
    // eslint-disable-next-line no-new
    new Counter({
      name: name(suffix),
      help,
      registers,
      collect () {
        const current = stats()
        if (current === undefined) return
        this.reset()
        this.inc(read(current))
      }
    })
  }
  const readGauge = (suffix: string, help: string, read: (realtime: Realtime) => number): void => {
    // eslint-disable-next-line no-new
    new Gauge({
      name: name(suffix),
      help,
      registers,
      collect () {
        if (realtime !== undefined) this.set(read(realtime))
      }
    })
  }

  readGauge('connections', 'Open WebSocket connections on this node.', (node) => node.connectionCount)
  readCounter('connections_opened_total', 'WebSocket connections accepted (upgraded) since start.', (s) => s.connectionsClosed + s.connections)
  readCounter('connections_closed_total', 'WebSocket connections closed since start, for any reason.', (s) => s.connectionsClosed)
  const refusedHandshakes = new Counter({
    name: name('connections_refused_total'),
    help: 'WebSocket handshakes refused before the upgrade, by HTTP status: 401 authenticate, 403 origin, 429 per-address limit, 503 capacity or shutdown.',
    labelNames: ['reason'],
    registers
  })
  readGauge('subscriptions', 'Channel subscriptions held by the connections of this node.', (node) => {
    let total = 0
    for (const connection of node.connections()) total += connection.channels.size
    return total
  })
  readGauge('channels', 'Channels with at least one subscriber on this node.', (node) => node.stats().channels)
  const framesReceived = new Counter({
    name: name('frames_received_total'),
    help: 'Incoming frames that passed validation, by message type.',
    labelNames: ['type'],
    registers
  })
  readCounter('frames_sent_total', 'Frames sent to clients (each recipient counts).', (s) => s.messagesOut)
  readCounter('sent_bytes_total', 'Bytes of frames sent to clients, before WebSocket framing and compression.', (s) => s.bytesOut)
  // eslint-disable-next-line no-new
  new Counter({
    name: name('errors_total'),
    help: 'Error frames sent to clients, by error code.',
    labelNames: ['code'],
    registers,
    collect () {
      const current = stats()
      if (current === undefined) return
      this.reset()
      for (const [code, count] of Object.entries(current.errorsByCode) as Array<[ErrorCode, number]>) this.inc({ code }, count)
    }
  })
  readCounter('slow_consumers_closed_total', 'Connections closed with 1013 for not reading what they were sent.', (s) => s.slowConsumersClosed)
  readCounter('slow_consumer_dropped_frames_total', 'Frames skipped for connections over the queued-bytes cap (policy drop).', (s) => s.slowConsumerDrops)
  readCounter('rate_limited_frames_total', 'Incoming frames refused by the per-connection rate limit.', (s) => s.rateLimited)
  readCounter('rate_limit_closed_total', 'Connections closed with 1008 for sustained abuse of the rate limit.', (s) => s.rateLimitClosed)
  readCounter('heartbeat_terminations_total', 'Connections terminated for not answering the heartbeat.', (s) => s.heartbeatTerminations)
  readCounter('sessions_expired_total', 'Connections closed with 4001: their session expired without a refresh.', (s) => s.sessionsExpired)
  // eslint-disable-next-line no-new
  new Gauge({
    name: name('broker_state'),
    help: 'State of the broker: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    registers,
    collect () {
      const current = stats()?.broker
      for (const state of BROKER_STATES) this.set({ state }, state === current ? 1 : 0)
    }
  })
  const publishLatency = new Histogram({
    name: name('broker_publish_duration_seconds'),
    help: 'Time from handing a frame to the broker to the broker accepting it (Redis: the PUBLISH reply).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers
  })
  const recipients = new Histogram({
    name: name('publish_recipients'),
    help: 'Connections of this node each delivered publish reached.',
    buckets: [0, 1, 10, 100, 1000, 10_000, 100_000],
    registers
  })

  return {
    instrument (broker) {
      const publish = async (channel: string, frame: string): Promise<void> => {
        const startedAt = performance.now()
        try {
          await broker.publish(channel, frame)
        } finally {
          publishLatency.observe((performance.now() - startedAt) / 1000)
        }
      }
      // A proxy, not a wrapper class: optional broker capabilities stay reachable as they are.
      return new Proxy(broker, {
        get (target, property) {
          if (property === 'publish') return publish
          const value = Reflect.get(target, property, target) as unknown
          return typeof value === 'function' ? value.bind(target) : value
        }
      })
    },
    bind (node) {
      realtime = node
      node.onDelivered = (count) => recipients.observe(count)
      node.addHook('message', (_connection, frame) => framesReceived.inc({ type: frame.type }))
    },
    refused (statusCode) {
      if (REFUSAL_STATUSES.has(statusCode)) refusedHandshakes.inc({ reason: String(statusCode) })
    }
  }
}
