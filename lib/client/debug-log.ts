// The `debug` option: state changes and frames, without payloads unless asked.
import type { DebugLogger } from './options.js'

export class DebugLog {
  readonly #logger: DebugLogger | undefined
  readonly #payloads: boolean

  constructor (logger: DebugLogger | undefined, payloads: boolean) {
    this.#logger = logger
    this.#payloads = payloads
  }

  get enabled (): boolean {
    return this.#logger !== undefined
  }

  line (message: string, details: Record<string, unknown>): void {
    if (this.#logger === undefined) return
    try {
      this.#logger(message, details)
    } catch {
      // A failing logger must not break the connection.
    }
  }

  /** A frame sent or received: type, id, channel, code and size; whole only with `debugPayloads`. */
  frame (direction: 'send' | 'receive', text: string, parsed?: object): void {
    if (this.#logger === undefined) return
    const frame = (parsed ?? JSON.parse(text)) as Record<string, unknown>
    if (this.#payloads) {
      this.line(direction, { frame })
      return
    }
    const details: Record<string, unknown> = { type: frame.type, bytes: text.length }
    for (const key of ['id', 'channel', 'code'] as const) if (frame[key] !== undefined) details[key] = frame[key]
    this.line(direction, details)
  }
}
