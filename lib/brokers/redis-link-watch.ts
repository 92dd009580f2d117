// Finds a Redis link that stopped answering without closing: a hung server, a network
// partition, a NAT that forgot an idle connection. TCP alone notices none of these for
// minutes (keepalive) or hours, and ioredis waits for a reply forever. Every command the
// broker awaits gets a deadline, the connections are pinged on one timer, and a link that
// misses either is destroyed, so ioredis reports a close and reconnects: the outage and
// resubscribe path of a closed connection, instead of a second one.
import type { Cluster, Redis } from 'ioredis'

type RedisConnection = Redis | Cluster

/** ioredis' own `commandTimeout` rejects with this message (it has no error class). */
const IOREDIS_TIMEOUT_MESSAGE = 'Command timed out'

export class CommandTimeoutError extends Error {
  constructor (ms: number) {
    super(`Redis did not answer within ${ms} ms`)
    this.name = 'CommandTimeoutError'
  }
}

/** True when `err` says a command went unanswered, by our deadline or ioredis' `commandTimeout`. */
export function isCommandTimeout (err: unknown): boolean {
  return err instanceof CommandTimeoutError || (err instanceof Error && err.message === IOREDIS_TIMEOUT_MESSAGE)
}

/** Settles like `command`, or rejects with `CommandTimeoutError` if it has not settled within `ms`. */
export function withDeadline<T> (command: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CommandTimeoutError(ms)), ms)
    command.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (err: unknown) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/**
 * Ends a standalone connection's TCP link at once (not `disconnect()`, whose FIN a dead peer
 * never acknowledges), so ioredis sees a close, fails what is in flight and reconnects.
 * A cluster's links belong to ioredis' cluster handling: left alone.
 */
export function dropLink (connection: RedisConnection): void {
  if (connection.isCluster) return
  const stream = (connection as Redis).stream as Redis['stream'] | undefined
  if (stream !== undefined && stream !== null && !stream.destroyed) stream.destroy()
}

export interface LinkWatchOptions {
  /** Milliseconds between pings. */
  interval: number
  /** Milliseconds a ping has to be answered. */
  timeout: number
}

/** Pings connections on one timer; reports one that fails to answer in time. */
export class LinkWatch {
  readonly #connections: () => RedisConnection[]
  readonly #options: LinkWatchOptions
  readonly #onDead: (connection: RedisConnection, err: unknown) => void
  readonly #inFlight = new Set<RedisConnection>()
  #timer: NodeJS.Timeout | undefined

  constructor (connections: () => RedisConnection[], options: LinkWatchOptions, onDead: (connection: RedisConnection, err: unknown) => void) {
    this.#connections = connections
    this.#options = options
    this.#onDead = onDead
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(this.#ping, this.#options.interval)
    // Watching Redis must never keep a process alive.
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  readonly #ping = (): void => {
    for (const connection of this.#connections()) {
      // A connection that is not ready is already on the reconnect path; one ping at a time.
      if (connection.status !== 'ready' || this.#inFlight.has(connection)) continue
      this.#inFlight.add(connection)
      withDeadline(connection.ping(), this.#options.timeout)
        .catch((err: unknown) => { if (this.#timer !== undefined) this.#onDead(connection, err) })
        .finally(() => this.#inFlight.delete(connection))
    }
  }
}
