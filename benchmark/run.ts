// Benchmark orchestrator: `npm run bench` (full) or `npm run bench -- --quick` (under 3 min).
// Starts each peer in its own process, load generators in others, runs the scenarios with the
// peers interleaved and repeated, and writes a markdown table and JSON to benchmark/results/.
// Everything runs on loopback; every loop is bounded by a count and a time limit.
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { now } from './clock.js'
import type { Dialect } from './load-generator.js'
import { Generators, Server, fmt, here, publishStep, ramp, type RampResult } from './harness.js'
import { startCrossNode, type CrossNode } from './cross-node.js'
import { runOneMachine } from './one-machine.js'
import { SYSTEMS, runManyChannels, type ManyChannelsRun } from './many-channels.js'
import { renderMarkdown } from './report.js'

export type PeerId = 'plugin' | 'plugin-schema' | 'ws' | 'socketio' | 'uws'
interface PeerSpec {
  id: PeerId
  label: string
  script: string
  dialect: Dialect
  path: string
  env?: Record<string, string>
  /** A folder the peer needs installed first, and how; the peer is skipped without it. */
  needs?: { folder: string, install: string }
}
const PEERS: PeerSpec[] = [
  { id: 'plugin', label: 'fastify-realtime', script: here('./servers/plugin.ts'), dialect: 'json', path: '/ws' },
  // The same plugin with a channel rule whose schema every publish is validated against (once per publish).
  { id: 'plugin-schema', label: 'fastify-realtime, schema on the channel', script: here('./servers/plugin.ts'), dialect: 'json', path: '/ws', env: { BENCH_CHANNEL_SCHEMA: '1' } },
  { id: 'ws', label: 'ws (naive loop)', script: here('./servers/ws-naive.ts'), dialect: 'json', path: '/ws' },
  { id: 'socketio', label: 'Socket.IO 4 (rooms)', script: here('./servers/socketio.ts'), dialect: 'socketio', path: '/socket.io/?EIO=4&transport=websocket' },
  {
    id: 'uws',
    label: 'uWebSockets.js',
    script: here('./uws/server.mjs'),
    dialect: 'json',
    path: '/ws',
    needs: { folder: here('./uws/node_modules/@trufflesuite/uws-js-unofficial'), install: 'npm install --prefix benchmark/uws' }
  }
]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args.find((arg) => arg.startsWith('--only='))?.slice(7).split(',')
const peerFilter = args.find((arg) => arg.startsWith('--peers='))?.slice(8).split(',')
const wantedPeers = PEERS.filter((peer) => peerFilter === undefined || peerFilter.includes(peer.id))
/** Peers whose own install is missing: left out of the run with a note, not a crash. */
const missingPeers = wantedPeers.filter((peer) => peer.needs !== undefined && !existsSync(peer.needs.folder))
const peers = wantedPeers.filter((peer) => !missingPeers.includes(peer))
/** `--connections=N` and `--workers=N` resize scenario (e), e.g. to try it small first. */
const numberArg = (name: string): number | undefined => {
  const value = args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  return value === undefined ? undefined : Number(value)
}

export const config = quick
  ? {
      mode: 'quick',
      repetitions: 1,
      generators: 4,
      ramp: { subscribers: 1000, size: 256, stepMs: 1500, rates: [50, 100, 200, 300, 400, 600, 800, 1200], extraSteps: 0 },
      idle: { connections: 3000 },
      steady: { subscribers: 2000, rate: 20, durationMs: 4000, sampleEvery: 4 },
      crossNode: { subscribers: 1000, rate: 20, durationMs: 4000, rampRates: [100, 200, 400, 800], stepMs: 1500 },
      oneMachine: { connections: 6000, workers: 4, generators: 3, maxPerWorker: 19_000, concurrency: 64, connectTimeoutMs: 120_000, deliverTimeoutMs: 30_000, size: 256 },
      manyChannels: { connections: 4000, channels: 2000, perConnection: 5, rates: [250, 500, 1000, 2000, 4000, 8000], stepMs: 1500, size: 256, workers: 2 }
    }
  : {
      mode: 'full',
      repetitions: 3,
      generators: 4,
      ramp: { subscribers: 1000, size: 256, stepMs: 2000, rates: [50, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000], extraSteps: 0 },
      idle: { connections: 10000 },
      steady: { subscribers: 5000, rate: 20, durationMs: 10000, sampleEvery: 5 },
      crossNode: { subscribers: 1000, rate: 20, durationMs: 8000, rampRates: [100, 200, 300, 400, 600, 800, 1000, 1200], stepMs: 2000 },
      // 20,000 descriptors per process here: 10 x 15,000 on each side leaves room for an uneven
      // round robin (a worker refuses past maxPerWorker rather than running out of descriptors).
      oneMachine: { connections: 150_000, workers: 10, generators: 10, maxPerWorker: 19_000, concurrency: 64, connectTimeoutMs: 600_000, deliverTimeoutMs: 60_000, size: 256 },
      manyChannels: { connections: 20_000, channels: 10_000, perConnection: 5, rates: [500, 1000, 2000, 3000, 4000, 6000, 8000, 12_000, 16_000, 24_000, 32_000], stepMs: 2000, size: 256, workers: 2 }
    }
config.oneMachine.connections = numberArg('connections') ?? config.oneMachine.connections
config.oneMachine.workers = numberArg('workers') ?? config.oneMachine.workers
config.oneMachine.generators = numberArg('generators') ?? config.oneMachine.generators

function median (values: number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Peers in a different order each repetition, so no peer always runs first (or last) on a warm machine. */
function rotated<T> (items: T[], by: number): T[] {
  const shift = by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

const log = (...parts: unknown[]): void => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...parts)

async function withPeer<T> (peer: PeerSpec, fn: (server: Server) => Promise<T>): Promise<T> {
  const server = await Server.start(peer.script, peer.env)
  try {
    return await fn(server)
  } finally {
    await server.stop()
  }
}

// (a) fan-out ramp
async function rampRun (peer: PeerSpec, generators: Generators): Promise<RampResult> {
  const { subscribers } = config.ramp
  return await withPeer(peer, async (server) => {
    const connected = await generators.connect(peer, server.port, subscribers, 10)
    if (connected.ok !== subscribers) throw new Error(`${peer.label}: only ${connected.ok}/${subscribers} subscribed (${connected.firstError})`)
    await publishStep(server, generators, 50, 500, config.ramp.size, subscribers)
    const result = await ramp(server, generators, peer.label, log, config.ramp)
    await generators.disconnect()
    return result
  })
}

// (b) idle connections
export interface IdleRun { connections: number, failed: number, setupPerSec: number, rssPerConnKB: number, heapPerConnKB: number }
async function idleRun (peer: PeerSpec, generators: Generators): Promise<IdleRun> {
  const total = config.idle.connections
  return await withPeer(peer, async (server) => {
    const before = await server.request<{ rss: number, heapUsed: number }>({ cmd: 'memory' }, 'memory')
    const connected = await generators.connect(peer, server.port, total, 1_000_000)
    await sleep(500)
    const after = await server.request<{ rss: number, heapUsed: number, connections: number }>({ cmd: 'memory' }, 'memory')
    await generators.disconnect()
    const run = {
      connections: connected.ok,
      failed: connected.failed,
      setupPerSec: connected.ok / (connected.ms / 1000),
      rssPerConnKB: (after.rss - before.rss) / connected.ok / 1024,
      heapPerConnKB: (after.heapUsed - before.heapUsed) / connected.ok / 1024
    }
    log(`  ${peer.label}: ${run.connections} idle (${run.failed} failed), ${Math.round(run.setupPerSec)} conn/s, ${fmt(run.rssPerConnKB, 2)} KB RSS/conn, ${fmt(run.heapPerConnKB, 2)} KB heap/conn`)
    return run
  })
}

// (c) steady latency
export interface SteadyRun { p50: number, p99: number, delivery: number, generatorCpuPct: number }
async function steadyRun (peer: PeerSpec, generators: Generators): Promise<SteadyRun> {
  const { subscribers, rate, durationMs, sampleEvery } = config.steady
  return await withPeer(peer, async (server) => {
    const connected = await generators.connect(peer, server.port, subscribers, sampleEvery)
    if (connected.ok !== subscribers) throw new Error(`${peer.label}: only ${connected.ok}/${subscribers} subscribed (${connected.firstError})`)
    await publishStep(server, generators, rate, 1000, config.ramp.size, subscribers)
    const step = await publishStep(server, generators, rate, durationMs, config.ramp.size, subscribers)
    await generators.disconnect()
    log(`  ${peer.label}: p50 ${fmt(step.p50)} ms p99 ${fmt(step.p99)} ms delivery ${fmt(step.delivery * 100, 2)}% generators ${fmt(step.generatorCpuPct, 0)}% cpu`)
    return { p50: step.p50, p99: step.p99, delivery: step.delivery, generatorCpuPct: step.generatorCpuPct }
  })
}

async function main (): Promise<void> {
  const started = now()
  log(`fastify-realtime benchmark, ${config.mode} mode, peers: ${peers.map((peer) => peer.label).join(', ')}`)
  for (const peer of missingPeers) log(`  skipped ${peer.label}: not installed (${peer.needs?.install ?? ''})`)
  const generators = new Generators(config.generators)
  await generators.ready()
  const results: Record<string, unknown> = {
    mode: config.mode,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` },
    config
  }
  const runs: Record<string, Record<PeerId, unknown[]>> = {}
  const record = (scenario: string, peer: PeerId, run: unknown): void => {
    runs[scenario] ??= { plugin: [], 'plugin-schema': [], ws: [], socketio: [], uws: [] }
    ;(runs[scenario][peer] ??= []).push(run)
  }
  const wanted = (scenario: string): boolean => only === undefined || only.includes(scenario)

  try {
    for (let rep = 0; rep < config.repetitions; rep++) {
      if (wanted('a')) {
        log(`(a) fan-out ramp, ${config.ramp.subscribers} subscribers, ${config.ramp.size} B, repetition ${rep + 1}/${config.repetitions}`)
        for (const peer of rotated(peers, rep)) record('a', peer.id, await rampRun(peer, generators))
      }
      if (wanted('b')) {
        log(`(b) ${config.idle.connections} idle subscribed connections, repetition ${rep + 1}/${config.repetitions}`)
        for (const peer of rotated(peers, rep + 1)) record('b', peer.id, await idleRun(peer, generators))
      }
      if (wanted('c')) {
        log(`(c) ${config.steady.subscribers} subscribers at ${config.steady.rate} publishes/s, repetition ${rep + 1}/${config.repetitions}`)
        for (const peer of rotated(peers, rep + 2)) record('c', peer.id, await steadyRun(peer, generators))
      }
      if (wanted('d')) {
        log(`(d) cross-node through Redis, repetition ${rep + 1}/${config.repetitions}`)
        const crossNode: CrossNode | string = await startCrossNode()
        if (typeof crossNode === 'string') {
          log(`  skipped: ${crossNode}`)
          results.crossNodeSkipped = crossNode
        } else {
          try {
            record('d', 'plugin', await crossNode.run(generators, config.crossNode, log))
          } finally {
            await crossNode.stop()
          }
        }
      }
    }
    // (e) and (f) run once, also in full mode: each takes minutes and most of the machine.
    if (wanted('e')) {
      const { connections, workers, generators: count } = config.oneMachine
      log(`(e) ${connections.toLocaleString('en-US')} subscribed connections on one machine: ${workers} cluster workers, ${count} load generators`)
      results.oneMachine = await runOneMachine(config.oneMachine, log)
    }
    if (wanted('f')) {
      const { connections, channels, perConnection } = config.manyChannels
      log(`(f) many channels: ${connections.toLocaleString('en-US')} connections x ${perConnection} of ${channels.toLocaleString('en-US')} channels, publishes to random channels at a rising rate`)
      const manyChannels: Record<string, ManyChannelsRun> = {}
      const systemFilter = args.find((arg) => arg.startsWith('--systems='))?.slice(10).split(',')
      const chosen = SYSTEMS.filter((candidate) => (peerFilter === undefined || peerFilter.includes(candidate.peer)) && (systemFilter === undefined || systemFilter.includes(candidate.id)))
      for (const system of chosen) {
        manyChannels[system.id] = await runManyChannels(system, generators, config.manyChannels, log)
      }
      results.manyChannels = manyChannels
    }
  } finally {
    await generators.exit()
  }

  const summary: Record<string, Record<string, Record<string, number>>> = {}
  for (const [scenario, byPeer] of Object.entries(runs)) {
    summary[scenario] = {}
    for (const [peer, list] of Object.entries(byPeer)) {
      if (list.length === 0) continue
      const keys = Object.keys(list[0] as object).filter((key) => typeof (list[0] as Record<string, unknown>)[key] === 'number')
      summary[scenario][peer] = Object.fromEntries(keys.map((key) => [key, median(list.map((run) => (run as Record<string, number>)[key]!))]))
    }
  }
  results.summary = summary
  results.runs = runs
  results.durationSec = Math.round((now() - started) / 1000)

  const markdown = renderMarkdown(results as unknown as Parameters<typeof renderMarkdown>[0], PEERS)
  await mkdir(here('./results/'), { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
  // A run of some scenarios only (`--only=e`) keeps its own files: it must not replace the
  // table of a complete run that the README quotes.
  const name = only === undefined ? config.mode : `${config.mode}-${only.join('')}`
  await writeFile(here(`./results/${name}-${stamp}.json`), JSON.stringify(results, null, 2) + '\n')
  await writeFile(here(`./results/${name}-latest.json`), JSON.stringify(results, null, 2) + '\n')
  await writeFile(here(`./results/${name}-latest.md`), markdown)
  console.log('\n' + markdown)
  log(`done in ${results.durationSec} s; results in benchmark/results/${name}-latest.{md,json}`)
}

// `--render=results/full-latest.json` rewrites the markdown of an earlier run without running it.
const render = args.find((arg) => arg.startsWith('--render='))?.slice(9)
if (render === undefined) await main()
else {
  const results = JSON.parse(await readFile(render, 'utf8'))
  const markdown = renderMarkdown(results, PEERS)
  await writeFile(render.replace(/\.json$/, '.md'), markdown)
  console.log(markdown)
}
