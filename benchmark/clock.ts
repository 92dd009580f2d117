// One clock for every benchmark process: CLOCK_MONOTONIC (process.hrtime) is shared by all
// processes of a machine, so a timestamp taken by a server can be compared with one taken by
// a load generator. Milliseconds with sub-microsecond resolution.
export function now (): number {
  const [seconds, nanoseconds] = process.hrtime()
  return seconds * 1e3 + nanoseconds / 1e6
}
