// Application message types (`app.realtime.handle()`): the name and schema checked at
// registration, the frame schema built with `type` and `id`, the handler's result answered
// with `ack`, and the schemas kept for the AsyncAPI document and the contract check.
import type { FastifyBaseLogger } from 'fastify'
import Type, { IsObject, type Static, type TObject, type TSchema } from 'typebox'
import type { RealtimeContract } from './channels/contract-types.js'
import type { Connection } from './connection.js'
import type { Dispatcher } from './dispatcher.js'
import { CUSTOM_TYPE_PATTERN, RESERVED_TYPES, RequestId } from './protocol.js'

/** What a registered message type's handler receives: the schema's fields plus `type` and `id`. */
export type CustomMessage<Type extends string, Schema extends TSchema> = Static<Schema> & { type: Type, id?: string }

/** `Reply` is what the registered contract (if any) says the message type answers. */
export type CustomMessageHandler<Message, Reply = unknown> = (message: Message, connection: Connection) => Reply | Promise<Reply>

export class MessageTypes {
  readonly #dispatcher: Dispatcher
  /** Registered message types and their schemas, for the AsyncAPI document. */
  readonly #schemas = new Map<string, TObject>()

  constructor (dispatcher: Dispatcher) {
    this.#dispatcher = dispatcher
  }

  get schemas (): ReadonlyMap<string, TObject> {
    return this.#schemas
  }

  /** Registers `type` with the dispatcher; throws a TypeError on a bad name, schema or handler. */
  add<T extends string, S extends TObject, Reply> (type: T, schema: S, handler: CustomMessageHandler<CustomMessage<T, S>, Reply>): void {
    if (typeof type !== 'string' || !CUSTOM_TYPE_PATTERN.test(type)) {
      throw new TypeError(`fastify-realtime: invalid message type name ${JSON.stringify(type)}`)
    }
    if (RESERVED_TYPES.has(type)) throw new TypeError(`fastify-realtime: message type "${type}" is part of the protocol`)
    if (this.#dispatcher.has(type)) throw new TypeError(`fastify-realtime: message type "${type}" is already registered`)
    if (!IsObject(schema)) throw new TypeError(`fastify-realtime: the schema of "${type}" must be a Type.Object`)
    if (typeof handler !== 'function') throw new TypeError(`fastify-realtime: the handler of "${type}" must be a function`)

    this.#schemas.set(type, schema)
    const { properties, required: _required, ...options } = schema
    const frameSchema = Type.Object({ ...properties, type: Type.Literal(type), id: Type.Optional(RequestId) }, options)
    this.#dispatcher.register(type, frameSchema, async (message: CustomMessage<T, S>, connection: Connection) => {
      const result = await handler(message, connection)
      if (message.id !== undefined) {
        connection.send(result === undefined ? { type: 'ack', id: message.id } : { type: 'ack', id: message.id, data: result })
      }
    })
  }

  /**
   * Logs the contract's message types no `handle()` registered (clients would get
   * `unknown_type`), and those registered with another schema than the contract's `request`
   * (clients typed by the contract would send frames the server refuses, or the reverse).
   */
  warnAboutContract (contract: RealtimeContract | undefined, log: FastifyBaseLogger): void {
    for (const [type, message] of Object.entries(contract?.messages ?? {})) {
      const registered = this.#schemas.get(type)
      if (registered === undefined) {
        log.warn({ messageType: type }, 'the contract lists a message type no app.realtime.handle() registered')
      } else if (registered !== message.request && canonicalJson(registered) !== canonicalJson(message.request)) {
        log.warn({ messageType: type }, 'app.realtime.handle() registered this message type with another schema than the contract\'s request')
      }
    }
  }
}

/**
 * JSON with object keys sorted: two schemas that validate alike compare equal whatever order
 * their keys were written in. `required` is sorted too: it lists the properties in the order
 * they were written.
 */
function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (key, inner: unknown) => {
    if (key === 'required' && Array.isArray(inner)) return [...inner].sort()
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner
    return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  })
}
