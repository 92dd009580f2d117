// A bare `ws` server on a free loopback port, for client tests that need a server doing
// what fastify-realtime never does: stay silent, send unreadable frames, answer as scripted.
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { WebSocketServer } from 'ws'

/**
 * Listening on 127.0.0.1; its sockets are terminated and it is closed at teardown. Each
 * connection first gets a `welcome` (the client opens on it) unless `welcome` is false.
 */
export async function startRawServer (t: Test, { welcome = true } = {}): Promise<{ server: WebSocketServer, url: string }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => new Promise((resolve) => {
    for (const socket of server.clients) socket.terminate()
    server.close(resolve)
  }))
  let connections = 0
  if (welcome) {
    server.on('connection', (socket) => {
      socket.send(JSON.stringify({ type: 'welcome', connectionId: `raw-${++connections}`, nodeId: 'raw', heartbeatInterval: 30000 }))
    })
  }
  const { port } = server.address() as AddressInfo
  return { server, url: `ws://127.0.0.1:${port}/ws` }
}
