// Prometheus metrics: registered on the application's registry, served by its own /metrics
// route, scraped over HTTP and parsed as a Prometheus server would.
import t from 'tap'
import { Registry } from 'prom-client'
import { TestClient } from './helpers/ws-client.js'
import Fastify from 'fastify'
import realtime, { MemoryBroker } from '../lib/index.js'
import { startServer } from './helpers/server.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text exposition format (the lines a scraper reads). */
function parseExposition (text: string): { samples: Sample[], types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) types.set(type[1]!, type[2]!)
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return { samples, types }
}

function valueOf (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v))?.value
}

t.test('every metric is served on the app\'s /metrics, with the traffic it counts', async (t) => {
  const registry = new Registry()
  const { app, url, connect } = await startServer(t, {
    plugin: { metrics: { registry }, authenticate: (request) => request.headers['x-user'] === undefined ? undefined : { id: request.headers['x-user'] } },
    setup: (app) => {
      app.get('/metrics', async (_request, reply) => {
        reply.type(registry.contentType)
        return await registry.metrics()
      })
    }
  })
  const user = { headers: { 'x-user': 'u1' } }
  const [a, b] = await Promise.all([connect(user), connect(user)])
  await a.subscribe('room')
  await b.subscribe('room')
  await b.subscribe('other')
  await app.publish('room', { n: 1 })
  await a.nextOfType('message')
  await b.nextOfType('message')
  a.send('not json')
  await a.nextOfType('error')
  // A refused handshake (no user: 401).
  await t.rejects(TestClient.connect(url), /unexpected response 401/)
  const closing = b.close()
  await closing

  const response = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200)
  const { samples, types } = parseExposition(response.body)
  const expectedTypes: Record<string, string> = {
    realtime_connections: 'gauge',
    realtime_connections_opened_total: 'counter',
    realtime_connections_closed_total: 'counter',
    realtime_connections_refused_total: 'counter',
    realtime_subscriptions: 'gauge',
    realtime_channels: 'gauge',
    realtime_frames_received_total: 'counter',
    realtime_frames_sent_total: 'counter',
    realtime_sent_bytes_total: 'counter',
    realtime_errors_total: 'counter',
    realtime_slow_consumers_closed_total: 'counter',
    realtime_slow_consumer_dropped_frames_total: 'counter',
    realtime_rate_limited_frames_total: 'counter',
    realtime_rate_limit_closed_total: 'counter',
    realtime_heartbeat_terminations_total: 'counter',
    realtime_sessions_expired_total: 'counter',
    realtime_broker_state: 'gauge',
    realtime_broker_publish_duration_seconds: 'histogram',
    realtime_publish_recipients: 'histogram'
  }
  for (const [name, type] of Object.entries(expectedTypes)) t.equal(types.get(name), type, `${name} is a ${type}`)

  // The server sees b's close through its own socket event; the metric reads what it saw.
  const closed = app.realtime.stats().connectionsClosed
  t.equal(valueOf(samples, 'realtime_connections'), 2 - closed)
  t.equal(valueOf(samples, 'realtime_connections_opened_total'), 2)
  t.equal(valueOf(samples, 'realtime_connections_refused_total', { reason: '401' }), 1)
  t.equal(valueOf(samples, 'realtime_frames_received_total', { type: 'subscribe' }), 3)
  t.equal(valueOf(samples, 'realtime_errors_total', { code: 'invalid_json' }), 1)
  const stats = app.realtime.stats()
  t.equal(valueOf(samples, 'realtime_frames_sent_total'), stats.messagesOut)
  t.equal(valueOf(samples, 'realtime_sent_bytes_total'), stats.bytesOut)
  t.equal(valueOf(samples, 'realtime_broker_state', { state: 'ready' }), 1)
  t.equal(valueOf(samples, 'realtime_broker_state', { state: 'unavailable' }), 0)
  // One publish on 'room', through the broker (as are the node's cluster announcements), reaching 2 connections.
  t.ok(valueOf(samples, 'realtime_broker_publish_duration_seconds_count')! >= 1)
  t.equal(valueOf(samples, 'realtime_publish_recipients_count'), 1)
  t.equal(valueOf(samples, 'realtime_publish_recipients_sum'), 2)
  t.equal(valueOf(samples, 'realtime_publish_recipients_bucket', { le: '1' }), 0)
  t.equal(valueOf(samples, 'realtime_publish_recipients_bucket', { le: '10' }), 1)
})

t.test('subscriptions and channels are gauges of what is held now', async (t) => {
  const registry = new Registry()
  const { app, connect } = await startServer(t, { plugin: { metrics: { registry, prefix: 'chat_' } } })
  const [a, b] = await Promise.all([connect(), connect()])
  await a.subscribe('x')
  await b.subscribe('x')
  await b.subscribe('y')
  let { samples } = parseExposition(await registry.metrics())
  t.equal(valueOf(samples, 'chat_subscriptions'), 3)
  t.equal(valueOf(samples, 'chat_channels'), 2)
  await b.request({ type: 'unsubscribe', channel: 'y' })
  ;({ samples } = parseExposition(await registry.metrics()))
  t.equal(valueOf(samples, 'chat_subscriptions'), 2)
  t.equal(valueOf(samples, 'chat_channels'), 1)
  t.equal(app.realtime.stats().channels, 1)
})

t.test('broker_state follows the broker, and an instrumented broker keeps its own methods', async (t) => {
  const registry = new Registry()
  class BrokerWithExtra extends MemoryBroker {
    extra (): string { return 'kept' }
  }
  const broker = new BrokerWithExtra()
  const app = Fastify()
  await app.register(realtime, { broker, metrics: { registry } })
  await app.ready()
  let { samples } = parseExposition(await registry.metrics())
  t.equal(valueOf(samples, 'realtime_broker_state', { state: 'ready' }), 1)
  await app.close()
  ;({ samples } = parseExposition(await registry.metrics()))
  t.equal(valueOf(samples, 'realtime_broker_state', { state: 'closed' }), 1)
  t.equal(valueOf(samples, 'realtime_broker_state', { state: 'ready' }), 0)
  t.equal(broker.extra(), 'kept')
})

t.test('a failed publish is timed too, and still fails', async (t) => {
  const registry = new Registry()
  const { app } = await startServer(t, { plugin: { metrics: { registry } } })
  await app.close()
  const count = async (): Promise<number | undefined> => valueOf(parseExposition(await registry.metrics()).samples, 'realtime_broker_publish_duration_seconds_count')
  const before = (await count())!
  await t.rejects(app.publish('room', 1), { code: 'broker_unavailable' })
  t.equal(await count(), before + 1)
})

t.test('the metrics option is checked at register time', async (t) => {
  for (const metrics of [{}, { registry: {} }, { registry: new Registry(), prefix: 'bad-prefix' }]) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(realtime, { metrics: metrics as never }) }, /metrics\./)
    await app.close()
  }
  const registry = new Registry()
  const first = Fastify()
  await first.register(realtime, { metrics: { registry } })
  t.teardown(() => first.close())
  const second = Fastify()
  await t.rejects(async () => { await second.register(realtime, { metrics: { registry } }) }, /already been registered/, 'two instances need two prefixes')
  await second.close()
})
