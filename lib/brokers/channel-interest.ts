// Reference counts of a node's interest in channels, shared by the brokers: the first
// reference subscribes, the last one unsubscribes.
export class ChannelInterest {
  readonly #counts = new Map<string, number>()

  /** Takes a reference; true when it is the first. */
  add (channel: string): boolean {
    const count = this.#counts.get(channel) ?? 0
    this.#counts.set(channel, count + 1)
    return count === 0
  }

  /** Drops a reference; true when it was the last. Dropping an absent channel is a no-op. */
  remove (channel: string): boolean {
    const count = this.#counts.get(channel)
    if (count === undefined) return false
    if (count > 1) {
      this.#counts.set(channel, count - 1)
      return false
    }
    this.#counts.delete(channel)
    return true
  }

  has (channel: string): boolean {
    return this.#counts.has(channel)
  }

  channels (): IterableIterator<string> {
    return this.#counts.keys()
  }

  clear (): void {
    this.#counts.clear()
  }
}
