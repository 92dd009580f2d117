// `defineContract`: the one place an application declares its channels and message types.
// The same object configures the plugin (`contract` option: rules, schemas validated at run
// time, the AsyncAPI document) and types the server and the client (type parameter only).
import { IsObject } from 'typebox'
import type { RealtimeContract } from './contract-types.js'
import { isTypeBoxSchema } from './channel-payloads.js'
import { CUSTOM_TYPE_PATTERN, RESERVED_TYPES } from '../protocol.js'

/**
 * Returns `contract` unchanged, typed exactly as written (`const`): channel rules keep their
 * order and their `match` strings as literal types, which `app.publish()` and
 * `RealtimeClient<typeof contract>` turn into channel names and data types.
 */
export function defineContract<const Contract extends RealtimeContract> (contract: Contract): Contract {
  return contract
}

/** Checks the plugin's `contract` option (its `channels` are checked as channel rules). */
export function checkContract (contract: unknown): asserts contract is RealtimeContract | undefined {
  if (contract === undefined) return
  if (contract === null || typeof contract !== 'object') throw new TypeError('fastify-realtime: contract must be an object ({ channels, messages })')
  for (const key of Object.keys(contract)) {
    if (key !== 'channels' && key !== 'messages') throw new TypeError(`fastify-realtime: contract has an unknown key "${key}" (known: channels, messages)`)
  }
  const { messages } = contract as { messages?: unknown }
  if (messages === undefined) return
  if (messages === null || typeof messages !== 'object') throw new TypeError('fastify-realtime: contract.messages must be an object of message types')
  for (const [type, message] of Object.entries(messages)) {
    const name = `contract.messages["${type}"]`
    if (!CUSTOM_TYPE_PATTERN.test(type) || RESERVED_TYPES.has(type)) throw new TypeError(`fastify-realtime: ${name}: not a name an application may give a message type`)
    if (message === null || typeof message !== 'object') throw new TypeError(`fastify-realtime: ${name} must be an object ({ request, reply? })`)
    const { request, reply } = message as { request?: unknown, reply?: unknown }
    if (!isTypeBoxSchema(request) || !IsObject(request)) throw new TypeError(`fastify-realtime: ${name}: request must be a TypeBox Type.Object`)
    if (reply !== undefined && !isTypeBoxSchema(reply)) throw new TypeError(`fastify-realtime: ${name}: reply must be a TypeBox schema`)
  }
}
