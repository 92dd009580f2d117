// The shapes `Realtime` is built from and reports: its settings (the resolved options it
// reads) and the counters of `app.realtime.stats()`.
import type { BrokerState } from './brokers/broker.js'
import type { ErrorCode } from './errors.js'
import type { RateLimitOptions, ResolvedOptions, SlowConsumerOptions } from './options.js'

export interface RealtimeSettings extends Pick<ResolvedOptions, 'authorize' | 'allowClientPublish' | 'userId' | 'channels' | 'contract' | 'path' | 'maxPayload' |
'presence' | 'presenceInfo' | 'authenticate' | 'sessionExpiry' | 'refreshLeadTime' | 'subscriptionTokens'> {
  nodeId: string
  heartbeatInterval: number
  heartbeatTimeout: number
  closeGracePeriod: number
  maxSubscriptionsPerConnection: number
  rateLimit: false | RateLimitOptions
  slowConsumer: SlowConsumerOptions
  /** When on, published frames go through ws so that they are compressed. */
  perMessageDeflate: boolean
  clusterCommandTimeout: number
  clusterAnnounceInterval: number
}

export interface RealtimeStats {
  connections: number
  channels: number
  messagesIn: number
  messagesOut: number
  errors: number
  /** Error frames sent, per error code. */
  errorsByCode: Partial<Record<ErrorCode, number>>
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
  /** Connections terminated for not answering the heartbeat. */
  heartbeatTerminations: number
  /** Connections closed since start (any side, any code). */
  connectionsClosed: number
  /** Connections closed with 4001: their session expired without a refresh. */
  sessionsExpired: number
}
