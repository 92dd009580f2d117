// The promise of history, end to end: a RealtimeClient behind a TCP proxy that cuts the link
// (closed, then black-holed without a FIN) again and again while messages flow at a steady
// rate, on one node and with every reconnect landing on the other of two nodes through Redis.
// The client ends with every message exactly once, in order, and no `unrecovered` event.
// Scaled from the 2,000 messages at 200/s with a cut every 2 s to keep the suite
// short; `npm run bench` runs the full shape and compares it with a channel without history.
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { startServer } from '../helpers/server.js'
import { startRedis } from '../helpers/redis-server.js'
import { startTcpProxy } from '../helpers/rotating-proxy.js'
import { openClient, record } from '../helpers/realtime-client.js'

const COUNT = 1000
const RATE = 200
const CUT_EVERY = 1000
const channels = [{ match: 'orders:*', history: { size: 5000, ttl: 60_000 } }]

function portOf (app: FastifyInstance): number {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function run (t: Test, apps: FastifyInstance[]): Promise<void> {
  const proxy = await startTcpProxy(t, apps.map(portOf))
  const client = openClient(t, `ws://127.0.0.1:${proxy.port}/ws`, {
    pingInterval: 100, pingTimeout: 300, initialDelay: 50, maxDelay: 200, maxAttempts: 1000
  })
  const unrecovered = record(client, 'unrecovered')
  const received: unknown[] = []
  let allReceived!: () => void
  const done = new Promise<void>((resolve) => { allReceived = resolve })
  const subscription = client.subscribe<number>('orders:1', (n) => {
    received.push(n)
    if (received.length === COUNT) allReceived()
  })
  await subscription.ready

  // The last node publishes: with two nodes it is also where every other reconnect lands.
  const publisher = apps[apps.length - 1]!
  const sent = (async () => {
    const started = Date.now()
    for (let n = 1; n <= COUNT; n++) {
      const due = started + (n * 1000) / RATE
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
      await publisher.publish('orders:1', n)
    }
  })()
  let cuts = 0
  const cutter = setInterval(() => {
    if (cuts++ % 2 === 0) proxy.cut()
    else proxy.blackHole()
  }, CUT_EVERY)
  await sent
  clearInterval(cutter)
  // Bounded: a client that lost messages fails the comparison below instead of hanging.
  let timer: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise((resolve) => { timer = setTimeout(resolve, 10_000) })])
  clearTimeout(timer)

  t.ok(cuts >= 3, `the link was cut ${cuts} times`)
  t.ok(proxy.connections > cuts / 2, `the client reconnected (${proxy.connections} connections)`)
  t.same(received, Array.from({ length: COUNT }, (_, i) => i + 1), 'every message exactly once, in order')
  t.same(unrecovered, [])
}

test('cut and black-holed links on one node: every message exactly once, in order', async (t) => {
  const server = await startServer(t, { plugin: { channels, heartbeatInterval: 1000, heartbeatTimeout: 500 } })
  await run(t, [server.app])
})

test('every reconnect lands on the other of two nodes through Redis: every message exactly once, in order', async (t) => {
  const redis = await startRedis(t)
  const nodes = []
  for (const nodeId of ['node-a', 'node-b']) {
    nodes.push(await startServer(t, { plugin: { nodeId, channels, redis: { url: redis.url }, heartbeatInterval: 1000, heartbeatTimeout: 500 } }))
  }
  await run(t, nodes.map((node) => node.app))
})
