// Issue 10, shutdown edges:
// - app.close() hung while a client of another WebSocket route of the app stayed connected
//   (ws' server waits for every client it tracks, and only ours were closed);
// - a handshake whose authenticate was still running when app.close() started was accepted
//   afterwards, got a welcome and no 1001, and app.close() waited on it forever;
// - the plugin's socket error handling applied to every WebSocket route: a throwing handler of
//   another route was logged at info and its socket left open.
import t from 'tap'
import WebSocket from 'ws'
import { CloseCode } from '../../lib/errors.js'
import { startServer } from '../helpers/server.js'
import { tryUpgrade } from '../helpers/handshake.js'
import { TestClient } from '../helpers/ws-client.js'

function closedOf (socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code) => resolve(code)))
}

async function open (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url)
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return socket
}

t.test('app.close() closes the clients of other WebSocket routes too, with 1001', { timeout: 20_000 }, async (t) => {
  const { app, url, connect } = await startServer(t, {
    setup: (app) => {
      app.get('/other', { websocket: true }, () => {})
    }
  })
  const ours = await connect()
  const other = await open(url.replace(/\/ws$/, '/other'))
  const otherClosed = closedOf(other)
  await app.close()
  t.equal(await otherClosed, CloseCode.GOING_AWAY, 'the other route\'s client got 1001')
  t.equal((await ours.closed).code, CloseCode.GOING_AWAY)
})

t.test('a handshake still in authenticate when app.close() starts is refused, and close does not wait on it', { timeout: 20_000 }, async (t) => {
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let entered: () => void = () => {}
  const inAuthenticate = new Promise<void>((resolve) => { entered = resolve })
  const { app, url } = await startServer(t, {
    plugin: {
      closeGracePeriod: 60_000,
      authenticate: async (request) => {
        if (request.headers['x-late'] !== undefined) {
          entered()
          await released
        }
        return { id: 'someone' }
      }
    }
  })
  // Holds the grace period open: its TCP socket stops reading, so its close never completes.
  const stubborn = await TestClient.connect(url)
  ;(stubborn.socket as unknown as { _socket: import('node:net').Socket })._socket.pause()
  const polite = await TestClient.connect(url)

  const late = tryUpgrade(url, { headers: { 'x-late': '1' } })
  await inAuthenticate
  const closing = app.close()
  t.equal((await polite.closed).code, CloseCode.GOING_AWAY, 'closing has started')
  release()
  const { status, socket } = await late
  socket?.terminate()
  t.equal(status, 503, 'the late handshake is refused')
  // Without the fix the stubborn client keeps app.close() waiting for the whole grace period.
  stubborn.socket.terminate()
  await closing
  t.equal(app.realtime.connectionCount, 0)
})

t.test('another route\'s throwing handler keeps @fastify/websocket\'s behaviour: logged as an error, socket terminated', { timeout: 20_000 }, async (t) => {
  const logs: Array<{ level: number, msg: string, err?: { message: string } }> = []
  const { url, connect } = await startServer(t, {
    fastify: { logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } },
    setup: (app) => {
      app.get('/broken', { websocket: true }, () => { throw new Error('route bug') })
    }
  })
  const broken = new WebSocket(url.replace(/\/ws$/, '/broken'))
  broken.on('error', () => {})
  t.equal(await closedOf(broken), 1006, 'terminated, not left open')
  t.ok(logs.some((entry) => entry.level === 50 && entry.err?.message === 'route bug'), 'logged at error level')
  const ours = await connect()
  t.ok(ours.welcome, 'our own route still works')
})
