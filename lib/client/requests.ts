// Requests waiting for their answer (`ack`, `subscribed`, `error` with the same id): ids,
// per-request timeouts that start once the frame is on the wire, and AbortSignal cancelling.
import { ErrorCode, RealtimeError } from '../errors.js'

export interface RequestOptions {
  /** Milliseconds to wait for the answer once the frame is sent; default the client's `requestTimeout`. */
  timeout?: number
  /** Cancels the request: a queued frame is never sent, an answer still to come is ignored (code `aborted`). */
  signal?: AbortSignal
}

interface PendingRequest {
  type: string
  resolve: (data: unknown) => void
  reject: (err: Error) => void
  timeout: number
  /** Set once the frame is on the wire: only then can the connection lose it. */
  sent: boolean
  timer?: ReturnType<typeof setTimeout>
  signal?: AbortSignal
  onAbort?: () => void
}

export interface RequestEvents {
  /** A request got no answer in time: the link may be dead. */
  timedOut: () => void
  /** A request was aborted before it was sent: its frame must leave the queue. */
  aborted: (id: string) => void
}

export class Requests {
  #seq = 0
  readonly #pending = new Map<string, PendingRequest>()
  readonly #events: RequestEvents

  constructor (events: RequestEvents) {
    this.#events = events
  }

  nextId (): string {
    return String(++this.#seq)
  }

  /** Tracks request `id`; throws `aborted` at once when the signal has already fired. */
  add (id: string, type: string, timeout: number, resolve: (data: any) => void, reject: (err: Error) => void, signal?: AbortSignal): void {
    if (signal?.aborted === true) throw abortError(signal)
    const request: PendingRequest = { type, resolve, reject, timeout, sent: false, signal }
    if (signal !== undefined) {
      request.onAbort = () => {
        const wasSent = request.sent
        this.fail(id, abortError(signal))
        if (!wasSent) this.#events.aborted(id)
      }
      signal.addEventListener('abort', request.onAbort, { once: true })
    }
    this.#pending.set(id, request)
  }

  has (id: string): boolean {
    return this.#pending.has(id)
  }

  /** The frame of `id` is on the wire: its timeout starts now. */
  sent (id: string): void {
    const request = this.#pending.get(id)
    if (request === undefined || request.sent) return
    request.sent = true
    request.timer = setTimeout(() => {
      this.fail(id, new RealtimeError(ErrorCode.REQUEST_TIMEOUT, `No answer to "${request.type}" within ${request.timeout} ms`))
      this.#events.timedOut()
    }, request.timeout)
  }

  /** Resolves request `id`; false when nothing waits for it. */
  settle (id: string, data: unknown): boolean {
    const request = this.#take(id)
    request?.resolve(data)
    return request !== undefined
  }

  /** Rejects request `id`; false when nothing waits for it. */
  fail (id: string, err: Error): boolean {
    const request = this.#take(id)
    request?.reject(err)
    return request !== undefined
  }

  /** Rejects what is on the wire (the connection lost it); queued requests wait for the next one. */
  failSent (err: Error): void {
    for (const [id, request] of this.#pending) if (request.sent) this.fail(id, err)
  }

  /** Rejects every request, sent or queued. */
  failAll (err: Error): void {
    for (const id of [...this.#pending.keys()]) this.fail(id, err)
  }

  #take (id: string): PendingRequest | undefined {
    const request = this.#pending.get(id)
    if (request === undefined) return undefined
    this.#pending.delete(id)
    clearTimeout(request.timer)
    if (request.onAbort !== undefined) request.signal!.removeEventListener('abort', request.onAbort)
    return request
  }
}

function abortError (signal: AbortSignal): RealtimeError {
  const err = new RealtimeError(ErrorCode.ABORTED)
  ;(err as { cause?: unknown }).cause = signal.reason
  return err
}
