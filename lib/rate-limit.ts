// Per-connection token bucket over every incoming frame. A frame over the rate is answered
// `rate_limited` and not processed; a connection that keeps its bucket empty for
// `closeAfterRefused` refused frames is closed with 1008 (sustained abuse). A connection
// whose bucket fills up again is forgiven.
import type { Connection } from './connection.js'
import { CloseCode, ErrorCode } from './errors.js'
import type { RateLimitOptions } from './options.js'
import { peekRequestId } from './request-id.js'

interface Bucket {
  tokens: number
  updatedAt: number
  refused: number
}

export class RateLimiter {
  readonly #options: RateLimitOptions
  readonly #perMillisecond: number
  // Keyed by connection so nothing has to be cleaned up when one goes away.
  readonly #buckets = new WeakMap<Connection, Bucket>()
  /** Frames refused so far. */
  refused = 0
  /** Connections closed for sustained abuse. */
  closed = 0

  constructor (options: RateLimitOptions) {
    this.#options = options
    this.#perMillisecond = options.messagesPerSecond / 1000
  }

  /**
   * Takes a token for `frame`; false (after answering or closing) when it must be dropped.
   * The refusal carries the frame's request id when it can be read cheaply (see request-id.ts).
   */
  admit (connection: Connection, frame?: Buffer, now: number = performance.now()): boolean {
    // Frames still arriving after the 1008 close are neither served nor counted.
    if (!connection.isOpen) return false
    let bucket = this.#buckets.get(connection)
    if (bucket === undefined) {
      bucket = { tokens: this.#options.burst, updatedAt: now, refused: 0 }
      this.#buckets.set(connection, bucket)
    } else {
      bucket.tokens = Math.min(this.#options.burst, bucket.tokens + (now - bucket.updatedAt) * this.#perMillisecond)
      bucket.updatedAt = now
      if (bucket.tokens >= this.#options.burst) bucket.refused = 0
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return true
    }
    this.refused++
    bucket.refused++
    if (bucket.refused >= this.#options.closeAfterRefused) {
      this.closed++
      connection.log.info({ refused: bucket.refused }, 'closing connection: sustained message rate over the limit')
      connection.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded')
      return false
    }
    connection.sendError(ErrorCode.RATE_LIMITED, frame === undefined ? undefined : peekRequestId(frame))
    return false
  }
}
