// Issue 10: a client that resets its TCP connection while an application's async onRequest
// hook runs kept its connection slot forever (the socket had closed before the slot was
// reserved, so the release never came, and the per-address count was kept under the key
// `undefined`): `maxConnections` such resets locked every later client out with 503.
import { EventEmitter, once } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import t from 'tap'
import type { FastifyRequest } from 'fastify'
import { startServer } from '../helpers/server.js'
import { upgradeRequest } from '../helpers/handshake.js'
import { TestClient } from '../helpers/ws-client.js'

const MAX = 5
type Stage = 'app-on-request' | 'authenticate' | 'pre-handler'

/** Resolves once the server side of this handshake's TCP socket has closed. */
async function clientGone (request: FastifyRequest): Promise<void> {
  const socket = request.raw.socket
  if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve))
}

t.test('handshakes reset before, during and after authenticate release their slots', { timeout: 20_000 }, async (t) => {
  const entered = new EventEmitter()
  const stageOf = (request: FastifyRequest): string | undefined => request.headers['x-stage'] as string | undefined
  // Each hook, when the request names its stage, tells the test and waits for the reset.
  const holdAt = async (stage: Stage, request: FastifyRequest): Promise<void> => {
    if (stageOf(request) !== stage) return
    entered.emit(stage)
    await clientGone(request)
  }
  const { app, url } = await startServer(t, {
    plugin: {
      maxConnections: MAX,
      maxConnectionsPerAddress: MAX,
      authenticate: async (request) => {
        await holdAt('authenticate', request)
        return { id: 'someone' }
      }
    },
    setup: (app) => {
      // An application-wide async hook (a session lookup) runs before the route's own onRequest.
      app.addHook('onRequest', async (request) => { await holdAt('app-on-request', request) })
      app.addHook('preHandler', async (request) => { await holdAt('pre-handler', request) })
    }
  })
  const port = Number(new URL(url).port)

  for (const stage of ['app-on-request', 'authenticate', 'pre-handler'] as const) {
    for (let attempt = 0; attempt < MAX; attempt++) {
      const socket: Socket = netConnect(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.resume()
      const reached = once(entered, stage)
      socket.write(upgradeRequest('/ws', `127.0.0.1:${port}`, { 'x-stage': stage }))
      // A server that leaked its slots answers 503 and closes before the stage is reached.
      await Promise.race([reached, once(socket, 'close')])
      socket.resetAndDestroy()
    }
  }
  // A reset made before any hook ran: the request may never be routed at all.
  for (let attempt = 0; attempt < MAX; attempt++) {
    const socket = netConnect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(upgradeRequest('/ws', `127.0.0.1:${port}`))
    socket.resetAndDestroy()
  }

  const honest: TestClient[] = []
  for (let index = 0; index < MAX; index++) honest.push(await TestClient.connect(url))
  t.teardown(() => Promise.all(honest.map((client) => client.close())))
  t.equal(app.realtime.connectionCount, MAX, `${MAX} honest clients connected after ${4 * MAX} resets`)
})
