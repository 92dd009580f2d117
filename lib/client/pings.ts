// The client's own `ping` frames and their `pong`s: each ping carries the client's clock, its
// pong gives the round trip, and `ping()` callers wait for theirs. liveness.ts decides when
// to ping; this keeps the waiters.

interface PingWaiter {
  ts: number
  resolve: (latency: number) => void
  reject: (err: Error) => void
}

const now = (): number => performance.now()

export class Pings {
  readonly #write: (text: string) => void
  #waiters: PingWaiter[] = []

  /** `write` sends a frame at once, ahead of anything queued. */
  constructor (write: (text: string) => void) {
    this.#write = write
  }

  /** Sends a ping now; returns its timestamp. */
  send (): number {
    const ts = now()
    this.#write(JSON.stringify({ type: 'ping', ts }))
    return ts
  }

  /** Sends a ping now; resolves with the round trip in ms once its pong arrives. */
  wait (): Promise<number> {
    return new Promise((resolve, reject) => {
      const ts = this.send()
      this.#waiters.push({ ts, resolve, reject })
    })
  }

  /** The pong of the ping sent at `ts`: resolves its waiters; returns the round trip in ms. */
  answered (ts: number): number {
    const latency = now() - ts
    const waiting = this.#waiters.filter((ping) => ping.ts === ts)
    if (waiting.length > 0) this.#waiters = this.#waiters.filter((ping) => ping.ts !== ts)
    for (const ping of waiting) ping.resolve(latency)
    return latency
  }

  /** The link is gone: no pong will come. */
  rejectAll (err: Error): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const ping of waiters) ping.reject(err)
  }
}
