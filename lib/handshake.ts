// Everything decided before the upgrade, in the WebSocket route's onRequest hook: a refused
// client gets a plain HTTP status and never a 101, so no socket, no frame, no memory.
// Order: shutting down (503), origin (403), capacity (503), per-address (429), authenticate (401).
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from './options.js'
import { createOriginCheck, type OriginCheck } from './origin.js'

/** HTTP statuses of a refused handshake. */
export const HandshakeStatus = {
  /** `authenticate` threw or returned nothing, or the session it returned has already expired. */
  UNAUTHORIZED: 401,
  /** The `Origin` is not in `allowedOrigins` (or missing while `requireOrigin` is on). */
  FORBIDDEN: 403,
  /** `maxConnectionsPerAddress` reached for the client's address. */
  TOO_MANY_REQUESTS: 429,
  /** `maxConnections` reached, or the server is shutting down. */
  SERVICE_UNAVAILABLE: 503
} as const

export type HandshakeSettings = Pick<ResolvedOptions,
'authenticate' | 'allowedOrigins' | 'requireOrigin' | 'maxConnections' | 'maxConnectionsPerAddress' | 'sessionExpiry'>

export interface TokenSources {
  /** Cookie holding the token; none by default. */
  cookie?: string
  /** Query parameter holding the token (browsers cannot set headers on a WebSocket); `token` by default, `false` for none. */
  query?: string | false
}

/**
 * The bearer token of a handshake: `Authorization: Bearer ...`, else the named cookie, else
 * the `token` query parameter. For `authenticate`; undefined when there is none.
 */
export function tokenFromRequest (request: FastifyRequest, sources: TokenSources = {}): string | undefined {
  const header = request.headers.authorization
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    if (match !== null) return match[1]
  }
  if (sources.cookie !== undefined) {
    const value = cookieValue(request.headers.cookie, sources.cookie)
    if (value !== undefined) return value
  }
  const queryName = sources.query ?? 'token'
  if (queryName !== false) {
    const value = new URL(request.url, 'http://localhost').searchParams.get(queryName)
    if (value !== null && value !== '') return value
  }
  return undefined
}

function cookieValue (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const pair of header.split(';')) {
    const index = pair.indexOf('=')
    if (index === -1 || pair.slice(0, index).trim() !== name) continue
    const raw = pair.slice(index + 1).trim()
    try {
      return decodeURIComponent(raw)
    } catch {
      return raw
    }
  }
  return undefined
}

class Refusal extends Error {
  readonly statusCode: number
  constructor (statusCode: number, message: string) {
    super(message)
    this.statusCode = statusCode
  }
}

export class HandshakeGuard {
  readonly #settings: HandshakeSettings
  readonly #openConnections: () => number
  readonly #originCheck: OriginCheck | undefined
  /** Handshakes past the checks whose socket is still open: in flight or upgraded. */
  #reserved = 0
  readonly #perAddress = new Map<string, number>()
  readonly #users = new WeakMap<FastifyRequest, unknown>()
  #closing = false

  constructor (settings: HandshakeSettings, openConnections: () => number) {
    this.#settings = settings
    this.#openConnections = openConnections
    this.#originCheck = settings.allowedOrigins === undefined ? undefined : createOriginCheck(settings.allowedOrigins)
  }

  /** From now on every upgrade is answered 503. */
  close (): void {
    this.#closing = true
  }

  /** What `authenticate` returned for this request. */
  userOf (request: FastifyRequest): unknown {
    return this.#users.get(request)
  }

  /** Warns about what the options leave open; called once the app is ready. */
  warnings (log: FastifyBaseLogger, cookiesInUse: boolean): void {
    if (this.#settings.authenticate !== undefined && this.#settings.allowedOrigins === undefined && cookiesInUse) {
      log.warn('fastify-realtime: authenticate is set and cookies are in use, but allowedOrigins is not: any web page can open a connection with your users\' cookies (cross-site WebSocket hijacking). Set allowedOrigins.')
    }
  }

  /** The route's onRequest hook. */
  readonly onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.#closing) return this.#refuse(request, reply, new Refusal(HandshakeStatus.SERVICE_UNAVAILABLE, 'Server is shutting down'))
    // A plain GET (no upgrade) gets @fastify/websocket's 404; nothing to guard.
    if (!request.ws) return
    try {
      this.#checkOrigin(request)
      if (!this.#reserve(request)) return this.#abandon(request, reply)
      await this.#authenticate(request)
      // Closing started while authenticate ran: app.close() must not wait on a late arrival.
      if (this.#closing) throw new Refusal(HandshakeStatus.SERVICE_UNAVAILABLE, 'Server is shutting down')
    } catch (err) {
      if (err instanceof Refusal) return this.#refuse(request, reply, err)
      throw err
    }
  }

  #checkOrigin (request: FastifyRequest): void {
    const origin = request.headers.origin
    if (origin === undefined) {
      if (this.#settings.requireOrigin) throw new Refusal(HandshakeStatus.FORBIDDEN, 'Origin header required')
      return
    }
    if (this.#originCheck !== undefined && !this.#originCheck(origin, request)) {
      throw new Refusal(HandshakeStatus.FORBIDDEN, 'Origin not allowed')
    }
  }

  /**
   * Counts the handshake against the limits until its socket closes, so a burst of
   * handshakes waiting on `authenticate` cannot overshoot them. False when the client has
   * already gone (it reset the connection while an earlier hook ran): a socket that is
   * destroyed emits no further 'close', so a slot taken now would never come back.
   */
  #reserve (request: FastifyRequest): boolean {
    if (Math.max(this.#reserved, this.#openConnections()) >= this.#settings.maxConnections) {
      throw new Refusal(HandshakeStatus.SERVICE_UNAVAILABLE, 'Too many connections')
    }
    // app.injectWS() hands over a stream, not a TCP socket: nothing to hold a reservation by.
    const socket = request.raw.socket as Socket | undefined
    if (socket === undefined) return true
    // A peer that reset is also seen as a missing address before the socket notices.
    const address = request.ip as string | undefined
    if (socket.destroyed || address === undefined) return false
    const perAddressLimit = this.#settings.maxConnectionsPerAddress
    const fromAddress = this.#perAddress.get(address) ?? 0
    if (perAddressLimit !== undefined && fromAddress >= perAddressLimit) {
      throw new Refusal(HandshakeStatus.TOO_MANY_REQUESTS, 'Too many connections from this address')
    }
    this.#reserved++
    this.#perAddress.set(address, fromAddress + 1)
    // Not destroyed yet, so its 'close' is still to come, whichever stage it happens in.
    socket.once('close', () => {
      this.#reserved--
      const count = (this.#perAddress.get(address) ?? 1) - 1
      if (count === 0) this.#perAddress.delete(address)
      else this.#perAddress.set(address, count)
    })
    return true
  }

  /** Ends a handshake whose client has gone: nobody is left to read an answer. */
  #abandon (request: FastifyRequest, reply: FastifyReply): void {
    request.log.debug('client left during the handshake')
    reply.hijack()
    request.raw.socket.destroy()
  }

  async #authenticate (request: FastifyRequest): Promise<void> {
    const authenticate = this.#settings.authenticate
    if (authenticate === undefined) return
    let user: unknown
    try {
      user = await authenticate(request)
    } catch (err) {
      request.log.debug({ err }, 'authenticate refused the handshake')
      throw new Refusal(HandshakeStatus.UNAUTHORIZED, 'Unauthorized')
    }
    if (user === undefined || user === null || user === false) throw new Refusal(HandshakeStatus.UNAUTHORIZED, 'Unauthorized')
    // A session already over (see sessions/session-expiry.ts) would be closed at once: refuse it now.
    const expiresAt = this.#settings.sessionExpiry(user)
    if (expiresAt !== undefined && expiresAt <= Date.now()) throw new Refusal(HandshakeStatus.UNAUTHORIZED, 'Session expired')
    this.#users.set(request, user)
  }

  #refuse (request: FastifyRequest, reply: FastifyReply, refusal: Refusal): FastifyReply {
    request.log.info({ statusCode: refusal.statusCode, reason: refusal.message }, 'websocket handshake refused')
    return reply.code(refusal.statusCode).header('connection', 'close').send({ statusCode: refusal.statusCode, error: refusal.message })
  }
}
