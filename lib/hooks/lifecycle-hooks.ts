// Application hooks on a connection's life, registered with `app.realtime.addHook(name, fn)`:
// connect (may refuse with a close code), subscribe, unsubscribe, message, disconnect.
// A hook's error is logged and goes no further: an application bug never takes a connection,
// another client or the process down. With no hook of a kind registered, the call sites
// check one array length and do nothing else.
import type { FastifyRequest } from 'fastify'
import type { Connection } from '../connection.js'
import { CloseCode } from '../errors.js'

/** What a `connect` hook returns to refuse the connection: it is closed with `code`. */
export interface ConnectRefusal {
  /** A code a close frame may carry (1000-1003, 1007-1014, 3000-4999) except 4000, the client's own; otherwise 1008. */
  code: number
  reason?: string
}

export interface DisconnectInfo {
  code: number
  reason: string
  /** Milliseconds from the upgrade to the close. */
  lifetimeMs: number
}

/** A frame that passed its type's schema: a protocol frame or an application type. */
export interface ValidatedFrame {
  type: string
  [field: string]: unknown
}

export interface RealtimeHookHandlers {
  /**
   * After the upgrade, before the `welcome` frame; frames the client sends meanwhile wait.
   * Return `{ code, reason }` to close the connection instead. Hooks run in order; the first
   * refusal wins. A hook that throws is logged and does not refuse.
   */
  connect: (connection: Connection, request: FastifyRequest) => void | ConnectRefusal | Promise<void | ConnectRefusal>
  /** A subscription was taken (after `authorize`, once frames of the channel reach this node). */
  subscribe: (connection: Connection, channel: string) => unknown
  /** A subscription was dropped by an `unsubscribe` (a disconnect calls `disconnect` instead). */
  unsubscribe: (connection: Connection, channel: string) => unknown
  /** Every incoming frame that passed validation, before its handler runs; for audit or metrics. */
  message: (connection: Connection, frame: ValidatedFrame) => unknown
  /** The socket closed; the connection has left every channel. */
  disconnect: (connection: Connection, info: DisconnectInfo) => unknown
}

export type RealtimeHookName = keyof RealtimeHookHandlers

const HOOK_NAMES: readonly RealtimeHookName[] = ['connect', 'subscribe', 'unsubscribe', 'message', 'disconnect']

/** Frames a client may send before its connect hooks decide; more close it with 1008. */
export const MAX_FRAMES_BEFORE_WELCOME = 256

type Handler = (...args: any[]) => unknown

function ignore (): void {}

/** Codes ws accepts for a close frame, minus 4000 (the client's own heartbeat timeout). */
function isSendableCloseCode (code: unknown): code is number {
  if (typeof code !== 'number' || !Number.isInteger(code)) return false
  if (code >= 3000 && code <= 4999) return code !== CloseCode.HEARTBEAT_TIMEOUT
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006
}

export class LifecycleHooks {
  readonly connect: Array<RealtimeHookHandlers['connect']> = []
  readonly subscribe: Array<RealtimeHookHandlers['subscribe']> = []
  readonly unsubscribe: Array<RealtimeHookHandlers['unsubscribe']> = []
  readonly message: Array<RealtimeHookHandlers['message']> = []
  readonly disconnect: Array<RealtimeHookHandlers['disconnect']> = []
  /** Frames held per connection while its connect hooks run. */
  readonly #held = new WeakMap<Connection, Array<[Buffer, boolean]>>()

  add<Name extends RealtimeHookName> (name: Name, fn: RealtimeHookHandlers[Name]): void {
    if (!HOOK_NAMES.includes(name)) throw new TypeError(`fastify-realtime: unknown hook ${JSON.stringify(name)} (one of ${HOOK_NAMES.join(', ')})`)
    if (typeof fn !== 'function') throw new TypeError(`fastify-realtime: the ${name} hook must be a function`)
    ;(this[name] as Handler[]).push(fn)
  }

  /** Runs sync or async hooks without waiting for them; errors are logged with the connection. */
  notify (hooks: readonly Handler[], connection: Connection, a: unknown, b?: unknown): void {
    for (let i = 0; i < hooks.length; i++) {
      try {
        const result = hooks[i]!(connection, a, b)
        if (result instanceof Promise) result.then(ignore, (err: unknown) => this.#failed(connection, err))
      } catch (err) {
        this.#failed(connection, err)
      }
    }
  }

  /** True while the connection's connect hooks run: its frames are held, not dispatched. */
  holds (connection: Connection): boolean {
    return this.#held.has(connection)
  }

  /** Holds a frame until the connect hooks decide; too many close the connection. */
  hold (connection: Connection, data: Buffer, isBinary: boolean): void {
    const held = this.#held.get(connection)!
    if (held.length >= MAX_FRAMES_BEFORE_WELCOME) {
      connection.log.info('too many frames before the welcome, closing')
      connection.close(CloseCode.POLICY_VIOLATION, 'too many frames before welcome')
      return
    }
    held.push([data, isBinary])
  }

  /**
   * Runs the connect hooks in order. Accepted: `welcome` is sent and the frames held
   * meanwhile are dispatched in order. Refused: the connection is closed with the hook's code.
   */
  async admit (
    connection: Connection,
    request: FastifyRequest,
    welcome: (connection: Connection) => void,
    dispatch: (connection: Connection, data: Buffer, isBinary: boolean) => void
  ): Promise<void> {
    this.#held.set(connection, [])
    let refusal: ConnectRefusal | undefined
    for (const hook of this.connect) {
      try {
        const result = await hook(connection, request)
        if (result !== undefined && result !== null) {
          refusal = result
          break
        }
      } catch (err) {
        this.#failed(connection, err)
      }
    }
    const held = this.#held.get(connection) ?? []
    this.#held.delete(connection)
    if (!connection.isOpen) return
    if (refusal !== undefined) {
      const code = isSendableCloseCode(refusal.code) ? refusal.code : CloseCode.POLICY_VIOLATION
      if (code !== refusal.code) connection.log.error({ code: refusal.code }, 'connect hook refused with a close code that cannot be sent; closing with 1008')
      connection.log.info({ code }, 'connect hook refused the connection')
      connection.close(code, typeof refusal.reason === 'string' ? closeReason(refusal.reason) : 'connection refused')
      return
    }
    welcome(connection)
    for (const [data, isBinary] of held) {
      if (!connection.isOpen) return
      dispatch(connection, data, isBinary)
    }
  }

  #failed (connection: Connection, err: unknown): void {
    connection.log.error({ err }, 'realtime hook failed')
  }
}

/** A close reason fits in 123 bytes of UTF-8 (RFC 6455); ws throws on a longer one. */
export function closeReason (reason: string): string {
  let text = String(reason).slice(0, 123)
  while (Buffer.byteLength(text) > 123) text = text.slice(0, -1)
  return text
}
