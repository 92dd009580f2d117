// The hot path: one published frame to many sockets. The frame is encoded to bytes once
// per publish and the same buffer is handed to every open socket.
import WebSocket from 'ws'
import type { Connection, TrafficCounters } from './connection.js'
import type { SlowConsumerGuard } from './slow-consumer.js'

// Hoisted so the loop allocates no options object per recipient.
const TEXT_FRAME = { binary: false } as const

/** Sends `frame` to every open connection in `recipients`; returns how many got it. */
export function fanOut (frame: string, recipients: Iterable<Connection>, counters: TrafficCounters, slowConsumers: SlowConsumerGuard): number {
  const bytes = Buffer.from(frame)
  let sent = 0
  for (const connection of recipients) {
    const socket = connection.socket
    if (socket.readyState !== WebSocket.OPEN) continue
    // Slow-consumer check: a socket over its queued-bytes cap is skipped (policy drop) or closed.
    if (!slowConsumers.admit(connection, bytes.length)) continue
    socket.send(bytes, TEXT_FRAME)
    sent++
  }
  counters.messagesOut += sent
  counters.bytesOut += sent * bytes.length
  return sent
}
