// What goes out on the socket. A frame is written at once while the link is open, nothing
// waits before it and the pacer allows; otherwise it waits in the queue (disconnected, or
// held back below the server's rate limit) and one timer writes it when its turn comes.
// Frames larger than the `maxPayload` the server announced are refused, never sent.
import { ErrorCode, RealtimeError } from '../errors.js'
import type { WelcomeMessage } from '../protocol.js'
import type { WebSocketLike } from './options.js'
import { Pacer, SendQueue, type QueuedFrame } from './send-queue.js'

// WebSocket.OPEN in both the DOM and `ws`; read as a constant so a minimal implementation need not carry statics.
const OPEN = 1

const now = (): number => performance.now()

export interface OutboxHooks {
  /** A request's frame is on the wire: its timeout starts now. */
  sent: (id: string) => void
  /** A queued request's frame turned out too large: reject the request; false when none waits. */
  refused: (id: string, err: RealtimeError) => boolean
  /** A frame that no request waits for could not be sent. */
  error: (err: RealtimeError) => void
  /** A frame was written (for the debug log). */
  written: (text: string) => void
}

export class Outbox {
  readonly #queue = new SendQueue()
  readonly #pacer = new Pacer()
  readonly #queueLimit: number
  readonly #hooks: OutboxHooks
  #socket: WebSocketLike | undefined
  #maxPayload: number | undefined
  #flushTimer: ReturnType<typeof setTimeout> | undefined

  constructor (queueLimit: number, hooks: OutboxHooks) {
    this.#queueLimit = queueLimit
    this.#hooks = hooks
  }

  /** A frame written now reaches the server or is reported lost. */
  get writable (): boolean {
    return this.#socket?.readyState === OPEN
  }

  /** The server welcomed `socket`: `first` (the resubscribes) goes ahead of what waited, at the server's pace. */
  open (socket: WebSocketLike, welcome: Pick<WelcomeMessage, 'maxPayload' | 'rateLimit'>, first: QueuedFrame[]): void {
    this.#socket = socket
    // A nonsensical limit is ignored rather than refusing every frame.
    if (typeof welcome.maxPayload === 'number' && welcome.maxPayload >= 1) this.#maxPayload = welcome.maxPayload
    this.#pacer.configure(welcome.rateLimit, now())
    this.#queue.prepend(first)
    this.#flush()
  }

  /** The link is gone: what belonged to it goes (their request ids are returned); the user's frames wait. */
  close (): string[] {
    this.#socket = undefined
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    return this.#queue.dropPerConnection()
  }

  /** Forgets every queued frame (their requests are failed by the caller). */
  clear (): void {
    this.#queue.clear()
  }

  /** Drops the queued frame of request `id` (aborted). */
  remove (id: string): void {
    this.#queue.remove(id)
  }

  /** Throws `payload_too_large` or `queue_full` when `text` can be neither sent nor queued. */
  check (text: string): void {
    if (this.#tooLarge(text)) throw this.#tooLargeError()
    const queued = !this.writable || this.#queue.length > 0
    if (queued && this.#queue.userFrames >= this.#queueLimit) {
      throw new RealtimeError(ErrorCode.QUEUE_FULL, `${this.#queueLimit} frames are already waiting to be sent`)
    }
  }

  send (frame: QueuedFrame): void {
    if (this.writable && this.#queue.length === 0 && this.#pacer.wait(now()) === 0) {
      this.#write(frame)
      return
    }
    this.#queue.push(frame)
    if (this.writable && this.#flushTimer === undefined) this.#flush()
  }

  /** Writes at once, ahead of the queue (pings); the pacer counts it all the same. */
  sendNow (text: string): void {
    this.#write({ text })
  }

  #flush (): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    while (this.#queue.length > 0 && this.writable) {
      const wait = this.#pacer.wait(now())
      if (wait > 0) {
        this.#flushTimer = setTimeout(() => this.#flush(), wait)
        return
      }
      this.#write(this.#queue.shift()!)
    }
  }

  #write (frame: QueuedFrame): void {
    const socket = this.#socket
    // Closing: what gets here is redone by the next connection or already reported lost.
    if (socket === undefined || socket.readyState !== OPEN) return
    const text = typeof frame.text === 'function' ? frame.text() : frame.text
    // Queued before the server told its limit: refused now, never sent.
    if (this.#tooLarge(text)) {
      if (frame.id === undefined || !this.#hooks.refused(frame.id, this.#tooLargeError())) this.#hooks.error(this.#tooLargeError())
      return
    }
    socket.send(text)
    this.#pacer.take(now())
    this.#hooks.written(text)
    if (frame.id !== undefined) this.#hooks.sent(frame.id)
  }

  #tooLarge (text: string): boolean {
    const max = this.#maxPayload
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: only long frames need counting.
    return max !== undefined && text.length * 3 > max && (text.length > max || new TextEncoder().encode(text).length > max)
  }

  #tooLargeError (): RealtimeError {
    return new RealtimeError(ErrorCode.PAYLOAD_TOO_LARGE, `Message is larger than the ${this.#maxPayload} bytes the server accepts`)
  }
}
