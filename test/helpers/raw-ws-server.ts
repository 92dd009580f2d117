// A bare `ws` server on a free loopback port, for client tests that need a server doing
// what fastify-realtime never does: stay silent, send unreadable frames, answer as scripted.
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { WebSocketServer } from 'ws'

/** Listening on 127.0.0.1; its sockets are terminated and it is closed at teardown. */
export async function startRawServer (t: Test): Promise<{ server: WebSocketServer, url: string }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => new Promise((resolve) => {
    for (const socket of server.clients) socket.terminate()
    server.close(resolve)
  }))
  const { port } = server.address() as AddressInfo
  return { server, url: `ws://127.0.0.1:${port}/ws` }
}
