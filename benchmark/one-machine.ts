// Scenario (e): connections on one machine. node:cluster workers (fastify-realtime with the
// ClusterBroker) hold `connections` subscribed WebSockets behind one port, opened by several
// load-generator processes from many loopback source addresses. Then one broadcast and one
// channel publish are timed to every single connection, twice (the first round meets cold
// code paths, the second shows the steady cost), and a probe counts, connection by
// connection, that each received both, each exactly twice.
//
// Why several processes on each side: here a process may hold at most 20,000 file descriptors
// (`ulimit -n`, a hard limit), one per connection, so 150,000 connections need at least 8
// workers and 8 generators. Each source address gives about 28,000 ephemeral ports towards
// the one server port (`ip_local_port_range` 32768-60999), so generators use two each.
import { setTimeout as sleep } from 'node:timers/promises'
import { now } from './clock.js'
import { Generators, Server, fmt, here, CHANNEL } from './harness.js'
import type { Histogram } from './histogram.js'

export interface OneMachineConfig {
  connections: number
  workers: number
  generators: number
  /** `maxConnections` of each worker: below the 20,000 descriptors a process may hold here. */
  maxPerWorker: number
  concurrency: number
  connectTimeoutMs: number
  /** How long one broadcast or publish may take to reach everyone before it is reported short. */
  deliverTimeoutMs: number
  size: number
}

export interface Arrival { received: number, p50: number, p99: number, max: number, ms: number }

export interface OneMachineRun {
  /** Connections that subscribed during setup. */
  connections: number
  /** Connections the workers still held when measured (all connections the probe saw open). */
  held: number
  failed: number
  firstError?: string
  setupSec: number
  setupPerSec: number
  rssPerConnKB: number
  workerRssMB: number
  primaryRssMB: number
  minPerWorker: number
  maxPerWorker: number
  broadcast: Arrival
  publish: Arrival
  broadcastWarm: Arrival
  publishWarm: Arrival
  gotBoth: number
  missingBroadcast: number
  missingMessage: number
  duplicated: number
  /** Connections closed between subscribing and the measurement, by close code or `no close frame`. */
  closeCauses: Record<string, number>
  heartbeatTerminations: number
}

const PLUGIN = { dialect: 'json' as const, path: '/ws' }
interface ClusterMemory { rss: number, heapUsed: number, connections: number, heartbeatTerminations: number, perWorker: Array<{ rss: number, connections: number }>, primaryRss: number }

/** Waits until `expected` frames arrived, nothing more arrived for 2 s, or `timeoutMs` passed. */
async function arrival (generators: Generators, expected: number, timeoutMs: number, sentAt: number): Promise<Arrival> {
  let stats = await generators.stats()
  let last = -1
  let lastChange = now()
  while (stats.received < expected && now() - sentAt < timeoutMs && now() - lastChange < 2000) {
    await sleep(100)
    stats = await generators.stats()
    if (stats.received !== last) {
      last = stats.received
      lastChange = now()
    }
  }
  const histogram: Histogram = stats.histogram
  return { received: stats.received, p50: histogram.percentile(0.5), p99: histogram.percentile(0.99), max: histogram.max(), ms: now() - sentAt }
}

export async function runOneMachine (config: OneMachineConfig, log: (...parts: unknown[]) => void): Promise<OneMachineRun> {
  const server = await Server.start(here('./servers/plugin-cluster.ts'), {
    BENCH_WORKERS: String(config.workers),
    BENCH_MAX_CONNECTIONS: String(config.maxPerWorker)
  }, 120_000)
  const generators = new Generators(config.generators)
  try {
    await generators.ready(120_000)
    const before = await server.request<ClusterMemory>({ cmd: 'memory' }, 'memory')
    log(`  ${config.workers} workers on port ${server.port}, ${config.generators} generators; opening ${config.connections.toLocaleString('en-US')} connections`)
    const connected = await generators.connect(PLUGIN, server.port, config.connections, 1, { timeoutMs: config.connectTimeoutMs, concurrency: config.concurrency })
    const setupSec = connected.ms / 1000
    log(`  ${connected.ok.toLocaleString('en-US')} subscribed, ${connected.failed} failed${connected.firstError === undefined ? '' : ` (first: ${connected.firstError})`} in ${fmt(setupSec)} s`)
    await sleep(1000)
    const after = await server.request<ClusterMemory>({ cmd: 'memory' }, 'memory', 120_000)
    const perWorker = after.perWorker.map((worker) => worker.connections)
    log(`  held: ${after.connections.toLocaleString('en-US')} (per worker ${perWorker.join(', ')}), workers' RSS ${fmt(after.rss / 2 ** 20, 0)} MB`)
    // Why connections that subscribed were lost before the measurement, seen from both sides.
    const { closeCauses } = await generators.stats()
    const causes = Object.entries(closeCauses).map(([cause, count]) => `${cause}: ${count}`).join(', ')
    log(`  closed after subscribing: ${causes === '' ? 'none' : causes}; the workers' heartbeat dropped ${after.heartbeatTerminations}`)

    const timed = async (kind: 'broadcast' | 'publish', round: string): Promise<Arrival> => {
      await generators.reset()
      const sentAt = now()
      await server.request({ cmd: 'once', kind, channel: CHANNEL, size: config.size }, 'sent')
      const result = await arrival(generators, connected.ok, config.deliverTimeoutMs, sentAt)
      log(`  ${round} ${kind === 'broadcast' ? 'broadcast' : `publish to '${CHANNEL}'`}: ${result.received.toLocaleString('en-US')} arrivals, p50 ${fmt(result.p50)} ms p99 ${fmt(result.p99)} ms max ${fmt(result.max)} ms`)
      return result
    }
    const broadcast = await timed('broadcast', 'first')
    const publish = await timed('publish', 'first')
    const broadcastWarm = await timed('broadcast', 'second')
    const publishWarm = await timed('publish', 'second')

    const probe = await generators.probe(2)
    log(`  probe: ${probe.gotBoth.toLocaleString('en-US')} of ${probe.open.toLocaleString('en-US')} open connections received both, twice; short of broadcasts ${probe.missingBroadcast}, short of messages ${probe.missingMessage}, duplicates ${probe.duplicated}`)
    return {
      connections: connected.ok,
      held: after.connections,
      failed: connected.failed,
      ...(connected.firstError === undefined ? {} : { firstError: connected.firstError }),
      setupSec,
      setupPerSec: connected.ok / setupSec,
      rssPerConnKB: (after.rss - before.rss) / Math.max(1, after.connections) / 1024,
      workerRssMB: after.rss / 2 ** 20,
      primaryRssMB: after.primaryRss / 2 ** 20,
      minPerWorker: Math.min(...perWorker),
      maxPerWorker: Math.max(...perWorker),
      broadcast,
      publish,
      broadcastWarm,
      publishWarm,
      gotBoth: probe.gotBoth,
      missingBroadcast: probe.missingBroadcast,
      missingMessage: probe.missingMessage,
      duplicated: probe.duplicated,
      closeCauses,
      heartbeatTerminations: after.heartbeatTerminations
    }
  } finally {
    await generators.disconnect().catch(() => {})
    await generators.exit()
    await server.stop()
  }
}
