// The `refresh` frame: a new token for the connection's session, answered `ack` with the
// new `expiresIn` (ms; absent when the session no longer expires) or `invalid_token`.
// It goes through the dispatcher like every frame, so the rate limit applies to it too.
import type { Connection } from '../connection.js'
import type { Dispatcher } from '../dispatcher.js'
import { RefreshMessage } from '../protocol.js'
import type { SessionTracker } from './session-tracker.js'

export function registerRefreshHandler (dispatcher: Dispatcher, sessions: SessionTracker): void {
  dispatcher.register('refresh', RefreshMessage, async (message: RefreshMessage, connection: Connection) => {
    const expiresAt = await sessions.refresh(connection, message.token)
    if (message.id === undefined) return
    connection.send(expiresAt === undefined
      ? { type: 'ack', id: message.id }
      : { type: 'ack', id: message.id, data: { expiresIn: Math.max(0, expiresAt - Date.now()) } })
  })
}
