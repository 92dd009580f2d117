// `app.realtime.asyncapi()`: an AsyncAPI 3.0 document of the WebSocket endpoint, built from
// what the server actually runs: the protocol's frame schemas (protocol.ts), the channel
// rules with their payload schemas, the message types registered with `handle()` (replies
// from the contract) and the error codes. The document describes the server: it `receive`s
// what clients send and `send`s what clients receive.
import type { TObject, TSchema } from 'typebox'
import * as protocol from '../protocol.js'
import { ErrorCode, errorMessages } from '../errors.js'
import type { ChannelRule } from './channel-rules.js'
import type { RealtimeContract } from './contract-types.js'

export interface AsyncApiInfo {
  title?: string
  version?: string
  description?: string
  /** Host (and port) clients connect to, e.g. `realtime.example.com`; default `localhost`. */
  host?: string
  /** `ws` or `wss`; default `ws`. */
  protocol?: 'ws' | 'wss'
}

export type AsyncApiDocument = Record<string, unknown> & { asyncapi: '3.0.0' }

export interface AsyncApiSource {
  path: string
  rules: readonly ChannelRule[]
  contract: RealtimeContract | undefined
  messageTypes: ReadonlyMap<string, TObject>
  allowClientPublish: boolean
  info: AsyncApiInfo
}

type JsonSchema = Record<string, unknown>

/** Codes raised by the client itself, never sent in an `error` frame. */
const CLIENT_ONLY_CODES: ReadonlySet<string> = new Set([ErrorCode.REQUEST_TIMEOUT, ErrorCode.QUEUE_FULL, ErrorCode.DISCONNECTED, ErrorCode.LOGGED_OUT])

const SOCKET = 'socket'

/** A TypeBox schema as plain JSON Schema (TypeBox's own markers are not enumerable JSON). */
function json (schema: TSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema)) as JsonSchema
}

/** A frame schema with some of its properties replaced (e.g. `data` by a channel's schema). */
function frameWith (frame: TObject, properties: Record<string, JsonSchema>): JsonSchema {
  const schema = json(frame)
  return { ...schema, properties: { ...(schema.properties as JsonSchema), ...properties } }
}

function message (name: string, payload: JsonSchema, summary: string): JsonSchema {
  return { name, title: name, summary, payload }
}

/** Ids of channels, messages and operations: letters, digits, `_` and `-` only. */
function idOf (text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_')
}

function errorCodeSchema (): JsonSchema {
  const codes = Object.values(ErrorCode).filter((code) => !CLIENT_ONLY_CODES.has(code))
  return {
    type: 'string',
    enum: codes,
    description: codes.map((code) => `\`${code}\`: ${errorMessages[code]}`).join('; ')
  }
}

export function asyncApiDocument (source: AsyncApiSource): AsyncApiDocument {
  const { path, rules, contract, messageTypes, allowClientPublish, info } = source
  const ref = (channel: string, id: string): JsonSchema => ({ $ref: `#/channels/${channel}/messages/${id}` })

  const clientFrames: Record<string, JsonSchema> = {
    ping: message('ping', json(protocol.PingMessage), 'Round-trip measurement; answered with pong'),
    subscribe: message('subscribe', json(protocol.SubscribeMessage), 'Subscribe to a channel; answered with subscribed or error'),
    unsubscribe: message('unsubscribe', json(protocol.UnsubscribeMessage), 'Leave a channel; answered with unsubscribed'),
    publish: message('publish', json(protocol.PublishMessage), 'Publish on a channel (data checked against the channel rule\'s schema); ack when an id is given'),
    chat: message('chat', json(protocol.ChatMessage), 'A chat line to every connection; ack when an id is given'),
    presence: message('presence', json(protocol.PresenceRequest), 'Who is in a channel with presence; answered with presence'),
    presenceStats: message('presence_stats', json(protocol.PresenceStatsRequest), 'How many are in a channel with presence; answered with presence_stats'),
    refresh: message('refresh', json(protocol.RefreshMessage), 'A new token for the session (docs/sessions.md); ack with the new expiresIn, or invalid_token')
  }
  const serverFrames: Record<string, JsonSchema> = {
    welcome: message('welcome', json(protocol.WelcomeMessage), 'First frame of every connection'),
    pong: message('pong', json(protocol.PongMessage), 'Answer to ping'),
    subscribed: message('subscribed', json(protocol.SubscribedMessage), 'The subscription is live'),
    unsubscribed: message('unsubscribed', json(protocol.UnsubscribedMessage), 'The channel is left'),
    message: message('message', json(protocol.ChannelMessage), 'A message published on a subscribed channel'),
    broadcast: message('broadcast', json(protocol.BroadcastMessage), 'A message to every connection'),
    chatBroadcast: message('chat', json(protocol.ChatBroadcastMessage), 'A chat line from a connection'),
    ack: message('ack', json(protocol.AckMessage), 'Answer to a request with an id'),
    error: message('error', frameWith(protocol.ErrorMessage, { code: errorCodeSchema() }), 'A refused or invalid request; the connection stays open'),
    presenceMembers: message('presence', json(protocol.PresenceMessage), 'Every member of a channel with presence, on every node, grouped per user'),
    presenceCounts: message('presence_stats', json(protocol.PresenceStatsMessage), 'Users and connections of a channel with presence'),
    presenceDiff: message('presence_diff', json(protocol.PresenceDiffMessage), 'Joins and leaves of a subscribed channel with presence events, coalesced per node and window'),
    refreshNeeded: message('refresh_needed', json(protocol.RefreshNeededMessage), 'The session expires in expiresIn ms: send refresh, or be closed with 4001')
  }

  const channels: Record<string, JsonSchema> = {}
  const operations: Record<string, JsonSchema> = {}
  const socketMessages: Record<string, JsonSchema> = { ...clientFrames, ...serverFrames }

  // Application message types: a request frame, answered by an ack carrying the reply.
  const replies = contract?.messages ?? {}
  const requestOperations: Record<string, JsonSchema> = {}
  for (const [type, schema] of messageTypes) {
    const id = `request_${idOf(type)}`
    const replyId = `reply_${idOf(type)}`
    const declared = replies[type]
    const requestFrame = frameWith(schema, { type: { const: type, type: 'string' }, id: json(protocol.RequestId) })
    socketMessages[id] = { ...message(type, requestFrame, declared?.description ?? `Application message type "${type}"`) }
    socketMessages[replyId] = message('ack', frameWith(protocol.AckMessage, declared?.reply === undefined ? {} : { data: json(declared.reply) }), `Answer to "${type}"`)
    requestOperations[`handle_${idOf(type)}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${SOCKET}` },
      summary: `Handles "${type}" (registered with app.realtime.handle())`,
      messages: [ref(SOCKET, id)],
      reply: { channel: { $ref: `#/channels/${SOCKET}` }, messages: [ref(SOCKET, replyId), ref(SOCKET, 'error')] }
    }
  }

  channels[SOCKET] = {
    address: path,
    title: 'WebSocket endpoint',
    description: 'Every frame travels over this one socket as a JSON text frame with a "type". Channel rules below are logical channels multiplexed over it.',
    messages: socketMessages
  }
  operations.receiveClientFrames = {
    action: 'receive',
    channel: { $ref: `#/channels/${SOCKET}` },
    summary: 'Frames clients send',
    messages: Object.keys(clientFrames).map((id) => ref(SOCKET, id))
  }
  operations.sendServerFrames = {
    action: 'send',
    channel: { $ref: `#/channels/${SOCKET}` },
    summary: 'Frames the server sends',
    messages: Object.keys(serverFrames).map((id) => ref(SOCKET, id))
  }
  Object.assign(operations, requestOperations)

  for (const rule of rules) {
    const id = `channel_${idOf(rule.match)}`
    const data = rule.schema === undefined ? {} : json(rule.schema)
    const parameters: Record<string, JsonSchema> = {}
    let wildcard = 0
    const address = rule.match.replace(/\*/g, () => {
      const name = `wildcard${++wildcard}`
      parameters[name] = { description: 'One or more characters of a channel name (crossing . : and /)' }
      return `{${name}}`
    })
    const clientsPublish = rule.publish === 'clients' || (rule.publish === undefined && allowClientPublish)
    const messages: Record<string, JsonSchema> = {
      message: message('message', frameWith(protocol.ChannelMessage, { data }), `A message on ${rule.match}`)
    }
    if (clientsPublish) messages.publish = message('publish', frameWith(protocol.PublishMessage, { data }), `A client publish on ${rule.match}`)
    channels[id] = {
      address,
      title: rule.match,
      description: `Channel rule ${rule.index}: channels matching "${rule.match}" (the first rule that matches decides); ` +
        (clientsPublish ? 'clients and the server publish.' : 'only the server publishes.'),
      ...(wildcard > 0 ? { parameters } : {}),
      messages
    }
    operations[`send_${id}`] = { action: 'send', channel: { $ref: `#/channels/${id}` }, summary: `Deliver messages of ${rule.match} to subscribers`, messages: [ref(id, 'message')] }
    if (clientsPublish) {
      operations[`receive_${id}`] = { action: 'receive', channel: { $ref: `#/channels/${id}` }, summary: `Client publishes on ${rule.match}`, messages: [ref(id, 'publish')] }
    }
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: info.title ?? 'fastify-realtime',
      version: info.version ?? '1.0.0',
      ...(info.description === undefined ? {} : { description: info.description })
    },
    defaultContentType: 'application/json',
    servers: {
      realtime: { host: info.host ?? 'localhost', protocol: info.protocol ?? 'ws', pathname: path }
    },
    channels,
    operations,
    components: { schemas: { ErrorCode: errorCodeSchema() } }
  }
}
