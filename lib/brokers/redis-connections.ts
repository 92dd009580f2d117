// The ioredis connections of the Redis broker: opening its own publisher, duplicating one
// for subscribing (ours or the user's client), waiting for a user's client, and quitting
// within a deadline. The settings here decide what happens to a command when a link drops.
import { Redis, Cluster, type RedisOptions } from 'ioredis'

export type RedisConnection = Redis | Cluster

/** The options of the broker a connection is made from (`RedisBrokerOptions`). */
interface ConnectionOptions {
  url?: string
  redis?: RedisOptions
}

const QUIT_TIMEOUT = 2000
/** TCP keepalive idle time for the broker's connections (ioredis' default 0 leaves the OS' two hours). */
const DEFAULT_KEEP_ALIVE = 10_000

export function createConnection (options: ConnectionOptions, sharded: boolean, connectionName: string, commandTimeout: number): RedisConnection {
  // No offline queue and no retry: a PUBLISH Redis has not answered when the link drops is
  // rejected then, never written again after the reconnect (Redis may have delivered it
  // already: a resend would deliver it twice), and never left waiting while Redis is away.
  // `commandTimeout` also bounds the handshake of a reconnect (its ready check), which our
  // deadlines do not see.
  const liveness = { keepAlive: options.redis?.keepAlive ?? DEFAULT_KEEP_ALIVE, commandTimeout }
  const overrides = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectionName, ...liveness }
  const { url, redis } = options
  if (sharded) {
    return new Cluster([url ?? { host: redis?.host ?? '127.0.0.1', port: redis?.port ?? 6379 }], {
      lazyConnect: true,
      enableOfflineQueue: false,
      redisOptions: { ...redis, maxRetriesPerRequest: 0, connectionName, ...liveness }
    })
  }
  return url === undefined ? new Redis({ ...redis, ...overrides }) : new Redis(url, { ...redis, ...overrides })
}

export function duplicateForSubscribing (connection: RedisConnection, sharded: boolean, connectionName: string, commandTimeout: number): RedisConnection {
  // Our own resubscription (on 'ready') replaces ioredis' so the broker knows when it is done;
  // no offline queue, so a SUBSCRIBE while Redis is away fails instead of waiting. A command
  // unanswered when the link drops must settle: with `autoResendUnfulfilledCommands` off,
  // ioredis would otherwise drop it with its promise pending forever, and the channel's
  // queue with it. `maxRetriesPerRequest: 0` rejects it on the drop; its interest stays, so
  // the restore on the next 'ready' takes the channel again.
  const overrides = {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0
  }
  if (isCluster(connection)) {
    // On a cluster one shard can drop while the others (and the cluster's 'ready') stay:
    // ioredis' subscriber group takes a returning shard's channels again, so its own
    // resubscription is left on here.
    const redisOptions = connection.options.redisOptions
    return connection.duplicate([], {
      lazyConnect: true,
      enableOfflineQueue: false,
      shardedSubscribers: sharded,
      redisOptions: { ...redisOptions, maxRetriesPerRequest: 0, connectionName, commandTimeout, keepAlive: keepAliveOf(redisOptions?.keepAlive) }
    })
  }
  return connection.duplicate({ ...overrides, connectionName, commandTimeout, keepAlive: keepAliveOf(connection.options.keepAlive) })
}

/** A keepalive the user chose, or ours: ioredis' default 0 means the OS' idle time of two hours. */
function keepAliveOf (configured: number | undefined): number {
  return configured !== undefined && configured > 0 ? configured : DEFAULT_KEEP_ALIVE
}

export function isCluster (connection: RedisConnection): connection is Cluster {
  return connection.isCluster
}

/**
 * Resolves when the user's client is ready; connects a lazy one. One that had ended is
 * refused by start() already; one that ends while we wait rejects instead of hanging.
 */
export async function waitUntilReady (connection: RedisConnection): Promise<void> {
  if (connection.status === 'ready') return
  if (connection.status === 'wait') {
    // `lazyConnect: true` and nothing sent yet: it would wait for a command forever.
    await connection.connect()
    return
  }
  await new Promise<void>((resolve, reject) => {
    const settle = (): void => {
      connection.off('ready', onReady)
      connection.off('error', onError)
      connection.off('end', onEnd)
    }
    const onReady = (): void => { settle(); resolve() }
    const onError = (err: Error): void => { settle(); reject(err) }
    const onEnd = (): void => { settle(); reject(new Error(endedClientMessage)) }
    connection.once('ready', onReady)
    connection.once('error', onError)
    connection.once('end', onEnd)
  })
}

export const endedClientMessage = 'redis.client has ended (quit or disconnected) and will not reconnect; pass a client that is connected or connecting'

export async function quit (connection: RedisConnection): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, QUIT_TIMEOUT) })
  await Promise.race([connection.quit().then(() => {}, () => {}), timeout])
  clearTimeout(timer)
  connection.disconnect()
}
