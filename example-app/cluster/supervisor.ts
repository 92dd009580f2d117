// Keeps one node of the cluster running: a node that exits is reported and started again
// after a growing delay, while the other nodes keep serving. A node that keeps exiting is
// left stopped after `maxRestarts` restarts within `windowMs`, so a broken build does not
// spin forever. `restart()` is a deliberate restart (a rolling restart): not a crash, so
// neither reported as one nor counted.
import { setTimeout as delay } from 'node:timers/promises'
import type { ManagedProcess } from './child-process.js'

export interface SupervisorOptions {
  name: string
  /** Starts the process and resolves once it serves. */
  start: () => Promise<ManagedProcess>
  /** Called with each started process (to pass its output through, say). */
  onStart?: (proc: ManagedProcess) => void
  log: (line: string) => void
  maxRestarts?: number
  windowMs?: number
  /** First restart delay; doubled for each restart in the window, up to `maxDelayMs`. */
  baseDelayMs?: number
  maxDelayMs?: number
}

export class Supervisor {
  readonly name: string
  #current: ManagedProcess | undefined
  /** The process a deliberate restart is stopping. */
  #leaving: ManagedProcess | undefined
  #stopping = false
  readonly #restarts: number[] = []
  readonly #options: Required<Omit<SupervisorOptions, 'onStart'>> & Pick<SupervisorOptions, 'onStart'>

  constructor (options: SupervisorOptions) {
    this.name = options.name
    this.#options = { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 10_000, ...options }
  }

  /** The process running now, if any. */
  get current (): ManagedProcess | undefined {
    return this.#current
  }

  /** Starts the first process; rejects if that one does not come up. */
  async start (): Promise<void> {
    await this.#launch()
  }

  async stop (signal?: NodeJS.Signals): Promise<void> {
    this.#stopping = true
    await Promise.all([this.#current?.stop(signal), this.#leaving?.stop(signal)])
  }

  /**
   * Stops the running process with `signal` (SIGTERM: a node drains first), waits for its exit
   * and starts a new one; resolves once that one serves. Rejects if there is no running process
   * or the new one does not come up (it is then retried as after a crash).
   */
  async restart (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#current
    if (this.#stopping || proc === undefined) throw new Error(`${this.name} is not running`)
    // No longer current: its exit is not a crash.
    this.#current = undefined
    this.#leaving = proc
    try {
      await proc.stop(signal)
    } finally {
      this.#leaving = undefined
    }
    if (this.#stopping) return
    try {
      await this.#launch()
    } catch (err) {
      this.#scheduleRestart(`could not start (${firstLine(err)})`)
      throw err
    }
  }

  async #launch (): Promise<void> {
    const proc = await this.#options.start()
    if (this.#stopping) {
      await proc.stop()
      return
    }
    this.#current = proc
    this.#options.onStart?.(proc)
    proc.exited.then(({ code, signal }) => this.#onExit(proc, code ?? signal), () => {})
  }

  #onExit (proc: ManagedProcess, how: number | string | null): void {
    if (this.#stopping || this.#current !== proc) return
    this.#current = undefined
    this.#scheduleRestart(`exited (${String(how)})`)
  }

  #scheduleRestart (what: string): void {
    const { log, maxRestarts, windowMs, baseDelayMs, maxDelayMs } = this.#options
    const now = Date.now()
    while (this.#restarts.length > 0 && now - (this.#restarts[0] ?? now) > windowMs) this.#restarts.shift()
    if (this.#restarts.length >= maxRestarts) {
      log(`${this.name} ${what} after ${maxRestarts} restarts within ${windowMs / 1000} s; left stopped, the other nodes keep serving`)
      return
    }
    const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** this.#restarts.length)
    this.#restarts.push(now)
    log(`${this.name} ${what}; restarting in ${wait} ms, the other nodes keep serving`)
    delay(wait).then(async () => {
      if (this.#stopping) return
      await this.#launch()
      log(`${this.name} restarted`)
    }).catch((err: unknown) => {
      if (!this.#stopping) this.#scheduleRestart(`could not start (${firstLine(err)})`)
    })
  }
}

function firstLine (err: unknown): string {
  return (err as Error).message.split('\n')[0] ?? ''
}
