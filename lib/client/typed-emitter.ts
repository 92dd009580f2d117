// The smallest event emitter the client needs, typed by an event map, with no dependency
// on Node's `events` so it runs unchanged in browsers.

type Listener<Payload> = (payload: Payload) => void

/** A once() wrapper remembers what it wraps, so off() with the original finds it. */
type Wrapped = Listener<any> & { original?: Listener<any> }

export class TypedEmitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Wrapped>>()

  /** Adds a listener; returns a function that removes it. */
  on<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): () => void {
    let set = this.#listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(event, set)
    }
    set.add(listener)
    return () => { this.#listeners.get(event)?.delete(listener) }
  }

  /** Adds a listener that runs for the next event only; `off(event, listener)` removes it too. */
  once<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): () => void {
    const wrapper: Wrapped = (payload: Events[Name]) => {
      remove()
      listener(payload)
    }
    wrapper.original = listener
    const remove = this.on(event, wrapper)
    return remove
  }

  off<Name extends keyof Events> (event: Name, listener: Listener<Events[Name]>): void {
    const set = this.#listeners.get(event)
    if (set === undefined) return
    if (set.delete(listener)) return
    for (const registered of set) {
      if (registered.original === listener) {
        set.delete(registered)
        return
      }
    }
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
