// Anything that could publish under the MQTT broker's topic prefix could forge frames for a
// channel's subscribers and run cluster commands (`<prefix>!control`): envelopes were accepted
// from anyone. With `mqtt.secret`, envelopes are signed and unsigned or badly signed ones dropped.
import t from 'tap'
import Fastify from 'fastify'
import Type from 'typebox'
import { MqttBroker } from '../../lib/brokers/mqtt-broker.js'
import { startMosquitto } from '../helpers/mosquitto.js'
import { startServer } from '../helpers/server.js'

const mosquitto = await startMosquitto(t)
const secret = 'a shared secret of the nodes'

t.test('with mqtt.secret, forged envelopes on a channel topic and on !control are dropped', async (t) => {
  const lines: string[] = []
  const prefix = 'signed/'
  const { app, connect } = await startServer(t, {
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } },
    plugin: {
      mqtt: { url: mosquitto.url, prefix, secret },
      authenticate: () => ({ id: 'alice' }),
      channels: [{ match: 'temp', schema: Type.Object({ celsius: Type.Number() }) }]
    }
  })
  const alice = await connect()
  await alice.subscribe('temp')

  const device = await mosquitto.client(t)
  // qos 1: acknowledged by the server, so delivered to the node before anything published after.
  await device.publishAsync(`${prefix}temp`, '1|4|evil{"type":"message","channel":"temp","data":{"celsius":"NOT A NUMBER"},"ts":0}', { qos: 1 })
  await device.publishAsync(`${prefix}temp`, 's1|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1|4|evil{"type":"message","channel":"temp","data":{"celsius":"forged signature"},"ts":0}', { qos: 1 })
  await device.publishAsync(`${prefix}!control`, '1|4|evil{"type":"command","id":"x","node":"evil","command":"disconnectUser","args":["alice","pwned"]}', { qos: 1 })
  // A node with another secret is no better than a stranger.
  const otherLog = Fastify({ logger: false }).log
  const other = new MqttBroker({ url: mosquitto.url, prefix, secret: 'not the secret of these nodes' })
  await other.start({ onMessage: () => {}, log: otherLog, nodeId: 'other' })
  t.teardown(() => other.close())
  await other.publish('temp', '{"type":"message","channel":"temp","data":{"celsius":-273},"ts":0}')

  await app.publish('temp', { celsius: 21 })
  t.same((await alice.nextOfType('message')).data, { celsius: 21 }, 'the first message alice gets is the real one')

  // A real command goes through !control after the forged one: once it is answered, the forged
  // disconnectUser would have closed alice's socket (its close frame sent before any later pong).
  const connections = await app.realtime.cluster.connectionsOf('alice')
  t.equal(Object.values(connections.nodes).flat().length, 1)
  alice.send({ type: 'ping', ts: 1 })
  const answer = await Promise.race([alice.nextOfType('pong'), alice.closed.then((closed) => ({ type: 'closed', ...closed }))])
  t.equal(answer.type, 'pong', 'the forged disconnectUser command did not run: alice is still connected')
  t.same(alice.received.filter((frame) => frame.type === 'message').map((frame) => frame.data), [{ celsius: 21 }], 'no forged frame reached alice')
  t.match(lines.join(''), /unsigned or badly signed/, 'the drop is logged')
})

t.test('a secret too short or not a string fails at construction', async (t) => {
  t.throws(() => new MqttBroker({ url: mosquitto.url, secret: 'short' }), /mqtt.secret must be a string of at least 16 characters/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, secret: 42 as unknown as string }), /mqtt.secret/)
})
