// Frames waiting to be written: while disconnected, and while the server's rate limit says
// wait. The pacer mirrors the server's token bucket (announced in `welcome`) with a margin,
// so a reconnect's flush of resubscribes and queued frames never runs into `rate_limited`.

export interface QueuedFrame {
  /** The JSON text, or a function building it when it is written (a subscribe reads the latest state then). */
  text: string | (() => string)
  /** Request id: its timeout starts when the frame is written. */
  id?: string
  /** Belongs to one connection (a subscribe): dropped when it closes, the next connection redoes it. */
  perConnection?: boolean
}

/** Share of the server's rate and burst the client allows itself: room for pings and clock drift. */
const MARGIN = 0.9

export class SendQueue {
  #frames: QueuedFrame[] = []
  /** Frames the user queued (not per-connection ones); bounded by `queueLimit`. */
  #userFrames = 0

  get length (): number {
    return this.#frames.length
  }

  get userFrames (): number {
    return this.#userFrames
  }

  push (frame: QueuedFrame): void {
    this.#frames.push(frame)
    if (frame.perConnection !== true) this.#userFrames++
  }

  /** Puts per-connection frames (resubscribes) ahead of what the user queued. */
  prepend (frames: QueuedFrame[]): void {
    this.#frames.unshift(...frames)
  }

  shift (): QueuedFrame | undefined {
    const frame = this.#frames.shift()
    if (frame !== undefined && frame.perConnection !== true) this.#userFrames--
    return frame
  }

  /** Drops the frame of request `id` (an aborted request). */
  remove (id: string): void {
    const index = this.#frames.findIndex((frame) => frame.id === id)
    if (index !== -1) this.#userFrames -= this.#frames.splice(index, 1)[0]!.perConnection === true ? 0 : 1
  }

  /** The connection closed: what belonged to it goes (their request ids are returned), the user's frames wait for the next one. */
  dropPerConnection (): string[] {
    const dropped: string[] = []
    this.#frames = this.#frames.filter((frame) => {
      if (frame.perConnection !== true) return true
      if (frame.id !== undefined) dropped.push(frame.id)
      return false
    })
    return dropped
  }

  clear (): void {
    this.#frames = []
    this.#userFrames = 0
  }
}

/** A token bucket like the server's, a little slower; no limit until `configure` gets one. */
export class Pacer {
  #capacity = Infinity
  #perMillisecond = Infinity
  #tokens = Infinity
  #updatedAt = 0

  /** A new connection: the server's bucket for it starts full. */
  configure (limit: { messagesPerSecond: number, burst: number } | undefined, now: number): void {
    if (limit === undefined || !(limit.burst >= 1) || !(limit.messagesPerSecond > 0)) {
      this.#capacity = this.#perMillisecond = this.#tokens = Infinity
      return
    }
    this.#capacity = Math.max(1, Math.floor(limit.burst * MARGIN))
    this.#perMillisecond = (limit.messagesPerSecond * MARGIN) / 1000
    this.#tokens = this.#capacity
    this.#updatedAt = now
  }

  /** Milliseconds until the next frame may go; 0 when it may go now. */
  wait (now: number): number {
    this.#refill(now)
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMillisecond)
  }

  /** Counts one frame written (pings too: the server counts them; the bucket may go below zero). */
  take (now: number): void {
    this.#refill(now)
    this.#tokens -= 1
  }

  #refill (now: number): void {
    if (this.#capacity === Infinity) return
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#perMillisecond)
    this.#updatedAt = now
  }
}
