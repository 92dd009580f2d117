// Drain for rolling restarts: close every connection with 1012 (service restart), spread
// evenly over `overMs`, so the clients of a node that goes away do not all reconnect (to the
// other nodes) in the same second. One timer per drain, not one per socket: each tick closes
// the share of connections due by then.
import type { Connection } from './connection.js'
import { CloseCode } from './errors.js'

export interface DrainOptions {
  /** Milliseconds over which the closes are spread; 0 closes all at once. Default 10 000. */
  overMs?: number
}

export const DEFAULT_DRAIN_MS = 10_000
/** Finer ticks than this would only add timer wake-ups; each tick closes what is due. */
const MIN_TICK_MS = 10

export class Drainer {
  #draining: Promise<void> | undefined

  /** True from the first `drain()` on: the node takes no new connections. */
  get draining (): boolean {
    return this.#draining !== undefined
  }

  /**
   * Closes the connections open now with 1012, evenly over `overMs`; resolves once every one
   * of them is closed (those that do not answer the close are terminated `gracePeriod` ms
   * after theirs). A second call while draining returns the first drain.
   */
  drain (open: Iterable<Connection>, { overMs = DEFAULT_DRAIN_MS }: DrainOptions, gracePeriod: number): Promise<void> {
    if (typeof overMs !== 'number' || !Number.isFinite(overMs) || overMs < 0) {
      throw new TypeError('fastify-realtime: drain overMs must be a number of milliseconds >= 0')
    }
    this.#draining ??= spreadCloses([...open], overMs, gracePeriod)
    return this.#draining
  }
}

async function spreadCloses (connections: Connection[], overMs: number, gracePeriod: number): Promise<void> {
  const total = connections.length
  if (total === 0) return
  const closed = connections.map((connection) => new Promise<void>((resolve) => {
    if (connection.socket.readyState === connection.socket.CLOSED) resolve()
    else connection.socket.once('close', () => resolve())
  }))
  let next = 0
  const closeUpTo = (count: number): void => {
    for (; next < count; next++) connections[next]!.close(CloseCode.SERVICE_RESTART, 'service restart')
  }
  const startedAt = performance.now()
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsed = performance.now() - startedAt
      closeUpTo(elapsed >= overMs ? total : Math.floor(total * elapsed / overMs))
      if (next >= total) {
        clearInterval(timer)
        resolve()
      }
    }
    const timer = setInterval(tick, Math.max(MIN_TICK_MS, overMs / total))
    tick()
  })
  let graceTimer: NodeJS.Timeout | undefined
  const grace = new Promise<void>((resolve) => { graceTimer = setTimeout(resolve, gracePeriod) })
  await Promise.race([Promise.all(closed), grace])
  clearTimeout(graceTimer)
  for (const connection of connections) connection.socket.terminate()
  // A terminated socket reports its close a moment later: resolve once the node has seen them all.
  await Promise.all(closed)
}
