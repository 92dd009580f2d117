// Presence as the client sees it: members grouped per user, and the coalesced
// `presence_diff` frame, serialized once per channel and window whatever the subscribers.
import type { PresenceMember } from '../brokers/broker.js'
import type { PresenceUser } from '../protocol.js'

/** One entry per user id, each with its connections (two tabs: one user, two connections). */
export function groupByUser (members: readonly PresenceMember[]): PresenceUser[] {
  const users = new Map<string, PresenceUser>()
  for (const { userId, connectionId, nodeId, info } of members) {
    let user = users.get(userId)
    if (user === undefined) {
      user = { userId, connections: [] }
      users.set(userId, user)
    }
    user.connections.push(info === undefined ? { connectionId, nodeId } : { connectionId, nodeId, info })
  }
  return [...users.values()]
}

/** `{type:'presence_diff', channel, joins, leaves, more?, ts}` */
export function presenceDiffFrame (channel: string, joins: readonly PresenceMember[], leaves: readonly PresenceMember[], more: number, ts: number): string {
  const frame = { type: 'presence_diff', channel, joins, leaves, ...(more > 0 ? { more } : {}), ts }
  return JSON.stringify(frame)
}
