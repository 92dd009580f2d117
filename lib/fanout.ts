// The hot path: one published frame to many sockets.
//
// A publish is serialized once (frames.ts), encoded to bytes once and framed once with ws'
// static `Sender.frame`; the same buffer is then written to every subscriber's TCP socket,
// without ws re-framing it per recipient. Writes are coalesced: the first write to a socket in
// an event-loop turn corks it, and one flush at the end of the turn uncorks them all, so a
// burst of publishes costs one `writev` per socket instead of one system call per message.
//
// Writing past ws is only done when it cannot reorder or corrupt ws' own output: the socket is
// OPEN (no close frame sent or received), its TCP socket is writable, and ws' sender has
// nothing deflating or queued. Otherwise the frame goes through `socket.send`, which queues it
// behind ws' own work. Replies sent with `socket.send` on the same socket land in the same
// TCP write queue, so the order between them and fanned-out frames is the order of the calls.
//
// While the application is in the middle of a fragmented message on `connection.socket`
// (`send(data, { fin: false })`), nothing may go out: a frame written between fragments breaks
// the message, and one given to `socket.send` would become one of its fragments. Such frames
// are held, in order, and sent once the message is complete (checked on the next publish to
// that connection, or by one recheck timer for all held connections).
import WebSocket from 'ws'
import { kCorked, type Connection, type TrafficCounters } from './connection.js'
import { hasKnownInternals, textFrame, type WebSocketWithInternals } from './ws-internals.js'

// Hoisted so the fallback allocates no options object per recipient.
const SEND_AS_TEXT = { binary: false } as const
const OPEN = WebSocket.OPEN
const SENDER_IDLE = 0
/** How often connections holding frames are checked for the end of their fragmented message. */
const HELD_RECHECK_MS = 10

/** Frames kept back from a connection until its fragmented message is complete. */
interface HeldFrames {
  payloads: Buffer[]
  bytes: number
}

/**
 * Decides, per recipient and frame, whether the frame may be queued: the slow-consumer cap.
 * Called before every write with the socket's queue (`writableLength` of its TCP socket)
 * including what is corked in this turn, so coalescing cannot let a stuck socket grow without
 * bound. Returning false skips the frame for that connection (the policy may also close it).
 */
export interface Admission {
  admit: (connection: Connection, bytes: number) => boolean
}

export class FanOut {
  readonly #counters: TrafficCounters
  readonly #admission: Admission | undefined
  /** Connections whose TCP socket is corked until the end of this turn. */
  #corked: Connection[] = []
  #flushTimer: NodeJS.Immediate | undefined
  /** Whether ws exposes what the fast path checks; decided on the first socket seen. */
  #internals: boolean | undefined
  readonly #writeDirect: boolean
  /** Connections in the middle of a fragmented message, with the frames kept back for them. */
  readonly #held = new Map<Connection, HeldFrames>()
  #heldTimer: NodeJS.Timeout | undefined

  /**
   * `writeDirect: false` sends every frame through `socket.send`: needed when permessage-deflate
   * may be negotiated, since frames written past ws would go out uncompressed.
   */
  constructor (counters: TrafficCounters, admission?: Admission, { writeDirect = true } = {}) {
    this.#counters = counters
    this.#admission = admission
    this.#writeDirect = writeDirect
  }

  /** Sends `frame` to every open connection in `recipients`; returns how many got it. */
  send (frame: string, recipients: Iterable<Connection>): number {
    const payload = Buffer.from(frame)
    let wire: Buffer | undefined
    let sent = 0
    for (const connection of recipients) {
      const socket = connection.socket as WebSocketWithInternals
      if (socket.readyState !== OPEN) continue
      this.#internals ??= hasKnownInternals(socket)
      if (!this.#internals) {
        if (this.#admission === undefined || this.#admission.admit(connection, payload.length)) {
          socket.send(payload, SEND_AS_TEXT)
          sent++
        }
        continue
      }
      const tcp = socket._socket!
      // Ended by the peer but not yet seen by ws: about to close, nothing more to write.
      if (!tcp.writable) continue
      const sender = socket._sender!
      if (!sender._firstFragment) {
        if (this.#hold(connection, payload)) sent++
        continue
      }
      // What was held for it goes first, now that its fragmented message is complete.
      if (this.#held.size !== 0) this.#release(connection)
      if (!this.#writeDirect) {
        if (this.#admission === undefined || this.#admission.admit(connection, payload.length)) {
          socket.send(payload, SEND_AS_TEXT)
          sent++
        }
        continue
      }
      wire ??= textFrame(payload)
      if (this.#admission !== undefined && !this.#admission.admit(connection, wire.length)) continue
      if (sender._state === SENDER_IDLE && sender._queue.length === 0) {
        if (!connection[kCorked]) {
          tcp.cork()
          connection[kCorked] = true
          this.#corked.push(connection)
        }
        tcp.write(wire)
      } else {
        socket.send(payload, SEND_AS_TEXT)
      }
      sent++
    }
    if (this.#corked.length !== 0) this.#flushTimer ??= setImmediate(this.flush)
    this.#counters.messagesOut += sent
    this.#counters.bytesOut += sent * payload.length
    return sent
  }

  /**
   * For a frame sent to one connection outside the fan-out (a reply): true when it was taken
   * care of here, held because the application is in the middle of a fragmented message (or
   * refused by the cap). False means send it now; anything held before it has gone first.
   */
  holdIfMidMessage (connection: Connection, text: string): boolean {
    const sender = (connection.socket as WebSocketWithInternals)._sender
    if (sender?._firstFragment === false) {
      this.#hold(connection, Buffer.from(text))
      return true
    }
    if (this.#held.size !== 0) this.#release(connection)
    return false
  }

  /** Keeps `payload` back until the connection's fragmented message is complete; false if the cap refused it. */
  #hold (connection: Connection, payload: Buffer): boolean {
    let held = this.#held.get(connection)
    // Held frames count against the cap like queued ones: a message that never ends cannot hoard.
    if (this.#admission !== undefined && !this.#admission.admit(connection, (held?.bytes ?? 0) + payload.length)) return false
    if (held === undefined) {
      held = { payloads: [], bytes: 0 }
      this.#held.set(connection, held)
    }
    held.payloads.push(payload)
    held.bytes += payload.length
    if (this.#heldTimer === undefined) {
      this.#heldTimer = setTimeout(this.#recheckHeld, HELD_RECHECK_MS)
      this.#heldTimer.unref()
    }
    return true
  }

  /** Sends what was held for `connection` through ws, in order; its fragmented message must be complete. */
  #release (connection: Connection): void {
    const held = this.#held.get(connection)
    if (held === undefined) return
    this.#held.delete(connection)
    const socket = connection.socket
    for (const payload of held.payloads) socket.send(payload, SEND_AS_TEXT)
  }

  readonly #recheckHeld = (): void => {
    this.#heldTimer = undefined
    for (const connection of this.#held.keys()) {
      const socket = connection.socket as WebSocketWithInternals
      if (socket.readyState !== OPEN) this.#held.delete(connection)
      else if (socket._sender!._firstFragment) this.#release(connection)
    }
    if (this.#held.size !== 0) {
      this.#heldTimer = setTimeout(this.#recheckHeld, HELD_RECHECK_MS)
      this.#heldTimer.unref()
    }
  }

  /** Uncorks every socket written to since the last flush: one writev each. */
  readonly flush = (): void => {
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer)
    this.#flushTimer = undefined
    const corked = this.#corked
    this.#corked = []
    for (let i = 0; i < corked.length; i++) {
      const connection = corked[i]!
      connection[kCorked] = false
      // A socket ended or destroyed meanwhile was already uncorked by Node; this is a no-op then.
      ;(connection.socket as WebSocketWithInternals)._socket?.uncork()
    }
  }
}
