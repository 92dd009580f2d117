// Deadlines of every session on this node behind ONE timer: an indexed binary min-heap
// ordered by deadline, and a timer armed for the earliest one, rounded up to `granularity`
// so that thousands of nearby deadlines share a wake-up and adding a later deadline never
// touches the timer. Each item knows its heap slot, so cancelling or moving a deadline
// (a refresh, a closed connection) is O(log n) and leaves nothing behind.

/** What the queue orders: anything with a deadline. The queue owns `heapIndex`. */
export interface Deadline {
  /** Milliseconds since the epoch (`Date.now()` clock). */
  at: number
  /** Slot in the heap, -1 when not queued. */
  heapIndex: number
}

const MAX_DELAY = 2 ** 31 - 1

export interface ExpiryQueueOptions {
  /** Wake-ups are rounded up to a multiple of this many ms: a deadline fires at most this late. */
  granularity: number
}

export class ExpiryQueue<Item extends Deadline> {
  readonly #heap: Item[] = []
  readonly #onDue: (item: Item, now: number) => void
  readonly #granularity: number
  #timer: ReturnType<typeof setTimeout> | undefined
  /** When the armed timer fires; undefined when none is armed. */
  #armedAt: number | undefined
  /** Timer wake-ups so far (for the benchmark). */
  wakeUps = 0

  constructor (onDue: (item: Item, now: number) => void, options: ExpiryQueueOptions) {
    this.#onDue = onDue
    this.#granularity = options.granularity
  }

  get size (): number {
    return this.#heap.length
  }

  /** Queues `item` for `at`, or moves it there if it is already queued. */
  schedule (item: Item, at: number): void {
    const previous = item.at
    item.at = at
    if (item.heapIndex === -1) {
      item.heapIndex = this.#heap.length
      this.#heap.push(item)
      this.#up(item.heapIndex)
    } else if (at < previous) {
      this.#up(item.heapIndex)
    } else {
      this.#down(item.heapIndex)
    }
    this.#arm()
  }

  /** Removes `item` if queued. The timer is left alone: a wake-up with nothing due just re-arms. */
  cancel (item: Item): void {
    const index = item.heapIndex
    if (index === -1) return
    item.heapIndex = -1
    const last = this.#heap.pop()!
    if (index === this.#heap.length) return
    this.#heap[index] = last
    last.heapIndex = index
    this.#down(index)
    this.#up(last.heapIndex)
  }

  /** Stops the timer and forgets every item. */
  clear (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedAt = undefined
    for (const item of this.#heap) item.heapIndex = -1
    this.#heap.length = 0
  }

  #arm (): void {
    const first = this.#heap[0]
    if (first === undefined) return
    const wakeAt = Math.ceil(first.at / this.#granularity) * this.#granularity
    // An earlier (or equal) wake-up is already armed: it re-arms for the rest when it fires.
    if (this.#armedAt !== undefined && this.#armedAt <= wakeAt) return
    clearTimeout(this.#timer)
    this.#armedAt = wakeAt
    // setTimeout fires at once for a delay above 2^31 - 1 ms (24.8 days): wake up early instead.
    this.#timer = setTimeout(this.#wake, Math.min(MAX_DELAY, Math.max(0, wakeAt - Date.now())))
    // Expiry alone must never keep a process alive.
    this.#timer.unref?.()
  }

  readonly #wake = (): void => {
    this.#timer = undefined
    this.#armedAt = undefined
    this.wakeUps++
    const now = Date.now()
    let first = this.#heap[0]
    while (first !== undefined && first.at <= now) {
      this.cancel(first)
      // onDue may schedule the item again (a later deadline) or anything else.
      this.#onDue(first, now)
      first = this.#heap[0]
    }
    this.#arm()
  }

  #up (index: number): void {
    const heap = this.#heap
    const item = heap[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]!
      if (parent.at <= item.at) break
      heap[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }
    heap[index] = item
    item.heapIndex = index
  }

  #down (index: number): void {
    const heap = this.#heap
    const length = heap.length
    const item = heap[index]!
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && heap[right]!.at < heap[left]!.at ? right : left
      const smaller = heap[child]!
      if (smaller.at >= item.at) break
      heap[index] = smaller
      smaller.heapIndex = index
      index = child
    }
    heap[index] = item
    item.heapIndex = index
  }
}
