// Finds dead peers with one timer per server, not one per socket: a sweep pings every
// socket, and a check `timeout` ms later terminates those that stayed silent.
//
// The verdict waits for the sockets to be read once more: after the event loop was blocked
// past the timeout (a handler doing synchronous work), the check timer fires before the pongs
// that arrived meanwhile are read, and would drop every peer that answered in time.
//
// Each sweep pings with a fresh random payload, and only a pong echoing it counts as an
// answer: a peer that never reads cannot see the ping, so unsolicited pongs (which RFC 6455
// allows at any time) do not keep it.
import { randomBytes } from 'node:crypto'
import type { Connection } from './connection.js'

const PING_PAYLOAD_BYTES = 8

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number
  /** Milliseconds a peer has to answer a ping (or send anything). */
  timeout: number
}

export class Heartbeat {
  readonly #connections: () => Iterable<Connection>
  readonly #onDead: (connection: Connection) => void
  readonly #options: HeartbeatOptions
  #timer: NodeJS.Timeout | undefined
  #verdict: NodeJS.Immediate | undefined
  /** The payload of this sweep's ping, shared by every socket. */
  #payload: Buffer = randomBytes(PING_PAYLOAD_BYTES)

  constructor (connections: () => Iterable<Connection>, options: HeartbeatOptions, onDead: (connection: Connection) => void) {
    this.#connections = connections
    this.#options = options
    this.#onDead = onDead
  }

  start (): void {
    if (this.#timer === undefined) this.#schedule(this.#ping, this.#options.interval)
  }

  stop (): void {
    clearTimeout(this.#timer)
    clearImmediate(this.#verdict)
    this.#timer = undefined
    this.#verdict = undefined
  }

  /** True when a pong carrying `data` answers the latest sweep's ping. */
  isAnswer (data: Buffer): boolean {
    return data.equals(this.#payload)
  }

  #schedule (step: () => void, delay: number): void {
    this.#timer = setTimeout(step, delay)
    // The heartbeat alone must never keep a process alive.
    this.#timer.unref()
  }

  #ping = (): void => {
    this.#payload = randomBytes(PING_PAYLOAD_BYTES)
    for (const connection of this.#connections()) {
      if (!connection.isOpen) continue
      connection.alive = false
      connection.socket.ping(this.#payload)
    }
    this.#schedule(this.#check, this.#options.timeout)
  }

  #check = (): void => {
    // Timers run before I/O in a turn: judge after this turn's reads (setImmediate).
    this.#verdict = setImmediate(this.#judge)
    this.#verdict.unref()
  }

  #judge = (): void => {
    this.#verdict = undefined
    for (const connection of this.#connections()) {
      if (!connection.alive) this.#onDead(connection)
    }
    this.#schedule(this.#ping, this.#options.interval - this.#options.timeout)
  }
}
