// What channel history costs and what it buys, in one process on loopback:
// 1. Publish latency (publish -> arrival at a `ws` subscriber, one at a time) and throughput
//    (publishes in flight 100 at a time, until the subscriber has them all), history off
//    versus on, on one node (embedded broker) and from node A through redis-server to node B.
// 2. Delivery through a link that is cut every 2 s (closed, then black-holed without a FIN)
//    while 2,000 messages flow at 200/s, every reconnect landing on the other of two nodes:
//    the share delivered exactly once and in order, on a plain channel and on a history one.
// Run: `npm run bench:history` (about two minutes; needs redis-server). `--quick` halves the counts.
// Latency and throughput: a warm-up, then 3 rounds alternating history off and on; medians.
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import realtime from '../lib/index.js'
import { RealtimeClient } from '../lib/client/index.js'
import { startTcpProxy } from '../test/helpers/rotating-proxy.js'
import { startRedis } from './cross-node.js'

const quick = process.argv.includes('--quick')
const LATENCY_PUBLISHES = quick ? 1000 : 2000
const THROUGHPUT_PUBLISHES = quick ? 10_000 : 20_000
const IN_FLIGHT = 100
const ROUNDS = 3
const CUT = { count: 2000, rate: 200, every: 2000 }
const channels = [{ match: 'h:*', history: { size: 5000, ttl: 600_000 } }]
const payload = { text: 'x'.repeat(200) }

async function startNode (redisUrl?: string): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(realtime, { channels, ...(redisUrl === undefined ? {} : { redis: { url: redisUrl } }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

const portOf = (app: FastifyInstance): number => (app.server.address() as { port: number }).port

async function subscriber (node: FastifyInstance, channel: string): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${portOf(node)}/ws`)
  const next = (): Promise<unknown> => new Promise((resolve) => socket.once('message', resolve))
  await next()
  socket.send(JSON.stringify({ type: 'subscribe', channel }))
  await next()
  return socket
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

async function latency (publisher: FastifyInstance, node: FastifyInstance, channel: string): Promise<{ p50: number, p99: number }> {
  const socket = await subscriber(node, channel)
  const latencies: number[] = []
  for (let i = 0; i < LATENCY_PUBLISHES; i++) {
    const arrived = new Promise((resolve) => socket.once('message', resolve))
    const start = process.hrtime.bigint()
    await publisher.publish(channel, payload)
    await arrived
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  socket.close()
  latencies.sort((a, b) => a - b)
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

async function throughput (publisher: FastifyInstance, node: FastifyInstance, channel: string): Promise<number> {
  const socket = await subscriber(node, channel)
  let received = 0
  const all = new Promise<void>((resolve) => socket.on('message', () => { if (++received === THROUGHPUT_PUBLISHES) resolve() }))
  const start = process.hrtime.bigint()
  for (let sent = 0; sent < THROUGHPUT_PUBLISHES; sent += IN_FLIGHT) {
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => publisher.publish(channel, payload)))
    // The embedded broker delivers synchronously: let the socket drain, or the subscriber
    // is closed as a slow consumer.
    await new Promise((resolve) => setImmediate(resolve))
  }
  await all
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  socket.close()
  return THROUGHPUT_PUBLISHES / seconds
}

/** Share of the messages a client behind a cutting proxy got exactly once and in order. */
async function delivery (nodes: FastifyInstance[], channel: string): Promise<{ delivered: number, duplicates: number, unrecovered: number }> {
  const cleanups: Array<() => unknown> = []
  const proxy = await startTcpProxy({ teardown: (fn) => cleanups.push(fn) }, nodes.map(portOf))
  const client = new RealtimeClient(`ws://127.0.0.1:${proxy.port}/ws`, {
    WebSocket, pingInterval: 250, pingTimeout: 500, initialDelay: 50, maxDelay: 250, maxAttempts: 1000
  })
  const received: number[] = []
  let unrecovered = 0
  client.on('unrecovered', () => { unrecovered++ })
  await client.subscribe<number>(channel, (n) => received.push(n)).ready
  const publisher = nodes[nodes.length - 1]!
  let cuts = 0
  const cutter = setInterval(() => { if (cuts++ % 2 === 0) proxy.cut(); else proxy.blackHole() }, CUT.every)
  const started = Date.now()
  for (let n = 1; n <= CUT.count; n++) {
    const due = started + (n * 1000) / CUT.rate
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
    await publisher.publish(channel, n)
  }
  clearInterval(cutter)
  // Time for the last reconnect and replay.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  client.close()
  for (const cleanup of cleanups) await cleanup()
  let inOrder = 0
  let last = 0
  for (const n of received) if (n > last) { inOrder++; last = n }
  return { delivered: inOrder / CUT.count, duplicates: received.length - new Set(received).size, unrecovered }
}

const redis = await startRedis()
const single = await startNode()
const nodeA = await startNode(redis.url)
const nodeB = await startNode(redis.url)
const rows: string[] = []
try {
  const paths = [['one node, embedded broker', single, single], ['node A -> redis-server -> node B', nodeA, nodeB]] as const
  const modes = [['off', 'plain:1'], ['on', 'h:1']] as const
  // Warm-up (JIT, connections, the script cache), then rounds alternating off and on; medians.
  for (const [, publisher, node] of paths) for (const [, channel] of modes) await latency(publisher, node, channel)
  const results = new Map<string, Array<{ p50: number, p99: number, rate: number }>>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, publisher, node] of paths) {
      for (const [history, channel] of modes) {
        const lat = await latency(publisher, node, channel)
        const rate = await throughput(publisher, node, channel)
        const key = `| ${label} | ${history} |`
        results.set(key, [...(results.get(key) ?? []), { ...lat, rate }])
        console.log(`round ${round + 1} ${key} p50 ${lat.p50.toFixed(3)} p99 ${lat.p99.toFixed(3)} ${Math.round(rate)}/s`)
      }
    }
  }
  for (const [key, runs] of results) {
    const mid = (pick: (run: { p50: number, p99: number, rate: number }) => number): number => runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!
    rows.push(`${key} ${mid((r) => r.p50).toFixed(3)} | ${mid((r) => r.p99).toFixed(3)} | ${Math.round(mid((r) => r.rate)).toLocaleString('en-US')} |`)
  }
  console.log('\n| path | history | p50 ms | p99 ms | publishes/s (100 in flight) |\n| --- | --- | ---: | ---: | ---: |\n' + rows.join('\n'))
  const plain = await delivery([nodeA, nodeB], 'plain:cut')
  const kept = await delivery([nodeA, nodeB], 'h:cut')
  console.log(`\n${CUT.count} messages at ${CUT.rate}/s, link cut every ${CUT.every / 1000} s, reconnects alternating between two nodes:`)
  console.log('| channel | delivered exactly once, in order | duplicates | unrecovered events |\n| --- | ---: | ---: | ---: |')
  for (const [label, result] of [['plain', plain], ['history', kept]] as const) {
    console.log(`| ${label} | ${(result.delivered * 100).toFixed(1)}% | ${result.duplicates} | ${result.unrecovered} |`)
  }
} finally {
  await Promise.all([single.close(), nodeA.close(), nodeB.close()])
  redis.process.kill()
}
