// The session of each authenticated connection: when it expires, the `refresh_needed`
// warning `refreshLeadTime` ms before, the `refresh` frame that moves the expiry, and the
// 4001 close when it runs out. Every deadline lives in one ExpiryQueue (one timer per node).
import type { FastifyRequest } from 'fastify'
import type { Connection } from '../connection.js'
import { CloseCode, ErrorCode, RealtimeError } from '../errors.js'
import type { AuthenticateFunction } from '../options.js'
import { ExpiryQueue, type Deadline } from './expiry-queue.js'
import { refreshRequest } from './refresh-request.js'

/** Deadlines fire at most this late (ms), plus the time to close what is due: within a second of the expiry. */
export const EXPIRY_GRANULARITY = 500

export interface SessionSettings {
  authenticate: AuthenticateFunction | undefined
  userId: (user: unknown) => string | undefined
  sessionExpiry: (user: unknown) => number | undefined
  refreshLeadTime: number
}

interface Session extends Deadline {
  readonly connection: Connection
  readonly handshake: FastifyRequest
  /** Ms since the epoch; undefined: the session does not expire. */
  expiresAt: number | undefined
  /** `refresh_needed` was sent for the current expiry. */
  warned: boolean
  /** A refresh is being checked: a second one waits for no one and is refused. */
  refreshing: boolean
}

export class SessionTracker {
  readonly #settings: SessionSettings
  readonly #sessions = new WeakMap<Connection, Session>()
  readonly #handshakes = new WeakMap<Connection, FastifyRequest>()
  readonly #queue = new ExpiryQueue<Session>((session, now) => this.#due(session, now), { granularity: EXPIRY_GRANULARITY })
  /** Connections closed with 4001 so far. */
  expired = 0

  constructor (settings: SessionSettings) {
    this.#settings = settings
  }

  /** Sessions waiting for a deadline. */
  get scheduled (): number {
    return this.#queue.size
  }

  /** Times the one expiry timer has fired (for the benchmark). */
  get timerWakeUps (): number {
    return this.#queue.wakeUps
  }

  /** Keeps the handshake of an accepted connection until its `welcome` (connect hooks may delay it). */
  hold (connection: Connection, handshake: FastifyRequest): void {
    if (this.#settings.authenticate !== undefined) this.#handshakes.set(connection, handshake)
  }

  /** Starts the session of a connection just welcomed. Without `authenticate` there is none. */
  start (connection: Connection): void {
    const handshake = this.#handshakes.get(connection)
    if (handshake === undefined) return
    this.#handshakes.delete(connection)
    const session: Session = { connection, handshake, expiresAt: undefined, warned: false, refreshing: false, at: 0, heapIndex: -1 }
    this.#sessions.set(connection, session)
    this.#expireAt(session, this.#settings.sessionExpiry(connection.user), Date.now())
  }

  /** Forgets a closed connection. */
  end (connection: Connection): void {
    const session = this.#sessions.get(connection)
    if (session === undefined) return
    this.#sessions.delete(connection)
    this.#queue.cancel(session)
  }

  stop (): void {
    this.#queue.clear()
  }

  /**
   * A client's `refresh`: `token` goes through `authenticate` (see refresh-request.ts); the
   * session moves to the new user's expiry when it is the same user and not expired.
   * Resolves with the new expiry (undefined: never); rejects with `invalid_token`.
   */
  async refresh (connection: Connection, token: string): Promise<number | undefined> {
    const session = this.#sessions.get(connection)
    if (session === undefined) throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'This connection has no session to refresh')
    // authenticate may be costly (a database, a key server): one check at a time per connection.
    if (session.refreshing) throw new RealtimeError(ErrorCode.RATE_LIMITED, 'A refresh of this session is already being checked')
    session.refreshing = true
    try {
      const user = await this.#authenticate(session, token)
      const sessionUserId = this.#settings.userId(connection.user)
      if (sessionUserId === undefined) throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The session has no user id to compare the token with (see the userId option)')
      if (this.#settings.userId(user) !== sessionUserId) {
        throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The token belongs to another user')
      }
      const now = Date.now()
      const expiresAt = this.#settings.sessionExpiry(user)
      if (expiresAt !== undefined && expiresAt <= now) throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The token has expired')
      // Closed while authenticate ran: nothing left to extend.
      if (this.#sessions.get(connection) !== session) throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The session has ended')
      connection.user = user
      this.#expireAt(session, expiresAt, now, true)
      connection.log.debug({ expiresAt }, 'session refreshed')
      return expiresAt
    } finally {
      session.refreshing = false
    }
  }

  async #authenticate (session: Session, token: string): Promise<unknown> {
    let user: unknown
    try {
      user = await this.#settings.authenticate!(refreshRequest(session.handshake, token))
    } catch (err) {
      session.connection.log.debug({ err }, 'authenticate refused the refresh token')
      throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The token was refused')
    }
    if (user === undefined || user === null || user === false) throw new RealtimeError(ErrorCode.INVALID_TOKEN, 'The token was refused')
    return user
  }

  #expireAt (session: Session, expiresAt: number | undefined, now: number, refreshed = false): void {
    session.expiresAt = expiresAt
    session.warned = false
    if (expiresAt === undefined) {
      this.#queue.cancel(session)
      return
    }
    let warnAt = expiresAt - this.#settings.refreshLeadTime
    // A token that lives less than the lead time: after a refresh, ask again half-way through
    // its life rather than at once, or client and server would refresh in a loop.
    if (refreshed) warnAt = Math.max(warnAt, now + (expiresAt - now) / 2)
    // At the handshake, a lead time longer than what is left asks for a new token at once.
    if (warnAt <= now) this.#warn(session, now)
    else this.#queue.schedule(session, warnAt)
  }

  #due (session: Session, now: number): void {
    if (session.warned) this.#expire(session)
    else this.#warn(session, now)
  }

  #warn (session: Session, now: number): void {
    const expiresAt = session.expiresAt!
    session.warned = true
    session.connection.send({ type: 'refresh_needed', expiresIn: Math.max(0, expiresAt - now) })
    this.#queue.schedule(session, expiresAt)
  }

  #expire (session: Session): void {
    this.#sessions.delete(session.connection)
    this.expired++
    session.connection.log.info('session expired without a refresh, closing')
    session.connection.close(CloseCode.SESSION_EXPIRED, 'session expired')
  }
}
