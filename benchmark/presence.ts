// What presence costs in Redis (issue 13): round trips per join and leave, alone and in a
// storm, the cost of `presence` and `presence_stats` on a 10,000-member channel, and Redis
// memory per member. One node, one redis-server on a free loopback port, one process.
// Run: `npm run bench:presence` (about 20 s).
import Fastify from 'fastify'
import WebSocket from 'ws'
import realtime, { RedisBroker } from '../lib/index.js'
import { MEMBERS, STATS } from '../lib/brokers/redis-presence-scripts.js'
import { startRedis } from './cross-node.js'

const SEQUENTIAL = 300
const STORM = 1000
const BIG = 10_000
const READS = 20

function nextFrame (socket: WebSocket, prefix: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData): void => {
      const text = data.toString()
      if (!text.startsWith(prefix)) return
      socket.off('message', onMessage)
      resolve(text)
    }
    socket.on('message', onMessage)
  })
}

async function open (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url)
  await nextFrame(socket, '{"type":"welcome"')
  return socket
}

function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

const redis = await startRedis()
const broker = new RedisBroker({ url: redis.url })
const app = Fastify()
await app.register(realtime, { broker, channels: [{ match: 'room.*', presence: true }], heartbeatInterval: 30_000, rateLimit: false })
await app.listen({ port: 0, host: '127.0.0.1' })
const url = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/ws`

try {
  // 1. One connection joining and leaving, one at a time.
  const socket = await open(url)
  const joinTimes: number[] = []
  const leaveTimes: number[] = []
  let joinCalls = 0
  let leaveCalls = 0
  for (let i = 0; i < SEQUENTIAL; i++) {
    let before = broker.presence.commands
    let start = process.hrtime.bigint()
    socket.send(JSON.stringify({ type: 'subscribe', channel: 'room.seq', id: 's' + i }))
    await nextFrame(socket, '{"type":"subscribed"')
    joinTimes.push(Number(process.hrtime.bigint() - start) / 1e6)
    joinCalls += broker.presence.commands - before
    before = broker.presence.commands
    start = process.hrtime.bigint()
    socket.send(JSON.stringify({ type: 'unsubscribe', channel: 'room.seq', id: 'u' + i }))
    await nextFrame(socket, '{"type":"unsubscribed"')
    // The leave's write is not awaited by the answer: wait for the batch to go out.
    await new Promise((resolve) => setImmediate(resolve))
    leaveTimes.push(Number(process.hrtime.bigint() - start) / 1e6)
    leaveCalls += broker.presence.commands - before
  }
  socket.close()
  console.log(`one at a time (${SEQUENTIAL}x): Redis calls per join ${(joinCalls / SEQUENTIAL).toFixed(2)}, per leave ${(leaveCalls / SEQUENTIAL).toFixed(2)}; ` +
    `subscribe answered p50 ${percentile(joinTimes, 0.5).toFixed(3)} ms, p99 ${percentile(joinTimes, 0.99).toFixed(3)} ms`)

  // 2. A storm: STORM connections subscribing at once, then all closing.
  const sockets = await Promise.all(Array.from({ length: STORM }, () => open(url)))
  let before = broker.presence.commands
  const start = process.hrtime.bigint()
  const subscribed = sockets.map((s) => nextFrame(s, '{"type":"subscribed"'))
  for (const s of sockets) s.send(JSON.stringify({ type: 'subscribe', channel: 'room.storm', id: '1' }))
  await Promise.all(subscribed)
  const stormMs = Number(process.hrtime.bigint() - start) / 1e6
  const stormCalls = broker.presence.commands - before
  before = broker.presence.commands
  for (const s of sockets) s.close()
  while ((await app.realtime.presenceStats('room.storm')).connections > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const leaveStormCalls = broker.presence.commands - before - 1
  console.log(`storm of ${STORM} joins: ${stormCalls} Redis calls (${(stormCalls / STORM).toFixed(3)} per join), all answered in ${stormMs.toFixed(0)} ms; ` +
    `${STORM} leaves: ~${leaveStormCalls} Redis calls`)

  // 3. A 10,000-member channel (members written straight through the broker, as other nodes would).
  const members = Array.from({ length: BIG }, (_, i) => ({ userId: `user-${i % 8000}`, connectionId: `conn-${i}-${'x'.repeat(24)}`, nodeId: 'other-node', info: { name: `User ${i}` } }))
  await broker.presence.add('room.big', members, 600_000)
  const keyMemory = Number(await redisCall(redis.url, ['MEMORY', 'USAGE', 'fastify-realtime:presence:{room.big}:members'])) +
    Number(await redisCall(redis.url, ['MEMORY', 'USAGE', 'fastify-realtime:presence:{room.big}:expiry']))
  const memberBytes = members.reduce((sum, member) => sum + JSON.stringify(member).length, 0) / BIG
  await redisCall(redis.url, ['CONFIG', 'SET', 'slowlog-log-slower-than', '0'])
  await redisCall(redis.url, ['SLOWLOG', 'RESET'])
  const listTimes: number[] = []
  const statsTimes: number[] = []
  for (let i = 0; i < READS; i++) {
    let t0 = process.hrtime.bigint()
    await app.realtime.presence('room.big')
    listTimes.push(Number(process.hrtime.bigint() - t0) / 1e6)
    t0 = process.hrtime.bigint()
    await app.realtime.presenceStats('room.big')
    statsTimes.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  // Time Redis itself spent in each script call (microseconds), from its slow log.
  const log = await redisCall(redis.url, ['SLOWLOG', 'GET', '1000']) as Array<[number, number, number, string[]]>
  await redisCall(redis.url, ['CONFIG', 'SET', 'slowlog-log-slower-than', '10000'])
  const busy = (sha: string): number[] => log.filter((entry) => entry[3][1] === sha).map((entry) => entry[2])
  const membersMicros = busy(MEMBERS.sha)
  const statsMicros = busy(STATS.sha)
  const client = await open(url)
  const t0 = process.hrtime.bigint()
  client.send(JSON.stringify({ type: 'presence', channel: 'room.big', id: 'p' }))
  const answer = await nextFrame(client, '{"type":"presence"')
  const overWs = Number(process.hrtime.bigint() - t0) / 1e6
  client.close()
  console.log(`presence of ${BIG} members: p50 ${percentile(listTimes, 0.5).toFixed(1)} ms (app.realtime.presence, one Redis call), ` +
    `over WebSocket ${overWs.toFixed(1)} ms, answer ${(answer.length / 1024).toFixed(0)} KiB; presence_stats p50 ${percentile(statsTimes, 0.5).toFixed(1)} ms; ` +
    `Redis memory ${(keyMemory / BIG).toFixed(0)} bytes per member (member JSON ${memberBytes.toFixed(0)} bytes)`)
  console.log(`Redis busy per call on that channel (its slow log): presence p50 ${(percentile(membersMicros, 0.5) / 1000).toFixed(1)} ms, ` +
    `presence_stats p50 ${(percentile(statsMicros, 0.5) / 1000).toFixed(1)} ms`)
} finally {
  await app.close()
  redis.process.kill()
}

async function redisCall (redisUrl: string, args: string[]): Promise<unknown> {
  const { Redis } = await import('ioredis')
  const client = new Redis(redisUrl)
  try {
    return await client.call(args[0]!, ...args.slice(1))
  } finally {
    client.disconnect()
  }
}
