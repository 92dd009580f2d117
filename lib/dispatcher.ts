// Turns one incoming frame into one handler call: parse safely, pick the message type,
// validate against that type's compiled schema, run the handler, and answer every
// failure with an error frame. Nothing a client sends escapes this function.
import sjson from 'secure-json-parse'
import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import type { Validator } from 'typebox/compile'
import type { Connection, TrafficCounters } from './connection.js'
import { ErrorCode, RealtimeError } from './errors.js'
import { Channel, MAX_REQUEST_ID_LENGTH, isValidChannel } from './protocol.js'
import type { LifecycleHooks } from './hooks/lifecycle-hooks.js'
import { describeIssues } from './validation-issues.js'

export type MessageHandler<Message = any> = (message: Message, connection: Connection) => unknown

interface Route {
  type: string
  validator: Validator
  handler: MessageHandler
  /** The schema's `channel` is the protocol's channel name: a bad one is told apart without the error list. */
  hasChannel: boolean
}

const channelValidator = Compile(Channel)

/** One entry of an `invalid_message` error's `details`. */
export type { ValidationIssue } from './validation-issues.js'

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
    const properties = (schema as { properties?: Record<string, unknown> }).properties
    const hasChannel = properties !== undefined && properties.channel === Channel
    this.#routes.set(type, { type, validator: Compile(schema), handler, hasChannel })
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
      this.#reportInvalid(connection, route, record, id)
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

  #reportInvalid (connection: Connection, route: Route, message: Record<string, unknown>, id: string | undefined): void {
    // A bad channel is told apart without the error list, which a large frame cannot afford.
    if (route.hasChannel && message.channel !== undefined && !isValidChannel(message.channel)) {
      const issues = describeIssues(channelValidator, message.channel, 'must be a valid channel name')
        .map((issue) => ({ path: `/channel${issue.path}`, message: issue.message }))
      connection.log.debug({ issues }, 'invalid channel')
      connection.sendError(ErrorCode.INVALID_CHANNEL, id, issues)
      return
    }
    const issues = describeIssues(route.validator, message, `frame does not match the schema of a "${route.type}" message`)
    const badChannel = issues.some((issue) => issue.path === '/channel')
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
