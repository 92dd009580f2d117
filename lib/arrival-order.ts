// Keeps the arrival order of one connection's publishes and chat lines when `authorize` is
// async: the checks run side by side, but each delivery waits until the one that arrived
// before it has been handed to the broker (or refused). Different connections never wait
// on each other.

function ignore (): void {}

export class ArrivalOrder {
  /** Per connection: settles once its latest delivery has been handed over or refused. */
  readonly #turns = new WeakMap<object, Promise<void>>()
  readonly #needed: boolean

  /** `needed` false: without `authorize` every check settles in the same number of ticks, so order holds by itself. */
  constructor (needed = true) {
    this.#needed = needed
  }

  /** Calls `deliver` once `allowed` has resolved and every earlier delivery of `key` has been handed over. */
  run (key: object, allowed: Promise<void>, deliver: () => Promise<void>): Promise<void> {
    if (!this.#needed) return allowed.then(deliver)
    // Handled now, so a refusal that comes before its turn is not an unhandled rejection;
    // it still reaches the caller through `result`.
    allowed.catch(ignore)
    const previous = this.#turns.get(key)
    const ready = previous === undefined ? allowed : previous.then(() => allowed)
    // Registered before `turn`, so `deliver` has been called when the next one's turn comes.
    const result = ready.then(deliver)
    const turn = ready.then(ignore, ignore)
    this.#turns.set(key, turn)
    turn.then(() => { if (this.#turns.get(key) === turn) this.#turns.delete(key) }, ignore)
    return result
  }
}
