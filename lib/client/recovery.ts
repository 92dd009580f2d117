// The client's half of channel history: the last position (offset, epoch) seen on every
// history channel, sent as `since` on each resubscribe so the server replays what a dropped
// connection missed; duplicates dropped by offset; a gap seen in the live stream (the server
// node lost messages while its own Redis link was down) healed by resubscribing from the last
// offset; a channel that could not be recovered reported instead of passing silently.
import type { ChannelMessage, StreamPosition, SubscribedMessage } from '../protocol.js'

export type { StreamPosition }

/** A channel whose messages after `since` could not all be delivered: reload its state. */
export interface Unrecovered {
  channel: string
  /** The last position this client had seen (or was given). */
  since: StreamPosition
  /** Where the channel's stream stands now: messages continue after it. */
  position: StreamPosition | undefined
  reason: 'not_recovered'
}

/** What to do with a message: hand it over, drop it (seen, or held for a resubscribe), or resubscribe. */
export type Verdict = 'deliver' | 'drop' | 'gap'

export class ChannelPositions {
  readonly #positions = new Map<string, StreamPosition>()
  /** Channels resubscribing after a gap: their messages wait for the replay. */
  readonly #healing = new Set<string>()

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
    this.#healing.delete(channel)
  }

  /**
   * Takes the server's `subscribed` answer to a subscribe sent with `since`. On recovery the
   * position stays where it was: the replayed messages move it. Otherwise it jumps to the
   * stream's current position; the return value says what could not be recovered.
   */
  subscribed (message: SubscribedMessage, since: StreamPosition | undefined): Unrecovered | undefined {
    const { channel, offset, epoch } = message
    this.#healing.delete(channel)
    const position = offset === undefined || epoch === undefined ? undefined : { offset, epoch }
    if (message.recovered === true) return undefined
    if (position === undefined) this.#positions.delete(channel)
    else this.#positions.set(channel, position)
    if (since === undefined || message.recovered === undefined) return undefined
    return { channel, since, position, reason: 'not_recovered' }
  }

  /**
   * Takes a message. `drop`: already seen (its offset is not past the position), or the
   * channel is resubscribing. `gap`: offsets were skipped; the position stays, so the caller
   * resubscribes from it and the replay brings the rest. Messages without an offset pass.
   */
  message (message: ChannelMessage): Verdict {
    const { offset, epoch, channel } = message
    if (offset === undefined || epoch === undefined) return 'deliver'
    if (this.#healing.has(channel)) return 'drop'
    const last = this.#positions.get(channel)
    if (last !== undefined && last.epoch === epoch && offset <= last.offset) return 'drop'
    // A new epoch starting at 1 lost nothing; anything else after a known position did.
    if (last !== undefined && offset !== (last.epoch === epoch ? last.offset + 1 : 1)) {
      this.#healing.add(channel)
      return 'gap'
    }
    this.#positions.set(channel, { offset, epoch })
    return 'deliver'
  }
}
