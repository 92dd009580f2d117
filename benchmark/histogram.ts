// Latency histogram with fixed 0.1 ms buckets up to 30 s: constant memory, no allocation per
// sample, and histograms of several load generators merge by adding counts.
const BUCKET_MS = 0.1
const BUCKETS = 300_000

export type SparseHistogram = Array<[bucket: number, count: number]>

export class Histogram {
  readonly counts = new Uint32Array(BUCKETS)
  total = 0

  record (ms: number): void {
    let bucket = Math.floor(ms / BUCKET_MS)
    if (bucket < 0) bucket = 0
    else if (bucket >= BUCKETS) bucket = BUCKETS - 1
    this.counts[bucket]!++
    this.total++
  }

  reset (): void {
    this.counts.fill(0)
    this.total = 0
  }

  toSparse (): SparseHistogram {
    const sparse: SparseHistogram = []
    for (let i = 0; i < BUCKETS; i++) {
      const count = this.counts[i]!
      if (count !== 0) sparse.push([i, count])
    }
    return sparse
  }

  add (sparse: SparseHistogram): void {
    for (const [bucket, count] of sparse) {
      this.counts[bucket]! += count
      this.total += count
    }
  }

  /** The upper edge of the highest bucket with a sample (the maximum, to 0.1 ms); NaN without samples. */
  max (): number {
    for (let i = BUCKETS - 1; i >= 0; i--) if (this.counts[i] !== 0) return (i + 1) * BUCKET_MS
    return NaN
  }

  /** The latency in ms below which `p` (0..1) of the samples fall; NaN without samples. */
  percentile (p: number): number {
    if (this.total === 0) return NaN
    const rank = Math.ceil(p * this.total)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return (i + 1) * BUCKET_MS
    }
    return BUCKETS * BUCKET_MS
  }
}
