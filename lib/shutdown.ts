// Closing WebSocket clients on app.close(): every client of the server, whichever route
// accepted it, gets 1001; those that do not answer within the grace period are cut off.
import type WebSocket from 'ws'
import { CloseCode } from './errors.js'

export const SHUTDOWN_REASON = 'server shutting down'

/** Closes `sockets` with 1001 and resolves once all have closed, terminating the rest after `gracePeriod` ms. */
export async function closeGoingAway (sockets: Iterable<WebSocket>, gracePeriod: number): Promise<void> {
  const open = [...sockets].filter((socket) => socket.readyState !== socket.CLOSED)
  if (open.length === 0) return
  const closed = open.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())))
  for (const socket of open) socket.close(CloseCode.GOING_AWAY, SHUTDOWN_REASON)
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<void>((resolve) => { timer = setTimeout(resolve, gracePeriod) })
  await Promise.race([Promise.all(closed), expired])
  clearTimeout(timer)
  for (const socket of open) socket.terminate()
}
