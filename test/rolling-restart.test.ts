// A rolling restart with two nodes sharing a Redis: node A drains, its clients (the package's
// own RealtimeClient) reconnect through a round-robin "load balancer" to node B, resubscribe,
// and their reconnects are spread over the drain window rather than arriving at once.
import t from 'tap'
import WebSocket from 'ws'
import { CloseCode } from '../lib/errors.js'
import type { RealtimeClient } from '../lib/client/index.js'
import { startRedis } from './helpers/redis-server.js'
import { startServer } from './helpers/server.js'
import { openClient, nextEvent } from './helpers/realtime-client.js'

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

t.test('node A drains: every client reconnects to node B, resubscribes, and the reconnects are spread', async (t) => {
  const redis = await startRedis(t)
  const plugin = { redis: { url: redis.url }, maxConnections: 5000 }
  const a = await startServer(t, { plugin: { ...plugin, nodeId: 'node-a' } })
  const b = await startServer(t, { plugin: { ...plugin, nodeId: 'node-b' } })

  // Round robin over the nodes that are ready, like a load balancer whose readiness check
  // reads app.realtime.draining (docs/operations.md); the first connections all go to A.
  let nodes = [a]
  let turn = 0
  class Balanced extends WebSocket {
    constructor (_url: string, protocols?: string | string[]) {
      const ready = nodes.filter((node) => !node.app.realtime.draining)
      super(ready[turn++ % ready.length]!.url, protocols)
    }
  }

  const count = 300
  const overMs = 1500
  const clients: RealtimeClient[] = []
  const received = new Map<RealtimeClient, unknown[]>()
  for (let i = 0; i < count; i++) {
    const client = openClient(t, a.url, { WebSocket: Balanced as unknown as typeof WebSocket, initialDelay: 500 })
    const seen: unknown[] = []
    received.set(client, seen)
    client.subscribe('orders', (data) => seen.push(data))
    clients.push(client)
  }
  await Promise.all(clients.map((client) => nextEvent(client, 'subscribed', undefined, 20_000)))
  t.equal(a.app.realtime.connectionCount, count)

  nodes = [a, b]
  const reconnectedAt: number[] = []
  const codes: number[] = []
  const back = clients.map(async (client) => {
    const closed = nextEvent(client, 'close', undefined, 20_000)
    const resubscribed = (async () => {
      await nextEvent(client, 'open', (open) => open.reconnected, 20_000)
      reconnectedAt.push(performance.now())
      await nextEvent(client, 'subscribed', undefined, 20_000)
    })()
    codes.push((await closed).code)
    await resubscribed
  })
  await a.app.realtime.drain({ overMs })
  await Promise.all(back)

  t.ok(codes.every((code) => code === CloseCode.SERVICE_RESTART), 'every client was told 1012')
  t.equal(a.app.realtime.connectionCount, 0)
  t.equal(b.app.realtime.connectionCount, count, 'every client is on node B now')
  t.ok(clients.every((client) => client.nodeId === 'node-b'))

  // Resubscribed: a publish on the node that drained reaches every client through Redis.
  await a.app.publish('orders', { id: 1 })
  await Promise.all(clients.map((client) => nextEvent(client, 'message', undefined, 10_000).catch(() => undefined)))
  t.ok([...received.values()].every((seen) => seen.length === 1), 'every client got the publish after moving')

  // Spread: the middle 80% of reconnects covers a good part of the drain window.
  const sorted = reconnectedAt.sort((x, y) => x - y)
  const middle80 = quantile(sorted, 0.9) - quantile(sorted, 0.1)
  t.ok(middle80 >= overMs * 0.4, `the middle 80% of reconnects spans ${Math.round(middle80)} ms (drain over ${overMs} ms)`)
})

t.test('after 1012 the client reconnects within the first attempt\'s window, even right after other drops', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { WebSocket, initialDelay: 100, backoffFactor: 2, random: () => 0.99 })
  await nextEvent(client, 'open')
  // A slow-consumer close first: attempt 1, and the connection after it is too short to reset the count.
  for (const connection of app.realtime.connections()) connection.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer')
  t.equal((await nextEvent(client, 'reconnecting')).delay, 99)
  await nextEvent(client, 'open', (open) => open.reconnected)
  for (const connection of app.realtime.connections()) connection.close(CloseCode.SERVICE_RESTART, 'service restart')
  const { delay } = await nextEvent(client, 'reconnecting')
  t.equal(delay, 99, 'the window of a first attempt (100 ms), not the grown one (200 ms)')
  await nextEvent(client, 'open', (open) => open.reconnected)
})
