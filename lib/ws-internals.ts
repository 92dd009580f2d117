// The parts of `ws` the plugin relies on beyond its typed API, in one place: the static
// `Sender.frame` (public in ws, missing from @types/ws), the private fields that tell whether
// writing straight to a WebSocket's TCP socket keeps ws' own frame order, and the bytes its
// TCP socket and its sender hold, which the slow-consumer cap reads.
import type { Socket } from 'node:net'
import WebSocket from 'ws'

interface FrameOptions {
  fin: boolean
  opcode: number
  mask: boolean
  readOnly: boolean
  rsv1: boolean
}

interface SenderStatic {
  frame: (data: Buffer, options: FrameOptions) => Buffer[]
}

/** ws' Sender, as far as the fast path reads it. */
interface SenderState {
  /** 0 (DEFAULT) when nothing is being deflated or read from a Blob. */
  _state: number
  /** Sends waiting for the state to return to DEFAULT; they must go out before anything we write. */
  _queue: unknown[]
  /** False between the fragments of a message sent with `send(data, { fin: false })`. */
  _firstFragment: boolean
  /** Bytes of the messages being deflated (or read from a Blob) and queued behind them. */
  _bufferedBytes?: number
}

export type WebSocketWithInternals = WebSocket & {
  _sender: SenderState | null
  _socket: Socket | null
}

const { Sender } = WebSocket as unknown as { Sender: SenderStatic }

// A server's frames are never masked; `readOnly` keeps ws from touching the payload.
const TEXT_FRAME: FrameOptions = { fin: true, opcode: 0x1, mask: false, readOnly: true, rsv1: false }

/** One unmasked, final text frame holding `payload`, header and payload in one buffer. */
export function textFrame (payload: Buffer): Buffer {
  const [header] = Sender.frame(payload, TEXT_FRAME) as [Buffer, Buffer?]
  return Buffer.concat([header, payload], header.length + payload.length)
}

/**
 * True when this ws build exposes the fields the fast path checks. Read once from a live
 * socket: a future ws that renames them makes the fan-out fall back to `socket.send`.
 */
export function hasKnownInternals (socket: WebSocket): boolean {
  const internals = socket as WebSocketWithInternals
  return typeof Sender?.frame === 'function' &&
    internals._sender !== null && typeof internals._sender === 'object' &&
    typeof internals._sender._state === 'number' && Array.isArray(internals._sender._queue) &&
    typeof internals._sender._firstFragment === 'boolean' &&
    internals._socket !== null && typeof internals._socket === 'object' &&
    typeof internals._socket.cork === 'function'
}

/**
 * Bytes a ws socket holds and the kernel has not taken yet: its TCP socket's queue (corked
 * bytes included) plus the messages ws' sender keeps back while it deflates (uncompressed
 * size, queued sends included). Without the sender's count, a burst with permessage-deflate
 * on piles up in ws unseen.
 */
export function queuedBytes (socket: WebSocket): number {
  const internals = socket as WebSocketWithInternals
  const held = internals._sender?._bufferedBytes
  return (internals._socket?.writableLength ?? 0) + (typeof held === 'number' ? held : 0)
}

/**
 * Drops the hijacked HTTP response (and through it the upgrade request) that Node's http
 * server left attached to an upgraded TCP socket: @fastify/websocket assigns one to route the
 * upgrade through Fastify, and nothing detaches it, so every idle connection kept both alive.
 */
export function releaseUpgradeResponse (socket: WebSocket): void {
  const tcp = (socket as WebSocketWithInternals)._socket as (Socket & { _httpMessage?: { detachSocket?: (socket: Socket) => void } | null }) | null
  const response = tcp?._httpMessage
  if (tcp != null && typeof response?.detachSocket === 'function') response.detachSocket(tcp)
}
