// Reconnect delays: exponential growth with a cap and "full jitter" (a uniformly random
// delay between 0 and the capped exponential), so clients dropped by one server restart
// spread their reconnects over the whole window instead of arriving together.
// Pure: the random source is a parameter, so tests can pin it.

export interface BackoffOptions {
  /** Upper bound of the first delay, in milliseconds. */
  initialDelay: number
  /** Growth of the upper bound per attempt. */
  factor: number
  /** The upper bound never exceeds this, in milliseconds. */
  maxDelay: number
  /** Attempts allowed before giving up. */
  maxAttempts: number
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = {
  initialDelay: 1000,
  factor: 1.5,
  maxDelay: 30000,
  maxAttempts: 50
}

/**
 * Delay in milliseconds before reconnect attempt `attempt` (1 for the first), or `undefined`
 * once `attempt` exceeds `maxAttempts`. The delay is `random()` (in [0, 1)) times
 * `min(maxDelay, initialDelay * factor ** (attempt - 1))`, rounded down.
 */
export function backoffDelay (attempt: number, options: BackoffOptions, random: () => number = Math.random): number | undefined {
  if (attempt < 1 || attempt > options.maxAttempts) return undefined
  const ceiling = Math.min(options.maxDelay, options.initialDelay * options.factor ** (attempt - 1))
  return Math.floor(random() * ceiling)
}
