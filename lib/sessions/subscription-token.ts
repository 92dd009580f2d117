// Subscription tokens: a signed, expiring grant for one user and one channel, issued by an
// HTTP route of the application (`app.realtime.subscriptionToken()`) and shown in a
// `subscribe` frame. Checking one costs an HMAC, no callback and no I/O per subscribe.
//
// Format: `<payload>.<signature>`, both base64url. The payload is JSON `{ u, c, e }` (user
// id, channel, expiry in ms since the epoch); the signature is HMAC-SHA256 over the payload
// text with the `subscriptionTokenSecret` option.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { MAX_SUBSCRIPTION_TOKEN_LENGTH } from '../protocol.js'

/** Shortest secret accepted, in bytes: 256 bits for HMAC-SHA256. */
export const MIN_SECRET_BYTES = 32

/** How long a subscription token is valid when `expiresIn` is not given, ms. */
export const DEFAULT_SUBSCRIPTION_TOKEN_TTL = 60_000

export interface SubscriptionTokenOptions {
  /** Milliseconds the token may be used to subscribe; default 60 s. */
  expiresIn?: number
}

export interface SubscriptionGrant {
  userId: string
  channel: string
  /** Ms since the epoch. */
  expiresAt: number
}

export class SubscriptionTokens {
  readonly #secret: Buffer

  constructor (secret: string | Buffer) {
    this.#secret = Buffer.from(secret)
  }

  /** A token that lets `userId` subscribe `channel` for `expiresIn` ms. */
  issue (userId: string | undefined, channel: string, options: SubscriptionTokenOptions = {}): string {
    if (userId === undefined) throw new TypeError('fastify-realtime: a subscription token needs a user with an id (see the userId option)')
    const expiresIn = options.expiresIn ?? DEFAULT_SUBSCRIPTION_TOKEN_TTL
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new TypeError('fastify-realtime: expiresIn of a subscription token must be a positive number of ms')
    }
    return this.sign({ userId, channel, expiresAt: Date.now() + expiresIn })
  }

  sign (grant: SubscriptionGrant): string {
    const payload = Buffer.from(JSON.stringify({ u: grant.userId, c: grant.channel, e: grant.expiresAt })).toString('base64url')
    return `${payload}.${this.#signature(payload).toString('base64url')}`
  }

  /**
   * The reason `token` does not let `userId` subscribe `channel` at `now`, or undefined
   * when it does. Never throws: any text is safe to pass.
   */
  refusal (token: string, userId: string | undefined, channel: string, now: number): string | undefined {
    const dot = token.indexOf('.')
    if (dot === -1 || token.length > MAX_SUBSCRIPTION_TOKEN_LENGTH) return 'malformed subscription token'
    const payload = token.slice(0, dot)
    const signature = Buffer.from(token.slice(dot + 1), 'base64url')
    const expected = this.#signature(payload)
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return 'subscription token signature is invalid'
    // Signed by us, so the payload is our own JSON.
    const grant = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { u: string, c: string, e: number }
    if (grant.e <= now) return 'subscription token has expired'
    if (grant.c !== channel) return 'subscription token is for another channel'
    if (userId === undefined || grant.u !== userId) return 'subscription token is for another user'
    return undefined
  }

  #signature (payload: string): Buffer {
    return createHmac('sha256', this.#secret).update(payload).digest()
  }
}
