// The MQTT broker against a real mosquitto: the broker contract, topic mapping, outages,
// and a client the user owns.
import t from 'tap'
import Fastify from 'fastify'
import { MqttBroker } from '../../lib/brokers/mqtt-broker.js'
import { ErrorCode } from '../../lib/errors.js'
import { eventually } from '../helpers/redis-server.js'
import { startMosquitto } from '../helpers/mosquitto.js'
import { brokerContract, frame, startBroker } from './broker-contract.js'

const mosquitto = await startMosquitto(t)
let prefixes = 0
const prefix = (): string => `test-${++prefixes}/`

for (const qos of [0, 1] as const) {
  t.test(`broker contract, QoS ${qos}`, async (t) => {
    brokerContract(t, () => new MqttBroker({ url: mosquitto.url, prefix: prefix(), qos }))
  })
}

t.test('broker contract, with a secret (signed envelopes)', async (t) => {
  brokerContract(t, () => new MqttBroker({ url: mosquitto.url, prefix: prefix(), secret: 'sixteen chars at least' }))
})

t.test('a channel with / is one exact topic: a subscriber of "a" gets nothing of "a/b"', async (t) => {
  const { broker, log } = await startBroker(t, () => new MqttBroker({ url: mosquitto.url, prefix: prefix() }))
  await broker.subscribe('a')
  await broker.subscribe('a/b')
  const onChild = frame()
  await broker.publish('a/b', onChild)
  await log.wait((d) => d.frame === onChild)
  t.same(log.deliveries.map((d) => d.channel), ['a/b'])
})

t.test('messages on the prefix that the plugin did not write are dropped with a warning', async (t) => {
  const lines: string[] = []
  const logger = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } } }).log
  const topicPrefix = prefix()
  const broker = new MqttBroker({ url: mosquitto.url, prefix: topicPrefix })
  const seen: string[] = []
  await broker.start({ onMessage: (_channel, f) => seen.push(f), log: logger, nodeId: 'n' })
  t.teardown(() => broker.close())
  await broker.subscribe('x')
  const stranger = await mosquitto.client(t)
  await stranger.publishAsync(`${topicPrefix}x`, '{"type":"message","channel":"x","data":"forged"}')
  const real = frame()
  await broker.publish('x', real)
  await eventually(() => seen.includes(real), 'the real frame arrived')
  t.same(seen, [real], 'the forged one was not delivered')
  t.match(lines.join(''), /neither a fastify-realtime envelope nor bridged/)
})

t.test('bad options fail at construction with a plain message', async (t) => {
  t.throws(() => new MqttBroker({}), /mqtt needs url, options or client/)
  t.throws(() => new MqttBroker({ url: 'http://x' }), /mqtt.url must be/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, prefix: 'a/+/' }), /mqtt.prefix must not hold the wildcards/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, prefix: '$SYS/' }), /must not start with \$/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, prefix: 'realtime' }), /must end with \//)
  t.throws(() => new MqttBroker({ url: mosquitto.url, qos: 3 as never }), /qos must be 0, 1 or 2/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, bridge: { inbound: [{ topic: 'a/#/b', channel: 'x' }] } }), /# must be a whole last level/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, bridge: { outbound: [{ channel: 'a b', topic: 'x' }] } }), /outbound\[0\]\.channel/)
  t.throws(() => new MqttBroker({ url: mosquitto.url, bridge: { outbound: [{ channel: 'a.*', topic: 'x/+' }] } }), /without wildcards/)
})

t.test('an unreachable server fails start, or starts degraded and becomes ready when it comes', async (t) => {
  const other = await startMosquitto(t)
  await other.kill()
  const refused = new MqttBroker({ url: other.url, requestTimeout: 2000 })
  await t.rejects(refused.start({ onMessage: () => {}, log: Fastify({ logger: false }).log, nodeId: 'n' }), { code: ErrorCode.BROKER_UNAVAILABLE, message: /cannot reach the MQTT server/ })
  t.equal(refused.state, 'closed', 'a failed start releases its connection')

  const degraded = new MqttBroker({ url: other.url, startDegraded: true, prefix: prefix() })
  const log = await startBroker(t, () => degraded)
  t.equal(degraded.state, 'unavailable')
  await t.rejects(degraded.publish('x', frame()), { code: ErrorCode.BROKER_UNAVAILABLE })
  await t.rejects(degraded.subscribe('x'), { code: ErrorCode.BROKER_UNAVAILABLE }, 'the reference is kept...')
  await other.restart()
  await eventually(() => degraded.state === 'ready', 'ready once the server is there')
  const late = frame()
  await degraded.publish('x', late)
  await log.log.wait((d) => d.frame === late)
  t.pass('...and subscribed once the server came')
})

t.test('mosquitto killed and restarted mid-stream: unavailable meanwhile, channels taken again after', async (t) => {
  const own = await startMosquitto(t)
  const { broker, log } = await startBroker(t, () => new MqttBroker({ url: own.url, prefix: prefix() }))
  await broker.subscribe('live')
  const before = frame()
  await broker.publish('live', before)
  await log.wait((d) => d.frame === before)

  await own.kill()
  await eventually(() => broker.state === 'unavailable', 'unavailable')
  await t.rejects(broker.publish('live', frame()), { code: ErrorCode.BROKER_UNAVAILABLE }, 'fails at once, never queued')

  await own.restart()
  await eventually(() => broker.state === 'ready', 'ready again')
  const after = frame()
  await broker.publish('live', after)
  await log.wait((d) => d.frame === after)
  t.equal(log.count(after), 1, 'delivered once after the restart')
})

t.test('a client the user owns is used, never ended, and keeps no subscription of ours after close', async (t) => {
  const client = await mosquitto.client(t)
  const topicPrefix = prefix()
  const broker = new MqttBroker({ client, prefix: topicPrefix })
  const seen: string[] = []
  await broker.start({ onMessage: (_c, f) => seen.push(f), log: Fastify({ logger: false }).log, nodeId: 'n' })
  await broker.subscribe('mine')
  const f = frame()
  await broker.publish('mine', f)
  await eventually(() => seen.includes(f), 'delivered through the user client')
  await broker.close()
  t.equal(client.connected, true, 'the user client is still connected')
  const after: string[] = []
  client.on('message', (topic) => after.push(topic))
  await client.publishAsync(`${topicPrefix}mine`, 'x')
  await client.publishAsync('marker/after', 'x')
  await client.subscribeAsync('marker/after')
  await client.publishAsync('marker/after', 'y')
  await eventually(() => after.includes('marker/after'), 'the marker arrived')
  t.notOk(after.includes(`${topicPrefix}mine`), 'our topic was unsubscribed on close')
})

t.test('the mqtt shorthand registers the broker; bad combinations fail register', async (t) => {
  const { default: realtime } = await import('../../lib/index.js')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { mqtt: { url: mosquitto.url, prefix: prefix() } })
  t.equal(app.realtime.stats().broker, 'ready')

  for (const [options, message] of [
    [{ mqtt: {} }, /mqtt needs url, options or client/],
    [{ mqtt: { url: mosquitto.url }, redis: { url: 'redis://127.0.0.1:1' } }, /give one of broker, redis and mqtt/]
  ] as const) {
    const bad = Fastify()
    t.teardown(() => bad.close())
    bad.register(realtime, options as never)
    await t.rejects(async () => { await bad.ready() }, message)
  }
})
