// fastify-realtime as a benchmark peer: the plugin as a user registers it, logger off.
import Fastify from 'fastify'
import Type from 'typebox'
import realtime, { type Broker, type ChannelRuleOptions } from '../../lib/index.js'
import { serve } from './peer-control.js'

const app = Fastify({ logger: false })
let broker: Broker | undefined
// Scenario (d) starts two nodes sharing a Redis (BENCH_REDIS_URL).
const redisUrl = process.env.BENCH_REDIS_URL
if (redisUrl !== undefined) {
  const { createRedisBroker } = await import('./redis-broker.js')
  broker = await createRedisBroker(redisUrl)
}
// BENCH_CHANNEL_SCHEMA: every channel has a rule whose schema describes what peer-control publishes.
const channels: ChannelRuleOptions[] = process.env.BENCH_CHANNEL_SCHEMA === '1'
  ? [{ match: '*', schema: Type.Object({ t: Type.Number(), s: Type.Integer({ minimum: 0 }), p: Type.String() }, { additionalProperties: false }) }]
  : []
// And the same two nodes sharing a mosquitto (BENCH_MQTT_URL).
const mqttUrl = process.env.BENCH_MQTT_URL
await app.register(realtime, { path: '/ws', channels, ...(broker === undefined ? {} : { broker }), ...(mqttUrl === undefined ? {} : { mqtt: { url: mqttUrl } }) })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no port')

serve({
  name: 'fastify-realtime',
  port: address.port,
  publish (channel, data) {
    app.publish(channel, data).catch((err: unknown) => { process.send?.({ ev: 'error', message: String(err) }) })
  },
  connections: () => app.realtime.connectionCount,
  close: () => app.close()
})
