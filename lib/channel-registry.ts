// Which connections are in which channel, both ways, so join, leave and disconnect are
// each a few set operations (the shape of socket.io's in-memory adapter).
import type { Connection } from './connection.js'

export class ChannelRegistry {
  readonly #members = new Map<string, Set<Connection>>()

  /** Adds `connection` to `channel`; false when it was already there. */
  add (connection: Connection, channel: string): boolean {
    if (connection.channels.has(channel)) return false
    let members = this.#members.get(channel)
    if (members === undefined) {
      members = new Set()
      this.#members.set(channel, members)
    }
    members.add(connection)
    connection.channels.add(channel)
    return true
  }

  /** Removes `connection` from `channel`; false when it was not there. Empty channels are deleted. */
  remove (connection: Connection, channel: string): boolean {
    if (!connection.channels.delete(channel)) return false
    const members = this.#members.get(channel)
    if (members !== undefined) {
      members.delete(connection)
      if (members.size === 0) this.#members.delete(channel)
    }
    return true
  }

  /** Removes `connection` from every channel; returns the channels it left. */
  removeAll (connection: Connection): string[] {
    const left = [...connection.channels]
    for (const channel of left) this.remove(connection, channel)
    return left
  }

  /** The live set of a channel's members (do not mutate), or undefined when it has none. */
  members (channel: string): ReadonlySet<Connection> | undefined {
    return this.#members.get(channel)
  }

  subscriberCount (channel: string): number {
    return this.#members.get(channel)?.size ?? 0
  }

  channels (): string[] {
    return [...this.#members.keys()]
  }

  get channelCount (): number {
    return this.#members.size
  }

  clear (): void {
    for (const members of this.#members.values()) {
      for (const connection of members) connection.channels.clear()
    }
    this.#members.clear()
  }
}
