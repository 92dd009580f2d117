// Two and three Fastify nodes sharing one real mosquitto, and devices that speak plain MQTT
// reaching WebSocket subscribers (and back) through the bridge.
import t from 'tap'
import type { Frame } from './helpers/ws-client.js'
import { startNodesWith } from './helpers/nodes.js'
import { eventually } from './helpers/redis-server.js'
import { startMosquitto } from './helpers/mosquitto.js'
import Type from 'typebox'
import { MqttBroker } from '../lib/brokers/mqtt-broker.js'

const mosquitto = await startMosquitto(t)
let prefixes = 0
const isMessage = (channel: string) => (frame: Frame): boolean => frame.type === 'message' && frame.channel === channel

t.test('messages from concurrent publishers on three nodes arrive once, in the same order, at every subscriber', async (t) => {
  const prefix = `multi-${++prefixes}/`
  const nodes = await startNodesWith(t, 3, { mqtt: { url: mosquitto.url, prefix } })
  const clients = await Promise.all(nodes.flatMap((node) => [node.connect(), node.connect()]))
  for (const client of clients) await client.subscribe('race')
  await Promise.all(nodes.map((node) => Promise.all(Array.from({ length: 100 }, (_, i) => node.app.publish('race', { node: node.nodeId, i })))))
  await nodes[0]!.app.publish('race', 'end')
  const sequences = []
  for (const client of clients) {
    await client.next((frame) => isMessage('race')(frame) && frame.data === 'end')
    sequences.push(client.seen(isMessage('race')).map((frame) => JSON.stringify(frame.data)))
  }
  t.equal(sequences[0]!.length, 301, 'each message once')
  for (const sequence of sequences.slice(1)) t.same(sequence, sequences[0], 'the same order everywhere')
})

t.test('a device payload that breaks the channel rule\'s schema is dropped and counted, never fanned out', async (t) => {
  const prefix = `schema-${++prefixes}/`
  const broker = new MqttBroker({ url: mosquitto.url, prefix, bridge: { inbound: [{ topic: 'meters/+', channel: 'meters.{1}' }] } })
  const [node] = await startNodesWith(t, 1, {
    broker,
    channels: [{ match: 'meters.*', schema: Type.Object({ kwh: Type.Number() }) }]
  })
  const client = await node!.connect()
  await client.subscribe('meters.m1')
  const device = await mosquitto.client(t)
  await device.publishAsync('meters/m1', JSON.stringify({ kwh: 'lots' }))
  await device.publishAsync('meters/m1', 'plain text')
  await device.publishAsync('meters/m1', JSON.stringify({ kwh: 3.5 }))
  await client.next((frame) => isMessage('meters.m1')(frame))
  await eventually(() => broker.bridgeStats.dropped === 2, 'both bad payloads were dropped')
  t.same(client.seen(isMessage('meters.m1')).map((frame) => frame.data), [{ kwh: 3.5 }], 'only the valid one reached the subscriber')
})

t.test('a device publishing plain MQTT reaches WebSocket subscribers on both nodes; a channel publish reaches devices', async (t) => {
  const prefix = `bridge-${++prefixes}/`
  const bridge = {
    inbound: [{ topic: 'sensors/+/temperature', channel: 'sensors.{1}.temperature' }],
    outbound: [{ channel: 'commands.*', topic: 'devices/{1}/commands' }]
  }
  const brokers: MqttBroker[] = []
  const nodes = await startNodesWith(t, 2, () => {
    const broker = new MqttBroker({ url: mosquitto.url, prefix, bridge })
    brokers.push(broker)
    return { broker }
  })
  const onA = await nodes[0]!.connect()
  const onB = await nodes[1]!.connect()
  for (const client of [onA, onB]) await client.subscribe('sensors.kitchen.temperature')

  const device = await mosquitto.client(t)
  await device.publishAsync('sensors/kitchen/temperature', JSON.stringify({ celsius: 21.5 }))
  await device.publishAsync('sensors/kitchen/temperature', 'not json, just text')
  for (const client of [onA, onB]) {
    await client.next((frame) => isMessage('sensors.kitchen.temperature')(frame) && frame.data === 'not json, just text')
    t.same(client.seen(isMessage('sensors.kitchen.temperature')).map((frame) => frame.data), [{ celsius: 21.5 }, 'not json, just text'], 'JSON arrives as data, text as a string, once each')
  }

  // A level that makes no valid channel name is dropped and counted, never fanned out.
  await device.publishAsync('sensors/bad level!/temperature', '1')
  await eventually(() => brokers.every((broker) => broker.bridgeStats.dropped === 1), 'each node dropped it')
  t.same(brokers.map((broker) => broker.bridgeStats.delivered), [2, 2], 'and delivered the two good ones')

  const commands: string[] = []
  device.on('message', (topic, payload) => { if (topic === 'devices/lamp-1/commands') commands.push(payload.toString()) })
  await device.subscribeAsync('devices/+/commands')
  await nodes[1]!.app.publish('commands.lamp-1', { on: true })
  await eventually(() => commands.length === 1, 'the device got the command')
  t.same(JSON.parse(commands[0]!), { on: true }, 'the channel data as plain JSON, once')
})
