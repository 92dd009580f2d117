// A user's connections on this node, found through the `userId` option: listing them,
// unsubscribing them from a channel, closing them when their session is revoked.
// `app.realtime.cluster` runs the same three over every node.
import type { FastifyBaseLogger } from 'fastify'
import type { Authorization } from './authorization.js'
import type { ChannelMembership } from './channel-membership.js'
import type { Connection } from './connection.js'
import { CloseCode } from './errors.js'
import { closeReason } from './hooks/lifecycle-hooks.js'

export class UserConnections {
  readonly #connections: ReadonlyMap<string, Connection>
  readonly #authorization: Authorization
  readonly #membership: ChannelMembership
  readonly #log: FastifyBaseLogger

  constructor (connections: ReadonlyMap<string, Connection>, authorization: Authorization, membership: ChannelMembership, log: FastifyBaseLogger) {
    this.#connections = connections
    this.#authorization = authorization
    this.#membership = membership
    this.#log = log
  }

  of (userId: string | number): Connection[] {
    const wanted = String(userId)
    return [...this.#connections.values()].filter((connection) => this.#authorization.userIdOf(connection.user) === wanted)
  }

  /** Unsubscribes them from `channel`, telling each client (`unsubscribed` without an id); returns how many were subscribed. */
  async unsubscribe (userId: string | number, channel: string): Promise<number> {
    const subscribed = this.of(userId).filter((connection) => connection.channels.has(channel))
    await Promise.all(subscribed.map(async (connection) => {
      await this.#membership.unsubscribe(connection, channel)
      connection.send({ type: 'unsubscribed', channel })
    }))
    return subscribed.length
  }

  /** Closes them with 1008; returns how many were closed. */
  disconnect (userId: string | number, reason: string): number {
    const wanted = String(userId)
    let closed = 0
    for (const connection of this.#connections.values()) {
      if (this.#authorization.userIdOf(connection.user) !== wanted) continue
      connection.close(CloseCode.POLICY_VIOLATION, closeReason(reason))
      closed++
    }
    if (closed > 0) this.#log.info({ userId: wanted, connections: closed }, 'disconnected user')
    return closed
  }
}
