// Keeps one node of the cluster running: a node that exits is reported and started again
// after a growing delay, while the other nodes keep serving. A node that keeps exiting is
// left stopped after `maxRestarts` restarts within `windowMs`, so a broken build does not
// spin forever.
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

  async stop (): Promise<void> {
    this.#stopping = true
    await this.#current?.stop()
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
      if (!this.#stopping) this.#scheduleRestart(`could not start (${(err as Error).message.split('\n')[0] ?? ''})`)
    })
  }
}
