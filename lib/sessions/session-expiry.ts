// When a session ends: the `sessionExpiry(user)` option (ms since the epoch) when given,
// else the JWT `exp` claim (seconds since the epoch, as @fastify/jwt decodes it), else never.

/** Returns when the session of `user` expires, in ms since the epoch, or undefined for never. */
export type SessionExpiryFunction = (user: unknown) => number | undefined

/** The `exp` claim of a decoded JWT, in ms; undefined when the user has none. */
export function expiryFromClaim (user: unknown): number | undefined {
  if (user === null || typeof user !== 'object') return undefined
  const exp = (user as { exp?: unknown }).exp
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined
}

/**
 * The expiry lookup the plugin uses. An application's function that throws or returns
 * something that is not a finite number makes the session expire at once (fail closed).
 */
export function createSessionExpiry (option: SessionExpiryFunction | undefined): (user: unknown) => number | undefined {
  if (option === undefined) return expiryFromClaim
  return (user) => {
    let value: unknown
    try {
      value = option(user)
    } catch {
      return 0
    }
    if (value === undefined || value === null || value === Infinity) return undefined
    return typeof value === 'number' && Number.isFinite(value) ? value : 0
  }
}
