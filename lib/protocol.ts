// The wire protocol: TypeBox schemas of every JSON frame, in both directions. The server
// compiles validators from them; the client takes its types from them (type-only import),
// so there is one source of truth. Imports nothing of ours.
import Type from 'typebox'

/** Longest channel name accepted. */
export const MAX_CHANNEL_LENGTH = 200

/**
 * Channel names: letters, digits and `_ - . : @ /`. No spaces, no glob characters
 * (`* ? [ ]`), so a channel can never act as a Redis pattern.
 */
export const CHANNEL_PATTERN = '^[A-Za-z0-9_.:@/-]+$'

const channelRegExp = new RegExp(CHANNEL_PATTERN)

/** True when `channel` is a valid channel name. */
export function isValidChannel (channel: unknown): channel is string {
  return typeof channel === 'string' && channel.length > 0 &&
    channel.length <= MAX_CHANNEL_LENGTH && channelRegExp.test(channel)
}

export const Channel = Type.String({ minLength: 1, maxLength: MAX_CHANNEL_LENGTH, pattern: CHANNEL_PATTERN })

/** Longest request id accepted. */
export const MAX_REQUEST_ID_LENGTH = 64

/** Correlates a request with its `ack` or `error`. Chosen by the client. */
export const RequestId = Type.String({ minLength: 1, maxLength: MAX_REQUEST_ID_LENGTH })

/** Longest epoch accepted in a `since`; the server's epochs are far shorter. */
export const MAX_EPOCH_LENGTH = 64

/** A position in a history channel's stream: the last offset a client saw, and its epoch. */
export const StreamPosition = Type.Object({
  offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  epoch: Type.String({ minLength: 1, maxLength: MAX_EPOCH_LENGTH })
})

// Client to server

export const PingMessage = Type.Object({
  type: Type.Literal('ping'),
  /** The client's own clock; echoed back so the client measures round trip on one clock. */
  ts: Type.Optional(Type.Number())
})

/** Longest token a `refresh` frame may carry. */
export const MAX_TOKEN_LENGTH = 8192

/** Longest subscription token a `subscribe` frame may carry. */
export const MAX_SUBSCRIPTION_TOKEN_LENGTH = 1024

export const SubscribeMessage = Type.Object({
  type: Type.Literal('subscribe'),
  channel: Channel,
  /** A subscription token from the application (see docs/sessions.md): replaces `authorize` for this subscribe. */
  token: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_SUBSCRIPTION_TOKEN_LENGTH })),
  id: Type.Optional(RequestId),
  /** Resume a history channel after this position: the missed messages are replayed first. */
  since: Type.Optional(StreamPosition),
  /** Presence info of this connection, for channels whose rule has a presence `info` schema. */
  info: Type.Optional(Type.Unknown())
})

export const UnsubscribeMessage = Type.Object({
  type: Type.Literal('unsubscribe'),
  channel: Channel,
  id: Type.Optional(RequestId)
})

export const PublishMessage = Type.Object({
  type: Type.Literal('publish'),
  channel: Channel,
  data: Type.Unknown(),
  id: Type.Optional(RequestId)
})

/** Longest chat line accepted. */
export const MAX_CHAT_LENGTH = 4000

export const ChatMessage = Type.Object({
  type: Type.Literal('chat'),
  content: Type.String({ minLength: 1, maxLength: MAX_CHAT_LENGTH }),
  id: Type.Optional(RequestId)
})

/** Who is in a channel with presence: answered with `presence`. */
export const PresenceRequest = Type.Object({
  type: Type.Literal('presence'),
  channel: Channel,
  id: Type.Optional(RequestId)
})

/** How many are in a channel with presence: answered with `presence_stats`. */
export const PresenceStatsRequest = Type.Object({
  type: Type.Literal('presence_stats'),
  channel: Channel,
  id: Type.Optional(RequestId)
})

/** A new token for the session, checked by `authenticate`; answered `ack` (with `data.expiresIn`) or `invalid_token`. */
export const RefreshMessage = Type.Object({
  type: Type.Literal('refresh'),
  token: Type.String({ minLength: 1, maxLength: MAX_TOKEN_LENGTH }),
  id: Type.Optional(RequestId)
})

/** Built-in client-to-server messages; applications add their own with `app.realtime.handle()`. */
export const ClientMessage = Type.Union([
  PingMessage, SubscribeMessage, UnsubscribeMessage, PublishMessage, ChatMessage, PresenceRequest, PresenceStatsRequest,
  RefreshMessage
])

// Server to client

export const WelcomeMessage = Type.Object({
  type: Type.Literal('welcome'),
  connectionId: Type.String(),
  nodeId: Type.String(),
  /** Milliseconds between server heartbeats: a client may treat twice this of silence as a dead link. */
  heartbeatInterval: Type.Number(),
  /** Largest frame the server accepts, in bytes: a bigger one closes the connection with 1009. */
  maxPayload: Type.Optional(Type.Number()),
  /** The per-connection rate limit, when there is one: frames beyond it are refused with `rate_limited`. */
  rateLimit: Type.Optional(Type.Object({
    messagesPerSecond: Type.Number(),
    burst: Type.Number()
  }))
})

export const PongMessage = Type.Object({
  type: Type.Literal('pong'),
  ts: Type.Optional(Type.Number()),
  serverTs: Type.Number()
})

export const SubscribedMessage = Type.Object({
  type: Type.Literal('subscribed'),
  channel: Channel,
  id: Type.Optional(RequestId),
  /**
   * Present only when the subscribe had `since`: true when every message after `since`
   * follows (replayed, then live), false when they cannot be.
   */
  recovered: Type.Optional(Type.Boolean()),
  /** History channels: the stream's current offset; the next live message has `offset + 1`. */
  offset: Type.Optional(Type.Integer()),
  /** History channels: the stream's current epoch. */
  epoch: Type.Optional(Type.String())
})

export const UnsubscribedMessage = Type.Object({
  type: Type.Literal('unsubscribed'),
  channel: Channel,
  id: Type.Optional(RequestId)
})

export const ChannelMessage = Type.Object({
  type: Type.Literal('message'),
  channel: Channel,
  data: Type.Unknown(),
  ts: Type.Number(),
  /** History channels only: 1, 2, 3, ... per channel, no gaps, no repeats within an epoch. */
  offset: Type.Optional(Type.Integer()),
  /** History channels only: changes when the channel's stream was lost or reset. */
  epoch: Type.Optional(Type.String())
})

export const BroadcastMessage = Type.Object({
  type: Type.Literal('broadcast'),
  data: Type.Unknown(),
  ts: Type.Number()
})

export const ChatBroadcastMessage = Type.Object({
  type: Type.Literal('chat'),
  from: Type.String(),
  content: Type.String(),
  ts: Type.Number()
})

export const AckMessage = Type.Object({
  type: Type.Literal('ack'),
  id: RequestId,
  /** What a registered handler returned, when it returned something. */
  data: Type.Optional(Type.Unknown())
})

export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  /** One of `ErrorCode` in errors.ts. */
  code: Type.String(),
  message: Type.String(),
  id: Type.Optional(RequestId),
  details: Type.Optional(Type.Unknown())
})

/** One subscribed connection of a channel with presence, in `presence_diff`. */
export const PresenceMember = Type.Object({
  /** The user id (server's `userId` option), or the connection id for anonymous connections. */
  userId: Type.String(),
  connectionId: Type.String(),
  nodeId: Type.String(),
  info: Type.Optional(Type.Unknown())
})

/** One user of a channel with presence and each of its connections (tabs, devices). */
export const PresenceUser = Type.Object({
  userId: Type.String(),
  connections: Type.Array(Type.Object({
    connectionId: Type.String(),
    nodeId: Type.String(),
    info: Type.Optional(Type.Unknown())
  }))
})

/** Answer to a `presence` request: every member, on every node, grouped per user. */
export const PresenceMessage = Type.Object({
  type: Type.Literal('presence'),
  channel: Channel,
  users: Type.Array(PresenceUser),
  id: Type.Optional(RequestId)
})

/** Answer to a `presence_stats` request. */
export const PresenceStatsMessage = Type.Object({
  type: Type.Literal('presence_stats'),
  channel: Channel,
  users: Type.Integer(),
  connections: Type.Integer(),
  id: Type.Optional(RequestId)
})

/**
 * Joins and leaves of a channel, coalesced over the server's `presence.eventWindow`: at most
 * one per channel and node per window. `more` counts events not listed (over `maxEventsPerFrame`).
 */
export const PresenceDiffMessage = Type.Object({
  type: Type.Literal('presence_diff'),
  channel: Channel,
  joins: Type.Array(PresenceMember),
  leaves: Type.Array(PresenceMember),
  more: Type.Optional(Type.Integer()),
  ts: Type.Number()
})

/** The session expires in `expiresIn` ms: send a `refresh` before, or be closed with 4001. */
export const RefreshNeededMessage = Type.Object({
  type: Type.Literal('refresh_needed'),
  expiresIn: Type.Number()
})

export const ServerMessage = Type.Union([
  WelcomeMessage, PongMessage, SubscribedMessage, UnsubscribedMessage, ChannelMessage,
  BroadcastMessage, ChatBroadcastMessage, AckMessage, ErrorMessage,
  PresenceMessage, PresenceStatsMessage, PresenceDiffMessage, RefreshNeededMessage
])

/** Every `type` the protocol defines; applications may not register these names. */
export const RESERVED_TYPES: ReadonlySet<string> = new Set([
  'ping', 'subscribe', 'unsubscribe', 'publish', 'chat', 'presence', 'presence_stats', 'refresh',
  'welcome', 'pong', 'subscribed', 'unsubscribed', 'message', 'broadcast', 'ack', 'error', 'presence_diff',
  'refresh_needed'
])

/** Names an application may give its own message types. */
export const CUSTOM_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/

export type ClientMessage = Type.Static<typeof ClientMessage>
export type StreamPosition = Type.Static<typeof StreamPosition>
export type PingMessage = Type.Static<typeof PingMessage>
export type SubscribeMessage = Type.Static<typeof SubscribeMessage>
export type UnsubscribeMessage = Type.Static<typeof UnsubscribeMessage>
export type PublishMessage = Type.Static<typeof PublishMessage>
export type ChatMessage = Type.Static<typeof ChatMessage>
export type RefreshMessage = Type.Static<typeof RefreshMessage>
export type ServerMessage = Type.Static<typeof ServerMessage>
export type WelcomeMessage = Type.Static<typeof WelcomeMessage>
export type PongMessage = Type.Static<typeof PongMessage>
export type SubscribedMessage = Type.Static<typeof SubscribedMessage>
export type UnsubscribedMessage = Type.Static<typeof UnsubscribedMessage>
export type ChannelMessage = Type.Static<typeof ChannelMessage>
export type BroadcastMessage = Type.Static<typeof BroadcastMessage>
export type ChatBroadcastMessage = Type.Static<typeof ChatBroadcastMessage>
export type AckMessage = Type.Static<typeof AckMessage>
export type ErrorMessage = Type.Static<typeof ErrorMessage>
export type PresenceRequest = Type.Static<typeof PresenceRequest>
export type PresenceStatsRequest = Type.Static<typeof PresenceStatsRequest>
export type PresenceMember = Type.Static<typeof PresenceMember>
export type PresenceUser = Type.Static<typeof PresenceUser>
export type PresenceMessage = Type.Static<typeof PresenceMessage>
export type PresenceStatsMessage = Type.Static<typeof PresenceStatsMessage>
export type PresenceDiffMessage = Type.Static<typeof PresenceDiffMessage>
export type RefreshNeededMessage = Type.Static<typeof RefreshNeededMessage>
