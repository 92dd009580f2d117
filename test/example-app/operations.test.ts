// The example app's operations routes: /metrics (the plugin's metrics and the process' own on
// one registry) and /ready (503 while the node drains).
import t from 'tap'
import { buildApp } from '../../example-app/app.js'
import { TestClient } from '../helpers/ws-client.js'

t.test('/metrics serves the realtime metrics; /ready turns 503 once the node drains', async (t) => {
  const app = await buildApp({ nodeId: 'ops-node' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
  t.teardown(() => client.close())
  await client.subscribe('general')

  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain/)
  t.match(metrics.body, /^realtime_connections 1$/m)
  t.match(metrics.body, /^realtime_subscriptions 1$/m)
  t.match(metrics.body, /^realtime_broker_state\{state="ready"\} 1$/m)
  t.match(metrics.body, /^process_cpu_user_seconds_total /m, 'the process metrics sit on the same registry')

  t.same((await app.inject({ method: 'GET', url: '/ready' })).json(), { ready: true })
  const drained = app.realtime.drain({ overMs: 0 })
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 503)
  await drained
  t.equal((await client.closed).code, 1012)
})
