// Runs operations of one key (a channel, a topic) one after the other, and operations of
// different keys independently. The brokers queue SUBSCRIBE/UNSUBSCRIBE per channel through
// it, so interleaved calls can never leave the server subscribed without interest, or
// interest without a subscription. A failed operation does not stop the ones after it.
export class KeyedQueue {
  /** Tail of each key's queue; removed once the key has nothing left to run. */
  readonly #tails = new Map<string, Promise<void>>()

  /** Runs `operation` after every operation already queued for `key`; settles as it does. */
  run (key: string, operation: () => Promise<void>): Promise<void> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const result = previous.then(operation)
    const tail = result.catch(() => {})
    this.#tails.set(key, tail)
    tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key) }, () => {})
    return result
  }
}
