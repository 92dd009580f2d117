// Caps what a connection may have queued and unsent. A client that does not read makes the
// server's socket buffer grow with every frame; without a cap that is a memory hole one
// client can dig. The gauge is what the kernel has not taken yet: the TCP socket's
// `writableLength` plus what ws' sender holds back while it deflates (ws-internals.ts).
import type { Connection } from './connection.js'
import { CloseCode } from './errors.js'
import type { SlowConsumerOptions } from './options.js'
import { queuedBytes } from './ws-internals.js'

export class SlowConsumerGuard {
  readonly #maxBufferedBytes: number
  readonly #drop: boolean
  readonly #closeGracePeriod: number
  /** Connections closed because they could not keep up. */
  closed = 0
  /** Frames skipped for connections over the cap (policy `drop`). */
  dropped = 0

  constructor (options: SlowConsumerOptions, closeGracePeriod: number) {
    this.#maxBufferedBytes = options.maxBufferedBytes
    this.#drop = options.policy === 'drop'
    this.#closeGracePeriod = closeGracePeriod
  }

  /**
   * True when `bytes` more may be queued for `connection`. Otherwise applies the policy
   * (close, or count a drop) and returns false: the caller skips this frame for it.
   */
  admit (connection: Connection, bytes: number): boolean {
    if (queuedBytes(connection.socket) + bytes <= this.#maxBufferedBytes) return true
    if (this.#drop) {
      this.dropped++
      return false
    }
    this.#close(connection)
    return false
  }

  #close (connection: Connection): void {
    const socket = connection.socket
    if (socket.readyState !== socket.OPEN) return
    this.closed++
    connection.log.info({ queuedBytes: queuedBytes(socket) }, 'closing slow consumer')
    connection.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer')
    // The close frame waits behind everything queued; a peer that does not read never gets
    // it, so its socket and its queue are released after the grace period regardless.
    setTimeout(() => socket.terminate(), this.#closeGracePeriod).unref()
  }
}
