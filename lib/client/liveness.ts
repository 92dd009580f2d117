// Is the link alive? Browsers cannot see WebSocket ping frames, so the client sends its own
// JSON `ping` every `pingInterval` and counts any frame from the server as a sign of life;
// silence for `pingTimeout` after a ping means the link is dead (a half-open TCP link can
// look open for minutes otherwise). `probe()` checks at once with a shorter deadline: after a
// request timed out, when the network comes back, when a long-hidden page is shown again.

export class Liveness {
  readonly #sendPing: () => void
  readonly #onDead: () => void
  #interval: ReturnType<typeof setInterval> | undefined
  #deadTimer: ReturnType<typeof setTimeout> | undefined
  #deadline = Infinity

  constructor (sendPing: () => void, onDead: () => void) {
    this.#sendPing = sendPing
    this.#onDead = onDead
  }

  get running (): boolean {
    return this.#interval !== undefined
  }

  /** A connection is open: ping every `interval` ms, give the server `timeout` ms to answer. */
  start (interval: number, timeout: number): void {
    this.stop()
    this.#interval = setInterval(() => this.probe(timeout), interval)
  }

  /** Pings now; unless something arrives within `timeout` ms (or an earlier deadline), the link is dead. */
  probe (timeout: number): void {
    if (!this.running) return
    this.#sendPing()
    const deadline = performance.now() + timeout
    if (deadline >= this.#deadline) return
    clearTimeout(this.#deadTimer)
    this.#deadline = deadline
    this.#deadTimer = setTimeout(() => {
      this.stop()
      this.#onDead()
    }, timeout)
  }

  /** A frame arrived: the link is alive. */
  heard (): void {
    clearTimeout(this.#deadTimer)
    this.#deadTimer = undefined
    this.#deadline = Infinity
  }

  stop (): void {
    clearInterval(this.#interval)
    this.#interval = undefined
    this.heard()
  }
}
