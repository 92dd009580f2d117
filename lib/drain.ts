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
/** Fastify's own default `pluginTimeout`, used when the app's cannot be read. */
const DEFAULT_PLUGIN_TIMEOUT = 10_000

/**
 * Throws (failing `register`) when `drainOnClose` cannot finish within the app's
 * `pluginTimeout`: Fastify cuts the close hooks off at that timeout and `app.close()` rejects.
 */
export function checkDrainOnClose (drainOnClose: number, closeGracePeriod: number, pluginTimeout: unknown): void {
  if (drainOnClose === 0) return
  const timeout = typeof pluginTimeout === 'number' && Number.isFinite(pluginTimeout) ? pluginTimeout : DEFAULT_PLUGIN_TIMEOUT
  // 0 turns Fastify's timeout off.
  if (timeout === 0 || drainOnClose + closeGracePeriod < timeout) return
  throw new TypeError(`fastify-realtime: drainOnClose (${drainOnClose} ms) + closeGracePeriod (${closeGracePeriod} ms) must stay below Fastify's pluginTimeout (${timeout} ms), or app.close() fails; raise it: Fastify({ pluginTimeout: ${drainOnClose + 2 * closeGracePeriod + 5000} })`)
}

export class Drainer {
  #drain: SpreadCloses | undefined

  /** True from the first `drain()` on: the node takes no new connections. */
  get draining (): boolean {
    return this.#drain !== undefined
  }

  /**
   * Closes the connections open now with 1012, evenly over `overMs`; resolves once every one
   * of them is closed (those that do not answer the close are terminated `gracePeriod` ms
   * after theirs). A second call while draining returns the first drain; with `hasten`
   * (app.close() draining) it also ends that drain's window within `overMs` from now.
   */
  drain (open: Iterable<Connection>, { overMs = DEFAULT_DRAIN_MS }: DrainOptions, gracePeriod: number, hasten = false): Promise<void> {
    if (typeof overMs !== 'number' || !Number.isFinite(overMs) || overMs < 0) {
      throw new TypeError('fastify-realtime: drain overMs must be a number of milliseconds >= 0')
    }
    if (this.#drain === undefined) this.#drain = new SpreadCloses([...open], overMs, gracePeriod)
    else if (hasten) this.#drain.hasten(overMs)
    return this.#drain.done
  }

  /**
   * The app is closing: no more ticks or grace timer (the close handles what is still open).
   * The drain resolves once its connections have closed.
   */
  stop (): void {
    this.#drain?.stop()
  }
}

class SpreadCloses {
  readonly done: Promise<void>
  readonly #connections: Connection[]
  readonly #closed: Array<Promise<void>>
  readonly #gracePeriod: number
  /** Index of the next connection to close. */
  #next = 0
  /** The current window: from `#from` (at `#startedAt`), the rest closes over `#overMs`. */
  #from = 0
  #startedAt = performance.now()
  #overMs: number
  #timer: NodeJS.Timeout | undefined
  #graceTimer: NodeJS.Timeout | undefined
  #stopped = false
  #endWindow: () => void = () => {}
  #endGrace: () => void = () => {}

  constructor (connections: Connection[], overMs: number, gracePeriod: number) {
    this.#connections = connections
    this.#overMs = overMs
    this.#gracePeriod = gracePeriod
    this.#closed = connections.map((connection) => new Promise<void>((resolve) => {
      if (connection.socket.readyState === connection.socket.CLOSED) resolve()
      else connection.socket.once('close', () => resolve())
    }))
    this.done = this.#run()
  }

  async #run (): Promise<void> {
    if (this.#connections.length === 0) return
    await new Promise<void>((resolve) => {
      this.#endWindow = resolve
      this.#schedule()
    })
    if (!this.#stopped) {
      const grace = new Promise<void>((resolve) => {
        this.#endGrace = resolve
        this.#graceTimer = setTimeout(resolve, this.#gracePeriod).unref()
      })
      await Promise.race([Promise.all(this.#closed), grace])
      clearTimeout(this.#graceTimer)
      // Stopped meanwhile: the app's close terminates what does not answer its 1001.
      if (!this.#stopped) for (const connection of this.#connections) connection.socket.terminate()
    }
    // A terminated socket reports its close a moment later: resolve once the node has seen them all.
    await Promise.all(this.#closed)
  }

  #schedule (): void {
    clearInterval(this.#timer)
    const left = this.#connections.length - this.#from
    // Unref'd: a drain alone must not keep the process alive.
    this.#timer = setInterval(this.#tick, Math.max(MIN_TICK_MS, this.#overMs / left)).unref()
    this.#tick()
  }

  readonly #tick = (): void => {
    const total = this.#connections.length
    const elapsed = performance.now() - this.#startedAt
    const due = elapsed >= this.#overMs ? total : this.#from + Math.floor((total - this.#from) * elapsed / this.#overMs)
    for (; this.#next < due; this.#next++) this.#connections[this.#next]!.close(CloseCode.SERVICE_RESTART, 'service restart')
    if (this.#next >= total) {
      clearInterval(this.#timer)
      this.#endWindow()
    }
  }

  /** Ends the window within `overMs` from now, keeping the spread for what is left. */
  hasten (overMs: number): void {
    if (this.#stopped || this.#next >= this.#connections.length) return
    const end = this.#startedAt + this.#overMs
    const now = performance.now()
    if (now + overMs >= end) return
    this.#from = this.#next
    this.#startedAt = now
    this.#overMs = overMs
    this.#schedule()
  }

  stop (): void {
    this.#stopped = true
    clearInterval(this.#timer)
    clearTimeout(this.#graceTimer)
    this.#endWindow()
    this.#endGrace()
  }
}
