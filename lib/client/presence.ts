// The client's part of presence: the two requests and the `join` / `leave` events read from
// coalesced `presence_diff` frames. It keeps no member list of its own, so nothing can go
// stale across a reconnect: ask `presence()` again (for example on the `subscribed` event,
// which fires after every resubscribe) and apply `join` / `leave` from there.
import type { PresenceDiffMessage, PresenceMember, PresenceMessage, PresenceStatsMessage, PresenceUser } from '../protocol.js'

/** One member joining or leaving a channel. */
export interface PresenceEvent {
  channel: string
  member: PresenceMember
}

export interface PresenceCounts {
  users: number
  connections: number
}

export interface PresenceClientEvents {
  /** A member joined a subscribed channel whose rule has presence events. */
  join: PresenceEvent
  /** A member left (unsubscribed, disconnected, or its node stopped answering). */
  leave: PresenceEvent
  /** Each coalesced frame whole; `more` counts events it does not list. */
  presence_diff: PresenceDiffMessage
}

type Request = (message: { type: string, channel: string }) => Promise<unknown>

export async function requestPresence (request: Request, channel: string): Promise<PresenceUser[]> {
  const answer = await request({ type: 'presence', channel }) as PresenceMessage
  return answer.users
}

export async function requestPresenceStats (request: Request, channel: string): Promise<PresenceCounts> {
  const answer = await request({ type: 'presence_stats', channel }) as PresenceStatsMessage
  return { users: answer.users, connections: answer.connections }
}

type Emit = <Name extends keyof PresenceClientEvents>(event: Name, payload: PresenceClientEvents[Name]) => void

/** Emits the frame, then one `leave` per listed leave and one `join` per listed join. */
export function emitPresenceDiff (frame: PresenceDiffMessage, emit: Emit): void {
  emit('presence_diff', frame)
  const { channel } = frame
  for (const member of frame.leaves) emit('leave', { channel, member })
  for (const member of frame.joins) emit('join', { channel, member })
}
