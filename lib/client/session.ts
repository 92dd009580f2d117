// The client's side of sessions: `getToken()` supplies the token of every connect attempt
// (in the `token` query parameter, what the server's `tokenFromRequest` reads) and answers
// the server's `refresh_needed` with a `refresh` frame. Browser-safe: no Node imports.
import { ErrorCode, RealtimeError } from '../errors.js'

/**
 * Returns a current token of the user. `null` (or `undefined`), or throwing a `RealtimeError`
 * with code `logged_out`, means the user is logged out: the client closes for good. Any
 * other throw is a passing failure: the attempt is retried with the reconnect backoff.
 */
export type GetToken = () => string | null | undefined | Promise<string | null | undefined>

/** The query parameter that carries the token. */
export const TOKEN_QUERY_PARAMETER = 'token'

/** The token, or null when the user is logged out; rejects with what `getToken` threw otherwise. */
export async function currentToken (getToken: GetToken): Promise<string | null> {
  let token: string | null | undefined
  try {
    token = await getToken()
  } catch (err) {
    if (err instanceof RealtimeError && err.code === ErrorCode.LOGGED_OUT) return null
    throw err
  }
  if (token === null || token === undefined) return null
  if (typeof token !== 'string' || token === '') throw new TypeError('fastify-realtime client: getToken() must return a non-empty string, or null when logged out')
  return token
}

/**
 * `currentToken`, bounded: a token service that never answers must not leave the client
 * `connecting` forever. Rejects with `request_timeout` after `timeoutMs`.
 */
export async function tokenWithin (getToken: GetToken, timeoutMs: number): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RealtimeError(ErrorCode.REQUEST_TIMEOUT, `getToken() did not answer within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([currentToken(getToken), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** `url` with `token` in its query, replacing one already there. */
export function urlWithToken (url: string, token: string): string {
  const hashAt = url.indexOf('#')
  const base = hashAt === -1 ? url : url.slice(0, hashAt)
  const [path, query = ''] = base.split('?', 2) as [string, string?]
  const params = new URLSearchParams(query)
  params.set(TOKEN_QUERY_PARAMETER, token)
  return `${path}?${params.toString()}`
}

export interface SessionHooks {
  /** Sends the `refresh` request; resolves with the `ack` data. */
  request: (message: { type: 'refresh', token: string }) => Promise<unknown>
  /** Whether a connection is open to send it on. */
  isOpen: () => boolean
  loggedOut: () => void
  refreshed: (expiresIn: number | undefined) => void
  error: (err: Error) => void
}

/** Answers `refresh_needed`: one refresh at a time, whatever the server repeats. */
export class SessionRefresher {
  readonly #getToken: GetToken
  readonly #hooks: SessionHooks
  #running = false

  constructor (getToken: GetToken, hooks: SessionHooks) {
    this.#getToken = getToken
    this.#hooks = hooks
  }

  refresh (): void {
    if (this.#running) return
    this.#running = true
    this.#run().catch((err: unknown) => {
      // Dropped before the answer: the reconnect asks getToken() again, nothing is lost.
      if (err instanceof RealtimeError && err.code === ErrorCode.DISCONNECTED) return
      this.#hooks.error(err as Error)
    }).finally(() => { this.#running = false })
  }

  async #run (): Promise<void> {
    const token = await currentToken(this.#getToken)
    if (token === null) {
      this.#hooks.loggedOut()
      return
    }
    // Dropped meanwhile: the reconnect asks getToken() again anyway.
    if (!this.#hooks.isOpen()) return
    const data = await this.#hooks.request({ type: 'refresh', token }) as { expiresIn?: number } | undefined
    this.#hooks.refreshed(data?.expiresIn)
  }
}
