// Warnings about what the options leave open, logged once when the server starts listening.
import type { FastifyBaseLogger } from 'fastify'
import type { ResolvedOptions } from './options.js'

export type OpenPublishingSettings = Pick<ResolvedOptions, 'allowClientPublish' | 'authorize'>

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: only this machine can connect. */
function isLoopback (address: string): boolean {
  return /^(?:::ffff:)?127\.\d+\.\d+\.\d+$/i.test(address) || address === '::1'
}

/**
 * The defaults let any client publish to any channel and chat to everyone. Fine on a
 * developer's machine; worth a warning once the server listens where others can reach it.
 */
export function warnAboutOpenPublishing (log: FastifyBaseLogger, addresses: ReadonlyArray<string | { address: string }>, settings: OpenPublishingSettings): void {
  if (!settings.allowClientPublish || settings.authorize !== undefined) return
  // A string is a Unix socket or pipe path: reachable from this machine only.
  const reachable = addresses.flatMap((entry) => typeof entry === 'string' || isLoopback(entry.address) ? [] : [entry.address])
  if (reachable.length === 0) return
  log.warn({ addresses: reachable }, 'fastify-realtime: listening on a non-loopback address with allowClientPublish on and no authorize: any client can publish to any channel and chat to every connection. Set authorize, or allowClientPublish: false.')
}
