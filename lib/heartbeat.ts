// Finds dead peers with one timer per server, not one per socket: a sweep pings every
// socket, and a check `timeout` ms later terminates those that stayed silent.
import type { Connection } from './connection.js'

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
    this.#timer = undefined
  }

  #schedule (step: () => void, delay: number): void {
    this.#timer = setTimeout(step, delay)
    // The heartbeat alone must never keep a process alive.
    this.#timer.unref()
  }

  #ping = (): void => {
    for (const connection of this.#connections()) {
      if (!connection.isOpen) continue
      connection.alive = false
      connection.socket.ping()
    }
    this.#schedule(this.#check, this.#options.timeout)
  }

  #check = (): void => {
    for (const connection of this.#connections()) {
      if (!connection.alive) this.#onDead(connection)
    }
    this.#schedule(this.#ping, this.#options.interval - this.#options.timeout)
  }
}
