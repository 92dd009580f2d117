// Live frames that arrive for a channel while a subscriber's history is being read: they are
// held so that, once the replay is written, they follow it without a gap, and those the replay
// already carried are dropped by offset. Delivery checks `active` first: with no recovery
// under way it costs one property read per publish, nothing per recipient.
import { offsetOfFrame } from '../brokers/history-frame.js'

export interface HeldFrames {
  readonly channel: string
  readonly frames: string[]
}

export class LiveHold {
  readonly #holds = new Map<string, Set<HeldFrames>>()

  get active (): boolean {
    return this.#holds.size !== 0
  }

  /** Starts holding the live frames of `channel` for one subscriber. */
  begin (channel: string): HeldFrames {
    const held: HeldFrames = { channel, frames: [] }
    let holds = this.#holds.get(channel)
    if (holds === undefined) {
      holds = new Set()
      this.#holds.set(channel, holds)
    }
    holds.add(held)
    return held
  }

  /** Called with every frame delivered to this node. */
  hold (channel: string, frame: string): void {
    const holds = this.#holds.get(channel)
    if (holds === undefined) return
    for (const held of holds) held.frames.push(frame)
  }

  /** Stops holding; returns the held frames with an offset above `after`, in arrival order. */
  end (held: HeldFrames, after: number): string[] {
    const holds = this.#holds.get(held.channel)
    if (holds !== undefined) {
      holds.delete(held)
      if (holds.size === 0) this.#holds.delete(held.channel)
    }
    let last = after
    const fresh: string[] = []
    for (const frame of held.frames) {
      const offset = offsetOfFrame(frame)
      if (offset === undefined || offset <= last) continue
      last = offset
      fresh.push(frame)
    }
    return fresh
  }
}
