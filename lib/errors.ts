// The one table of error codes and close codes. Server, client, tests and docs all read
// these constants; nothing compares a bare string elsewhere. No imports: the browser
// client bundles this file.

/** Codes carried by `{ type: 'error', code }` frames. The connection stays open. */
export const ErrorCode = {
  /** The text frame is not valid JSON. */
  INVALID_JSON: 'invalid_json',
  /** The frame is not an object, or its `type` is not a known message type. */
  UNKNOWN_TYPE: 'unknown_type',
  /** The frame breaks its type's schema; `details` lists path and reason. */
  INVALID_MESSAGE: 'invalid_message',
  /** The channel name is empty, too long, or outside the allowed characters. */
  INVALID_CHANNEL: 'invalid_channel',
  /** Binary frames are not part of the protocol. */
  UNSUPPORTED_BINARY: 'unsupported_binary',
  /** A handler failed; the log has the error, the client gets no stack. */
  INTERNAL_ERROR: 'internal_error',
  /** The broker (Redis) cannot take the message right now. */
  BROKER_UNAVAILABLE: 'broker_unavailable',
  /** The action is not allowed for this connection. */
  FORBIDDEN: 'forbidden',
  /** The connection sends faster than its allowed rate. */
  RATE_LIMITED: 'rate_limited',
  /** The connection holds as many subscriptions as it may. */
  TOO_MANY_SUBSCRIPTIONS: 'too_many_subscriptions',
  /** A `refresh` token or a subscription token was refused: malformed, bad signature, expired, another user's (or channel's). The session is not extended. */
  INVALID_TOKEN: 'invalid_token',
  /** `app.realtime.history()` on a channel that no rule with `history` matches. */
  NO_HISTORY: 'no_history',
  /** A `presence` or `presence_stats` request for a channel whose rule does not enable presence. */
  PRESENCE_DISABLED: 'presence_disabled',
  // Raised by the client itself, never sent by the server.
  /** Client: no `ack` or `error` arrived within `requestTimeout` after the frame was sent. */
  REQUEST_TIMEOUT: 'request_timeout',
  /** Client: not connected and the send queue already holds `queueLimit` frames. */
  QUEUE_FULL: 'queue_full',
  /** Client: the connection dropped before the answer came (the server may or may not have acted), or the client is closed. */
  DISCONNECTED: 'disconnected',
  /** Client: `getToken()` returned null or threw this code: the user is logged out, the client stops. */
  LOGGED_OUT: 'logged_out',
  /** Client: the frame is larger than the `maxPayload` the server announced; it was not sent. */
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  /** Client: the request's `AbortSignal` fired before the answer came (the server may have acted if it was sent). */
  ABORTED: 'aborted'
} as const

export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

/** Human-readable default text for each error code. */
export const errorMessages: Readonly<Record<ErrorCode, string>> = {
  invalid_json: 'Frame is not valid JSON',
  unknown_type: 'Unknown message type',
  invalid_message: 'Message does not match its schema',
  invalid_channel: 'Invalid channel name',
  unsupported_binary: 'Binary frames are not supported',
  internal_error: 'Internal server error',
  broker_unavailable: 'Message broker is unavailable',
  forbidden: 'Forbidden',
  rate_limited: 'Too many messages',
  too_many_subscriptions: 'Too many subscriptions',
  invalid_token: 'Invalid token',
  no_history: 'The channel keeps no history',
  presence_disabled: 'Presence is not enabled for this channel',
  request_timeout: 'No answer from the server in time',
  queue_full: 'Send queue is full while disconnected',
  disconnected: 'Connection lost before the server answered',
  logged_out: 'Logged out: getToken() has no token',
  payload_too_large: 'Message is larger than the server accepts',
  aborted: 'Request aborted'
}

/** WebSocket close codes the server uses (RFC 6455 section 7.4.1). */
export const CloseCode = {
  NORMAL: 1000,
  /** Server shutting down (`app.close()`), or the client navigating away. */
  GOING_AWAY: 1001,
  /** Protocol violation at the WebSocket layer (reserved bits, unknown opcode). */
  PROTOCOL_ERROR: 1002,
  /** No close frame arrived: the connection dropped. Never sent, only observed. */
  ABNORMAL: 1006,
  /** A text frame that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** Policy violation: session ended (`disconnectUser`), sustained abuse. A refused login is HTTP 401, before the upgrade. */
  POLICY_VIOLATION: 1008,
  /** Frame larger than `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server condition. */
  INTERNAL_ERROR: 1011,
  /** Service restart: the node drains (`app.realtime.drain()`); reconnect soon, to another node. */
  SERVICE_RESTART: 1012,
  /** The connection could not keep up with what it was sent (slow consumer). */
  TRY_AGAIN_LATER: 1013,
  /** Custom, never sent by the server: the client closes with it when the server fell silent (its heartbeat timeout). */
  HEARTBEAT_TIMEOUT: 4000,
  /** The session expired without a successful `refresh`: get a new token and reconnect (not final). */
  SESSION_EXPIRED: 4001
} as const

export type CloseCode = typeof CloseCode[keyof typeof CloseCode]

/** Close codes after which reconnecting cannot help: the client stops retrying. */
export const FINAL_CLOSE_CODES: readonly number[] = [CloseCode.POLICY_VIOLATION]

/** Error with a protocol code, thrown by `app.publish()`, handlers and the client. */
export class RealtimeError extends Error {
  readonly code: ErrorCode
  readonly details?: unknown

  constructor (code: ErrorCode, message: string = errorMessages[code], details?: unknown) {
    super(message)
    this.name = 'RealtimeError'
    this.code = code
    if (details !== undefined) this.details = details
  }
}
