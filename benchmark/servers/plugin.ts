// fastify-realtime as a benchmark peer: the plugin as a user registers it, logger off.
// BENCH_REDIS_URL: RedisBroker (scenarios d, f). BENCH_CLUSTER=1: a node:cluster worker with the
// ClusterBroker, listening on BENCH_PORT, forked by plugin-cluster.ts (scenarios e, f).
// BENCH_MAX_CONNECTIONS raises `maxConnections` (scenario e holds more than the default 10,000).
import Fastify from 'fastify'
import Type from 'typebox'
import realtime, { ClusterBroker, type Broker, type ChannelRuleOptions } from '../../lib/index.js'
import { serve } from './peer-control.js'

const env = process.env
const app = Fastify({ logger: false })
let broker: Broker | undefined
const redisUrl = env.BENCH_REDIS_URL
if (redisUrl !== undefined) {
  const { createRedisBroker } = await import('./redis-broker.js')
  broker = await createRedisBroker(redisUrl)
} else if (env.BENCH_CLUSTER === '1') {
  broker = new ClusterBroker()
}
// BENCH_CHANNEL_SCHEMA: every channel has a rule whose schema describes what peer-control publishes.
const channels: ChannelRuleOptions[] = env.BENCH_CHANNEL_SCHEMA === '1'
  ? [{ match: '*', schema: Type.Object({ t: Type.Number(), s: Type.Integer({ minimum: 0 }), p: Type.String() }, { additionalProperties: false }) }]
  : []
// And the same two nodes sharing a mosquitto (BENCH_MQTT_URL).
const mqttUrl = env.BENCH_MQTT_URL
await app.register(realtime, {
  path: '/ws',
  channels,
  ...(broker === undefined ? {} : { broker }),
  ...(mqttUrl === undefined ? {} : { mqtt: { url: mqttUrl } }),
  ...(env.BENCH_MAX_CONNECTIONS === undefined ? {} : { maxConnections: Number(env.BENCH_MAX_CONNECTIONS) })
})
await app.listen({ port: Number(env.BENCH_PORT ?? 0), host: '127.0.0.1' })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no port')

const reportError = (err: unknown): void => { process.send?.({ ev: 'error', message: String(err) }) }
serve({
  name: 'fastify-realtime',
  port: address.port,
  publish (channel, data) {
    app.publish(channel, data).catch(reportError)
  },
  broadcast (data) {
    app.broadcast(data).catch(reportError)
  },
  connections: () => app.realtime.connectionCount,
  heartbeatTerminations: () => app.realtime.stats().heartbeatTerminations,
  close: () => app.close()
})
