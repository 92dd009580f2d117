// app.close(): every socket gets 1001, and nothing is left running.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CloseCode } from '../lib/errors.js'
import { startServer } from './helpers/server.js'
import { TestClient } from './helpers/ws-client.js'

t.test('app.close() closes every socket with 1001 and clears the state', async (t) => {
  const { app, url } = await startServer(t)
  const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(url)))
  await clients[0]!.subscribe('c')
  await app.close()
  for (const client of clients) {
    const { code, reason } = await client.closed
    t.equal(code, CloseCode.GOING_AWAY)
    t.equal(reason, 'server shutting down')
  }
  t.equal(app.realtime.connectionCount, 0)
  t.same(app.realtime.channels(), [])
  t.equal(app.realtime.stats().broker, 'closed')
})

t.test('app.close() cuts off a client that never answers the close after the grace period', async (t) => {
  const { app, url } = await startServer(t, { plugin: { closeGracePeriod: 100 } })
  const stubborn = await TestClient.connect(url)
  const serverSide = app.realtime.connection(stubborn.welcome.connectionId)!.socket
  // Stop reading: the closing handshake can never complete.
  const tcp = (stubborn.socket as unknown as { _socket: import('node:net').Socket })._socket
  tcp.pause()
  await app.close()
  const serverTcp = (serverSide as unknown as { _socket: import('node:net').Socket })._socket
  t.equal(serverTcp.destroyed, true, 'not left to ws\'s own 30 s close timer')
  tcp.resume()
  t.equal((await stubborn.closed).code, CloseCode.GOING_AWAY, 'the 1001 frame was sent before the cut')
})

t.test('a process that registered the plugin, served clients and called app.close() exits by itself', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/close-exits.ts', import.meta.url))
  // Same loader flags as this test (tap's TypeScript loader), so coverage maps line up.
  const child = spawn(process.execPath, [...process.execArgv, fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  // A lingering timer or socket would keep the child alive until tap's timeout fails this.
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(exitCode, 0)
  t.same(JSON.parse(output), { codes: [1001, 1001, 1001] })
})
