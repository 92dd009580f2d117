// One WebSocket client as the plugin sees it: identity, address, channels and liveness.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import WebSocket from 'ws'
import { ErrorCode, errorMessages } from './errors.js'
import type { ServerMessage } from './protocol.js'

/** A frame of an application's own type, sent with `connection.send()`. */
export interface ApplicationFrame {
  type: string
  [field: string]: unknown
}

/** Set by the fan-out while this connection's TCP socket is corked until the end of the turn. */
export const kCorked = Symbol('fastify-realtime.corked')

export interface ConnectionInit {
  socket: WebSocket
  remoteAddress: string
  log: FastifyBaseLogger
  user?: unknown
  /** Keeps a frame back while the application sends a fragmented message on the socket; true if it did. */
  holdIfMidMessage?: (connection: Connection, text: string) => boolean
}

/** Counters shared by every connection of one plugin instance. */
export interface TrafficCounters {
  messagesIn: number
  messagesOut: number
  errors: number
  bytesOut: number
  /** Error frames sent, per code (metrics). */
  errorsByCode?: Partial<Record<ErrorCode, number>>
}

export class Connection {
  /** Internal to the fan-out (first, so no field initializer before it swallows the brackets). */
  [kCorked] = false
  /** Unguessable id, told to the client in its `welcome` frame. */
  readonly id: string = randomUUID()
  readonly socket: WebSocket
  /** The client's address; behind a proxy, the one Fastify's `trustProxy` resolves. */
  readonly remoteAddress: string
  readonly connectedAt: number = Date.now()
  /** Channels this connection is subscribed to (the registry holds the reverse map). */
  readonly channels = new Set<string>()
  readonly log: FastifyBaseLogger
  /** What `authenticate` returned for this connection, if anything. */
  user: unknown
  /** Cleared by each heartbeat sweep; set again by the pong answering its ping or a frame the server processes. */
  alive = true
  readonly #counters: TrafficCounters
  readonly #holdIfMidMessage: ConnectionInit['holdIfMidMessage']

  constructor (init: ConnectionInit, counters: TrafficCounters) {
    this.socket = init.socket
    this.#holdIfMidMessage = init.holdIfMidMessage
    this.remoteAddress = init.remoteAddress
    this.log = init.log.child({ connectionId: this.id })
    this.user = init.user
    this.#counters = counters
  }

  get isOpen (): boolean {
    return this.socket.readyState === WebSocket.OPEN
  }

  /** Serializes and sends one frame to this connection alone: a protocol frame or one of your own types. */
  send (message: ServerMessage | ApplicationFrame): void {
    if (!this.isOpen) return
    const text = JSON.stringify(message)
    this.#counters.messagesOut++
    this.#counters.bytesOut += Buffer.byteLength(text)
    // A frame sent between the fragments of a message would break it (or join it).
    if (this.#holdIfMidMessage?.(this, text) === true) return
    this.socket.send(text)
  }

  /** Sends an `error` frame; the connection stays open. */
  sendError (code: ErrorCode, id?: string, details?: unknown, message: string = errorMessages[code]): void {
    this.#counters.errors++
    const byCode = this.#counters.errorsByCode
    if (byCode !== undefined) byCode[code] = (byCode[code] ?? 0) + 1
    const frame: ServerMessage = { type: 'error', code, message }
    if (id !== undefined) frame.id = id
    if (details !== undefined) frame.details = details
    this.send(frame)
  }

  /** Closes with a code the client can act on (see `CloseCode`). */
  close (code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.CLOSED) return
    this.socket.close(code, reason)
  }

  toJSON (): object {
    return {
      id: this.id,
      remoteAddress: this.remoteAddress,
      connectedAt: this.connectedAt,
      channels: [...this.channels]
    }
  }
}
