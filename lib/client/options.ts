// The client's options: what can be set, the defaults, and the check done once in the
// constructor. Browser-safe: no Node imports.
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js'
import type { GetToken } from './session.js'

// The DOM's WebSocket and `ws` type their event handlers differently; method syntax makes
// these properties bivariant, so both implementations fit this one shape.
type Handler<Event> = { bivarianceHack (event: Event): void }['bivarianceHack'] | null

/** The part of a WebSocket the client uses: the DOM's and `ws`' both fit. */
export interface WebSocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  /** `ws` only: drops the connection at once, without a closing handshake. */
  terminate?: () => void
  onopen: Handler<unknown>
  onmessage: Handler<{ data: unknown }>
  onclose: Handler<{ code: number, reason: string }>
  onerror: Handler<unknown>
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** Where to connect: a URL, or a function computing it for each attempt (a fresh token in the query, say). */
export type UrlSource = string | (() => string | Promise<string>)

/** Receives the `debug` lines: `console.debug` fits, and so does a pino or Fastify logger's `debug` bound to it. */
export type DebugLogger = (message: string, details: Record<string, unknown>) => void

export interface RealtimeClientOptions {
  /** WebSocket implementation; defaults to the global `WebSocket` (browsers). In Node 20 pass `ws`' class. */
  WebSocket?: WebSocketConstructor
  /** Subprotocols offered in the handshake. */
  protocols?: string | string[]
  /** Reconnect after the connection drops. Default `true`. */
  reconnect?: boolean
  /** Upper bound of the first reconnect delay, ms. Default `1000`. */
  initialDelay?: number
  /** Growth of the delay bound per attempt. Default `1.5`. */
  backoffFactor?: number
  /** Largest delay bound, ms. Default `30000`. */
  maxDelay?: number
  /** Reconnect attempts before giving up (state `closed`). Default `50`. */
  maxAttempts?: number
  /** A connection open this long (ms) resets the attempt counter. Default `5000`. */
  resetAfter?: number
  /** Random source in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number
  /** A connection not open after this long (ms) is abandoned and retried. Default `10000`. */
  connectTimeout?: number
  /** Milliseconds between the client's `ping` frames. Default `20000`. */
  pingInterval?: number
  /** After a ping, the server has this long (ms) to send anything before the link counts as dead. Default `10000`. */
  pingTimeout?: number
  /** Milliseconds a request (`publish`, `request`, `chat`) waits for its answer once sent. Default `10000`. */
  requestTimeout?: number
  /** Frames kept while disconnected (or held back by the server's rate limit); more fail with `queue_full`. Default `100`. */
  queueLimit?: number
  /**
   * The user's current token, asked before every connect attempt (sent in the `token` query
   * parameter) and on the server's `refresh_needed`. Null, or throwing `RealtimeError`
   * `logged_out`, closes the client for good. See docs/sessions.md.
   */
  getToken?: GetToken
  /** Connect in the constructor. Default `true`; with `false`, call `connect()`. */
  autoConnect?: boolean
  /** After a request timed out (or the network came back), the server has this long (ms) to answer a ping. Default `3000`. */
  probeTimeout?: number
  /** Browsers: stop retrying while offline, check the link at once when the network or a long-hidden page comes back. Default `true`. */
  network?: boolean
  /** Logs state changes and frames sent and received (type, id, channel, size) here. */
  debug?: DebugLogger
  /** With `debug`: log whole frames, payloads included. Default `false`. */
  debugPayloads?: boolean
}

export interface ClientSettings {
  WebSocket: WebSocketConstructor
  protocols: string | string[] | undefined
  reconnect: boolean
  backoff: BackoffOptions
  resetAfter: number
  random: () => number
  connectTimeout: number
  pingInterval: number
  pingTimeout: number
  requestTimeout: number
  queueLimit: number
  getToken: GetToken | undefined
  autoConnect: boolean
  probeTimeout: number
  network: boolean
  debug: DebugLogger | undefined
  debugPayloads: boolean
}

export function number (name: string, value: number | undefined, fallback: number, min: number, integer = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new TypeError(`fastify-realtime client: option ${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}`)
  }
  return value
}

/** Applies defaults and refuses bad values with a message naming the option. */
export function resolveClientOptions (options: RealtimeClientOptions): ClientSettings {
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof WebSocket !== 'function') {
    throw new TypeError('fastify-realtime client: no global WebSocket; pass options.WebSocket (in Node: the `ws` package)')
  }
  const random = options.random ?? Math.random
  if (typeof random !== 'function') throw new TypeError('fastify-realtime client: option random must be a function')
  if (options.getToken !== undefined && typeof options.getToken !== 'function') throw new TypeError('fastify-realtime client: option getToken must be a function')
  if (options.debug !== undefined && typeof options.debug !== 'function') throw new TypeError('fastify-realtime client: option debug must be a function')
  return {
    WebSocket,
    protocols: options.protocols,
    reconnect: options.reconnect ?? true,
    backoff: {
      initialDelay: number('initialDelay', options.initialDelay, DEFAULT_BACKOFF.initialDelay, 0),
      factor: number('backoffFactor', options.backoffFactor, DEFAULT_BACKOFF.factor, 1),
      maxDelay: number('maxDelay', options.maxDelay, DEFAULT_BACKOFF.maxDelay, 0),
      maxAttempts: number('maxAttempts', options.maxAttempts, DEFAULT_BACKOFF.maxAttempts, 0, true)
    },
    resetAfter: number('resetAfter', options.resetAfter, 5000, 0),
    random,
    connectTimeout: number('connectTimeout', options.connectTimeout, 10000, 1),
    // With the server's defaults (heartbeat every 30 s, 10 s to answer), a dead link is
    // noticed within 30 s here, before the server's own 40 s.
    pingInterval: number('pingInterval', options.pingInterval, 20000, 1),
    pingTimeout: number('pingTimeout', options.pingTimeout, 10000, 1),
    requestTimeout: number('requestTimeout', options.requestTimeout, 10000, 1),
    queueLimit: number('queueLimit', options.queueLimit, 100, 0, true),
    getToken: options.getToken,
    autoConnect: options.autoConnect ?? true,
    probeTimeout: number('probeTimeout', options.probeTimeout, 3000, 1),
    network: options.network ?? true,
    debug: options.debug,
    debugPayloads: options.debugPayloads ?? false
  }
}
