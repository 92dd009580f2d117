// The client's half of channel history: the last position (offset, epoch) seen on every
// history channel, sent as `since` on each resubscribe so the server replays what a dropped
// connection missed; duplicates dropped by offset; a channel that could not be recovered, or
// a gap seen in its live stream, reported instead of passing silently.
import type { ChannelMessage, StreamPosition, SubscribedMessage } from '../protocol.js'

export type { StreamPosition }

/** A channel whose messages after `since` could not all be delivered: reload its state. */
export interface Unrecovered {
  channel: string
  /** The last position this client had seen (or was given). */
  since: StreamPosition
  /** Where the channel's stream stands now: messages continue after it. */
  position: StreamPosition | undefined
  /** `subscribed` said `recovered: false`, or the live stream skipped offsets (`gap`). */
  reason: 'not_recovered' | 'gap'
}

export class ChannelPositions {
  readonly #positions = new Map<string, StreamPosition>()

  /** The position to resume `channel` from, if one is known. */
  since (channel: string): StreamPosition | undefined {
    return this.#positions.get(channel)
  }

  /** Resumes from a position the application stored itself. */
  set (channel: string, position: StreamPosition): void {
    this.#positions.set(channel, { offset: position.offset, epoch: position.epoch })
  }

  forget (channel: string): void {
    this.#positions.delete(channel)
  }

  /**
   * Takes the server's `subscribed` answer to a subscribe sent with `since`. On recovery the
   * position stays where it was: the replayed messages move it. Otherwise it jumps to the
   * stream's current position; the return value says what could not be recovered.
   */
  subscribed (message: SubscribedMessage, since: StreamPosition | undefined): Unrecovered | undefined {
    const { channel, offset, epoch } = message
    const position = offset === undefined || epoch === undefined ? undefined : { offset, epoch }
    if (message.recovered === true) return undefined
    if (position === undefined) this.#positions.delete(channel)
    else this.#positions.set(channel, position)
    if (since === undefined || message.recovered === undefined) return undefined
    return { channel, since, position, reason: 'not_recovered' }
  }

  /**
   * Takes a message; returns false for one already seen (its offset is not past the position),
   * and reports a gap when offsets were skipped. Messages without an offset always pass.
   */
  message (message: ChannelMessage, onGap: (gap: Unrecovered) => void): boolean {
    const { offset, epoch, channel } = message
    if (offset === undefined || epoch === undefined) return true
    const last = this.#positions.get(channel)
    if (last !== undefined && last.epoch === epoch && offset <= last.offset) return false
    this.#positions.set(channel, { offset, epoch })
    const expected = last === undefined ? undefined : last.epoch === epoch ? last.offset + 1 : 1
    if (last !== undefined && offset !== expected) onGap({ channel, since: last, position: { offset, epoch }, reason: 'gap' })
    return true
  }
}
