// What a RealtimeClient tells: its connection states and its typed events with their payloads.
import type {
  BroadcastMessage, ChannelMessage, ChatBroadcastMessage, ServerMessage, WelcomeMessage
} from '../protocol.js'
import type { PresenceClientEvents } from './presence.js'
import type { Unrecovered } from './recovery.js'

/**
 * `connecting` (first connect, or after `connect()`), `open` (welcomed by the server),
 * `reconnecting` (waiting or retrying), `disconnected` (by `disconnect()`, or not yet
 * connected with `autoConnect: false`; `connect()` resumes), `closed` (final).
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'disconnected' | 'closed'

export interface CloseInfo {
  code: number
  reason: string
  /** False when the client stops here: `close()`/`disconnect()` was called, the code is final, or the attempts are used up. */
  willReconnect: boolean
}

/** Any server frame, including application types the protocol does not define. */
export type IncomingFrame = ServerMessage | { type: string, [field: string]: unknown }

export interface RealtimeClientEvents extends PresenceClientEvents {
  /** Every state change. */
  state: ConnectionState
  /** The server welcomed the connection (`connectionId`, `nodeId` are set); channels are being resubscribed, queued frames sent. */
  open: { reconnected: boolean }
  /** The socket closed (or was given up as dead). */
  close: CloseInfo
  /** A reconnect is scheduled `delay` ms from now. */
  reconnecting: { attempt: number, delay: number }
  /** Browsers: the network went away (retries pause) or came back. */
  network: { online: boolean }
  /** Server errors no request is waiting for, refused subscriptions, unreadable frames, giving up. */
  error: Error
  welcome: WelcomeMessage
  /** The server confirmed a subscription (again after each reconnect). */
  subscribed: { channel: string, recovered?: boolean, offset?: number, epoch?: string }
  /** A history channel missed messages that could not be replayed: reload its state (also on the subscription). */
  unrecovered: Unrecovered
  /** Every channel message, whichever channel. */
  message: ChannelMessage
  broadcast: BroadcastMessage
  chat: ChatBroadcastMessage
  /** A fresh round-trip measurement, ms. */
  latency: number
  /** Every frame from the server, before it is handled. */
  frame: IncomingFrame
  /** The server accepted a token from `getToken()` for the open session; `expiresIn` ms left (undefined: no expiry). */
  refreshed: { expiresIn: number | undefined }
}
