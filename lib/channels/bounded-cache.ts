// A Map that forgets its oldest entries past a size: per-name caches fed by client input
// must not grow without bound. Insertion order is the eviction order; a hit does not refresh
// an entry, which keeps `get` free of writes on the hot path.
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>()
  readonly #maxSize: number

  constructor (maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new TypeError('BoundedCache size must be a positive integer')
    this.#maxSize = maxSize
  }

  get size (): number {
    return this.#entries.size
  }

  get (key: K): V | undefined {
    return this.#entries.get(key)
  }

  set (key: K, value: V): void {
    if (this.#entries.size >= this.#maxSize && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, value)
  }
}
