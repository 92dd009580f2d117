// Issue 10 review: any pong marked a connection alive, so a client that never reads but sends
// an unsolicited pong now and then was never removed by the heartbeat, against the README's
// promise (policy `drop`: a client that never reads is still removed). Only a pong that
// answers the server's own ping counts now, and the server's ping sits unread in the
// client's queue.
import t from 'tap'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { startServer } from '../helpers/server.js'

const heartbeat = { heartbeatInterval: 300, heartbeatTimeout: 150 }

t.test('a client that never reads but sends unsolicited pongs is terminated by the heartbeat', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { ...heartbeat, slowConsumer: { policy: 'drop' } } })
  const reader = await connect()
  const stalled = await connect()
  await stalled.subscribe('news')
  const [serverSide] = [...app.realtime.connections()].filter((connection) => connection.id === stalled.welcome.connectionId)
  const serverClosed = once(serverSide!.socket, 'close')

  // Never reads again, but keeps sending pongs: empty ones, and ones that guess a payload.
  ;(stalled.socket as unknown as { _socket: Socket })._socket.pause()
  let round = 0
  const pongs = setInterval(() => stalled.socket.pong(round++ % 2 === 0 ? undefined : Buffer.alloc(8)), 20)
  t.teardown(() => {
    clearInterval(pongs)
    // Its socket never reads the server's close: do not wait for a close handshake.
    stalled.socket.terminate()
  })
  await app.publish('news', 'unread')

  await serverClosed
  t.equal(app.realtime.connectionCount, 1, 'the stalled client is gone')
  t.equal(app.realtime.subscriberCount('news'), 0, 'and left its channel')
  t.equal(reader.socket.readyState, reader.socket.OPEN, 'a client that answers pings stays')
})

t.test('a pong that answers the server ping keeps a client, also after many unsolicited pongs', async (t) => {
  const { app, connect } = await startServer(t, { plugin: heartbeat })
  const client = await connect()
  const pongs = setInterval(() => client.socket.pong(Buffer.from('not an answer')), 20)
  t.teardown(() => clearInterval(pongs))
  for (let sweep = 0; sweep < 3; sweep++) await once(client.socket, 'ping')
  t.equal(client.socket.readyState, client.socket.OPEN)
  t.equal(app.realtime.connectionCount, 1)
})
