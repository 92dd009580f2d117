// The client's `presence` and `presence_stats` requests. A channel without presence answers
// `presence_disabled`; otherwise the request is authorized like a subscribe to the channel.
import type { Connection } from '../connection.js'
import type { Dispatcher } from '../dispatcher.js'
import { ErrorCode, RealtimeError } from '../errors.js'
import { PresenceRequest, PresenceStatsRequest } from '../protocol.js'
import type { Presence } from './presence.js'

export type SubscribeCheck = (connection: Connection, channel: string) => Promise<void>

export function registerPresenceHandlers (dispatcher: Dispatcher, presence: Presence | undefined, mayRead: SubscribeCheck): void {
  const allowed = async (connection: Connection, channel: string): Promise<Presence> => {
    if (presence?.ruleFor(channel) === undefined) throw new RealtimeError(ErrorCode.PRESENCE_DISABLED)
    await mayRead(connection, channel)
    return presence
  }

  dispatcher.register('presence', PresenceRequest, async (message: PresenceRequest, connection: Connection) => {
    const users = await (await allowed(connection, message.channel)).members(message.channel)
    connection.send(withId({ type: 'presence', channel: message.channel, users }, message.id))
  })

  dispatcher.register('presence_stats', PresenceStatsRequest, async (message: PresenceStatsRequest, connection: Connection) => {
    const stats = await (await allowed(connection, message.channel)).stats(message.channel)
    connection.send(withId({ type: 'presence_stats', channel: message.channel, ...stats }, message.id))
  })
}

function withId<T extends object> (frame: T, id: string | undefined): T & { id?: string } {
  return id === undefined ? frame : { ...frame, id }
}
