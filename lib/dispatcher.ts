// Turns one incoming frame into one handler call: parse safely, pick the message type,
// validate against that type's compiled schema, run the handler, and answer every
// failure with an error frame. Nothing a client sends escapes this function.
import sjson from 'secure-json-parse'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import type { Validator } from 'typebox/compile'
import type { Connection, TrafficCounters } from './connection.js'
import { ErrorCode, RealtimeError } from './errors.js'
import { MAX_REQUEST_ID_LENGTH } from './protocol.js'
import type { LifecycleHooks } from './hooks/lifecycle-hooks.js'

export type MessageHandler<Message = any> = (message: Message, connection: Connection) => unknown

interface Route {
  validator: Validator
  handler: MessageHandler
}

/** One entry of an `invalid_message` error's `details`. */
export interface ValidationIssue {
  path: string
  message: string
}

const MAX_ISSUES = 10

// `__proto__` and `constructor.prototype` keys are refused outright, not silently removed:
// a client learns its frame was rejected, and no object we build can be polluted.
const FORBIDDEN_KEYS = { protoAction: 'error', constructorAction: 'error' } as const

function isForbiddenKeyError (err: unknown): boolean {
  // secure-json-parse's own message; JSON.parse's SyntaxErrors never start this way.
  return err instanceof SyntaxError && err.message.startsWith('Object contains forbidden prototype property')
}

/** The frame's `id` when it is usable for correlating the answer, even if the frame is invalid. */
function requestIdOf (message: Record<string, unknown>): string | undefined {
  const id = message.id
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH ? id : undefined
}

export class Dispatcher {
  readonly #routes = new Map<string, Route>()
  readonly #counters: TrafficCounters
  readonly #hooks: LifecycleHooks | undefined

  constructor (counters: TrafficCounters, hooks?: LifecycleHooks) {
    this.#counters = counters
    this.#hooks = hooks
  }

  /** Adds a message type; its schema is compiled now, once. */
  register (type: string, schema: TSchema, handler: MessageHandler): void {
    this.#routes.set(type, { validator: Compile(schema), handler })
  }

  has (type: string): boolean {
    return this.#routes.has(type)
  }

  dispatch (connection: Connection, data: Buffer, isBinary: boolean): void {
    this.#counters.messagesIn++
    if (isBinary) {
      connection.log.debug('binary frame refused')
      connection.sendError(ErrorCode.UNSUPPORTED_BINARY)
      return
    }

    let message: unknown
    try {
      message = sjson.parse(data.toString(), undefined, FORBIDDEN_KEYS)
    } catch (err) {
      if (isForbiddenKeyError(err)) {
        connection.log.debug('frame with a forbidden key refused')
        connection.sendError(ErrorCode.INVALID_MESSAGE, undefined, [{ path: '', message: 'must not contain __proto__ or constructor.prototype keys' }])
      } else {
        connection.log.debug('frame is not valid JSON')
        connection.sendError(ErrorCode.INVALID_JSON)
      }
      return
    }

    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      connection.sendError(ErrorCode.UNKNOWN_TYPE, undefined, undefined, 'A frame must be a JSON object with a "type"')
      return
    }
    const record = message as Record<string, unknown>
    const id = requestIdOf(record)
    const type = record.type
    const route = typeof type === 'string' ? this.#routes.get(type) : undefined
    if (route === undefined) {
      connection.log.debug({ messageType: typeof type === 'string' ? type.slice(0, 64) : typeof type }, 'unknown message type')
      connection.sendError(ErrorCode.UNKNOWN_TYPE, id)
      return
    }

    if (!route.validator.Check(message)) {
      this.#reportInvalid(connection, route.validator, message, id)
      return
    }
    const hooks = this.#hooks
    if (hooks !== undefined && hooks.message.length !== 0) hooks.notify(hooks.message, connection, message)

    try {
      const result = route.handler(message, connection)
      if (result instanceof Promise) result.then(undefined, (err: unknown) => this.#reportFailure(connection, err, id))
    } catch (err) {
      this.#reportFailure(connection, err, id)
    }
  }

  #reportInvalid (connection: Connection, validator: Validator, message: unknown, id: string | undefined): void {
    const issues: ValidationIssue[] = []
    let badChannel = false
    for (const error of validator.Errors(message)) {
      if (error.instancePath === '/channel') badChannel = true
      if (issues.length < MAX_ISSUES) issues.push({ path: error.instancePath, message: error.message })
    }
    connection.log.debug({ issues }, 'invalid message')
    connection.sendError(badChannel ? ErrorCode.INVALID_CHANNEL : ErrorCode.INVALID_MESSAGE, id, issues)
  }

  #reportFailure (connection: Connection, err: unknown, id: string | undefined): void {
    if (err instanceof RealtimeError) {
      connection.log.debug({ code: err.code }, err.message)
      try {
        connection.sendError(err.code, id, err.details, err.message)
        return
      } catch (serializeErr) {
        // `details` JSON cannot hold (a BigInt, a cycle): a handler bug, not the client's.
        err = serializeErr
      }
    }
    // The client gets a code, never a stack; the log gets everything.
    connection.log.error({ err }, 'message handler failed')
    connection.sendError(ErrorCode.INTERNAL_ERROR, id)
  }
}
