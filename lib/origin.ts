// Origin check against cross-site WebSocket hijacking: browsers always send `Origin` on a
// WebSocket handshake, and they attach the site's cookies to it, so the origin is what tells
// a page of ours from a page of anyone else's.
import type { FastifyRequest } from 'fastify'
import type { AllowedOrigins } from './options.js'

export type OriginCheck = (origin: string, request: FastifyRequest) => boolean

/**
 * Builds the check for `allowedOrigins`. Strings match the whole origin exactly (case of
 * scheme and host ignored, as browsers send them lowercase anyway); regexes are anchored
 * (options.ts refuses unanchored ones); a function decides by itself.
 */
export function createOriginCheck (allowed: AllowedOrigins): OriginCheck {
  if (typeof allowed === 'function') {
    return (origin, request) => {
      try {
        return allowed(origin, request) === true
      } catch (err) {
        // A check that fails refuses: an error must never open the door.
        request.log.error({ err }, 'allowedOrigins function threw')
        return false
      }
    }
  }
  const exact = new Set<string>()
  const patterns: RegExp[] = []
  for (const entry of allowed) {
    if (typeof entry === 'string') exact.add(entry.toLowerCase())
    // Wrapped whole in ^(?:…)$: an alternation such as /^https:\/\/a\.com|https:\/\/b\.com$/ is
    // only anchored at its two ends, and would otherwise match https://a.com.evil.net.
    // A global or sticky regex keeps `lastIndex` between calls; a fresh copy without those flags does not.
    else patterns.push(new RegExp(`^(?:${entry.source})$`, entry.flags.replace(/[gy]/g, '')))
  }
  return (origin) => exact.has(origin.toLowerCase()) || patterns.some((pattern) => pattern.test(origin))
}
