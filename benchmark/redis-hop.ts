// What the Redis hop alone adds to a publish: one subscriber, publishes one at a time, timed
// from `app.publish()` to the frame arriving at a `ws` client, on one node (embedded broker)
// and from node A through redis-server to node B. Everything runs in one process on loopback,
// so the difference is the broker path, not CPU contention between processes (scenario (d)
// measures that, with 1,000 subscribers and separate processes).
// Run: `npm run bench:hop` (about 10 s).
import Fastify, { type FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import realtime from '../lib/index.js'
import { startRedis } from './cross-node.js'

const PUBLISHES = 2000
const ROUNDS = 3

async function startNode (redisUrl?: string): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(realtime, redisUrl === undefined ? {} : { redis: { url: redisUrl } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return app
}

/** p50 and p99 in ms from publish on `publisher` to arrival at a subscriber of `subscriberNode`. */
async function measure (publisher: FastifyInstance, subscriberNode: FastifyInstance): Promise<{ p50: number, p99: number }> {
  const { port } = subscriberNode.server.address() as { port: number }
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
  const nextFrame = (): Promise<unknown> => new Promise((resolve) => socket.once('message', resolve))
  await nextFrame()
  socket.send(JSON.stringify({ type: 'subscribe', channel: 'hop' }))
  await nextFrame()
  const latencies: number[] = []
  for (let i = 0; i < PUBLISHES; i++) {
    const arrived = nextFrame()
    const start = process.hrtime.bigint()
    await publisher.publish('hop', { i })
    await arrived
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  socket.close()
  latencies.sort((a, b) => a - b)
  return { p50: latencies[Math.floor(PUBLISHES / 2)]!, p99: latencies[Math.floor(PUBLISHES * 0.99)]! }
}

const redis = await startRedis()
const single = await startNode()
const nodeA = await startNode(redis.url)
const nodeB = await startNode(redis.url)
const added: number[] = []
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const one = await measure(single, single)
    const cross = await measure(nodeA, nodeB)
    added.push(cross.p50 - one.p50)
    console.log(`round ${round}: one node p50 ${one.p50.toFixed(3)} ms p99 ${one.p99.toFixed(3)} ms | ` +
      `A -> Redis -> B p50 ${cross.p50.toFixed(3)} ms p99 ${cross.p99.toFixed(3)} ms | added p50 ${(cross.p50 - one.p50).toFixed(3)} ms`)
  }
  added.sort((a, b) => a - b)
  console.log(`Added p50 latency through Redis (median of ${ROUNDS} rounds): ${added[Math.floor(ROUNDS / 2)]!.toFixed(3)} ms`)
} finally {
  await Promise.all([single.close(), nodeA.close(), nodeB.close()])
  redis.process.kill()
}
