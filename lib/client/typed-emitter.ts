// The smallest event emitter the client needs, typed by an event map, with no dependency
// on Node's `events` so it runs unchanged in browsers.

type Listener<Payload> = (payload: Payload) => void

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<any>>>()

  /** Adds a listener; returns a function that removes it. */
  on<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener)
    return () => { this.off(event, listener) }
  }

  /** Adds a listener that runs for the next event only. */
  once<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): () => void {
    const off = this.on(event, (payload) => {
      off()
      listener(payload)
    })
    return off
  }

  off<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): void {
    this.#listeners.get(event)?.delete(listener)
  }

  protected emit<Name extends keyof Events> (event: Name, payload: Events[Name]): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) callSafely(listener, payload)
  }
}

/**
 * Calls a user's listener. One that throws must not leave the client half-way through a
 * state change, so the error is rethrown on its own (reaching window.onerror or Node's
 * uncaughtException) instead of unwinding the client.
 */
export function callSafely<A extends unknown[]> (listener: (...args: A) => void, ...args: A): void {
  try {
    listener(...args)
  } catch (err) {
    queueMicrotask(() => { throw err })
  }
}
