// Server heartbeats: a peer that stops answering is dropped, one that answers stays.
import t from 'tap'
import { once } from 'node:events'
import { CloseCode } from '../lib/errors.js'
import { startServer } from './helpers/server.js'

const heartbeat = { heartbeatInterval: 300, heartbeatTimeout: 150 }

t.test('a peer that does not answer pings is terminated and cleaned up; one that answers stays', async (t) => {
  const { connect, app } = await startServer(t, { plugin: heartbeat })
  // autoPong: false makes ws ignore pings, like a peer whose network vanished.
  const silent = await connect({ autoPong: false })
  const healthy = await connect()
  await silent.subscribe('c')
  await healthy.subscribe('c')

  const { code } = await silent.closed
  t.equal(code, CloseCode.ABNORMAL, 'terminated without a close frame')
  await once(healthy.socket, 'ping')
  t.equal(app.realtime.connectionCount, 1)
  t.equal(app.realtime.subscriberCount('c'), 1, 'the dead peer left its channels')
  // Survive two more full sweeps.
  await once(healthy.socket, 'ping')
  await once(healthy.socket, 'ping')
  t.equal(healthy.socket.readyState, healthy.socket.OPEN)
  await app.publish('c', 'still delivered')
  t.equal((await healthy.nextOfType('message')).data, 'still delivered')
})

t.test('any frame from the client counts as alive', async (t) => {
  const { connect, app } = await startServer(t, { plugin: heartbeat })
  const chatty = await connect({ autoPong: false })
  // It never pongs, but answers every ping with an application frame.
  chatty.socket.on('ping', () => chatty.send({ type: 'ping' }))
  for (let sweep = 0; sweep < 3; sweep++) await once(chatty.socket, 'ping')
  t.equal(chatty.socket.readyState, chatty.socket.OPEN)
  t.equal(app.realtime.connectionCount, 1)
})
