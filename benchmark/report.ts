// Renders the benchmark's JSON summary as the markdown table docs/performance.md quotes.
import type { OneMachineRun } from './one-machine.js'
import type { ManyChannelsRun } from './many-channels.js'

type Summary = Record<string, Record<string, Record<string, number>>>

interface Results {
  mode: string
  date: string
  machine: { cpus: number, model?: string, memoryGB: number, node: string, platform: string }
  config: {
    repetitions: number
    oneMachine?: { workers: number, generators: number }
    manyChannels?: { connections: number, channels: number, perConnection: number, workers: number }
    ramp: { subscribers: number, size: number }
    idle: { connections: number }
    steady: { subscribers: number, rate: number }
  }
  summary: Summary
  crossNodeSkipped?: string
  oneMachine?: OneMachineRun
  manyChannels?: Record<string, ManyChannelsRun>
}

const num = (value: number | undefined, digits = 0): string =>
  value === undefined || !Number.isFinite(value) ? 'n/a' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

export function renderMarkdown (results: Results, peers: Array<{ id: string, label: string }>): string {
  const { summary, config, machine } = results
  const a = summary.a ?? {}
  const b = summary.b ?? {}
  const c = summary.c ?? {}
  const lines = [
    `Benchmark (${results.mode} mode, ${config.repetitions} repetition(s), medians), ${results.date}`,
    `Machine: ${machine.cpus} x ${machine.model ?? 'unknown CPU'}, ${machine.memoryGB} GB, ${machine.platform}, Node ${machine.node}`,
    '',
    '| peer | (a) max rate passing, pub/s | (a) max rate keeping up, pub/s | (a) peak deliveries/s | (a) load generator CPU at peak | (b) memory/conn KB (RSS) | (b) heap/conn KB | (b) setup conn/s | (c) p50 ms | (c) p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const peer of peers) {
    if (a[peer.id] === undefined && b[peer.id] === undefined && c[peer.id] === undefined) continue
    lines.push(`| ${peer.label} | ${num(a[peer.id]?.maxPassingRate)} | ${num(a[peer.id]?.maxUnsaturatedRate)} | ${num(a[peer.id]?.peakDeliveredPerSec)} | ${num(a[peer.id]?.generatorCpuPctAtPeak)}% | ${num(b[peer.id]?.rssPerConnKB, 1)} | ${num(b[peer.id]?.heapPerConnKB, 1)} | ${num(b[peer.id]?.setupPerSec)} | ${num(c[peer.id]?.p50, 1)} | ${num(c[peer.id]?.p99, 1)} |`)
  }
  lines.push('',
    `(a) ${config.ramp.subscribers} subscribers of one channel, ${config.ramp.size} B payload, rising publish rate; passing = at least 99% delivered and p99 at most 100 ms; keeping up = at least 99% delivered and p50 at most 100 ms (the ramp stops at the first rate that does not). ` +
    `(b) ${config.idle.connections} idle subscribed connections. (c) ${config.steady.subscribers} subscribers at ${config.steady.rate} publishes/s. ` +
    'Load generator CPU is the sum over its processes, in % of one core.')
  const d = summary.d?.plugin
  if (d !== undefined) {
    lines.push('',
      '| (d) cross-node through Redis | p50 ms | p99 ms | max rate passing, pub/s | peak deliveries/s |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| one node, embedded broker | ${num(d.singleP50, 2)} | ${num(d.singleP99, 2)} | ${num(d.singleMaxRate)} | ${num(d.singlePeakPerSec)} |`,
      `| publish on node A, subscribers on node B | ${num(d.crossP50, 2)} | ${num(d.crossP99, 2)} | ${num(d.crossMaxRate)} | ${num(d.crossPeakPerSec)} |`,
      `| the same through mosquitto (MQTT, QoS 0) | ${num(d.mqttP50, 2)} | ${num(d.mqttP99, 2)} | ${num(d.mqttMaxRate)} | ${num(d.mqttPeakPerSec)} |`,
      '', `Added p50 latency through Redis: ${num(d.addedP50Ms, 2)} ms; through mosquitto: ${num((d.mqttP50 ?? NaN) - (d.singleP50 ?? NaN), 2)} ms.`)
  } else if (results.crossNodeSkipped !== undefined) {
    lines.push('', `(d) cross-node through Redis: skipped, ${results.crossNodeSkipped}.`)
  }
  if (results.oneMachine !== undefined) lines.push('', ...renderOneMachine(results.oneMachine, results.config.oneMachine))
  if (results.manyChannels !== undefined) lines.push('', ...renderManyChannels(results.manyChannels, results.config.manyChannels))
  return lines.join('\n') + '\n'
}

function renderOneMachine (run: OneMachineRun, config?: { workers: number, generators: number }): string[] {
  const closeCauses = ({ closeCauses: causes, heartbeatTerminations }: OneMachineRun): string => {
    const seen = Object.entries(causes ?? {}).map(([cause, count]) => `${cause}: ${num(count)}`)
    return seen.length === 0 ? '' : ` (${seen.join(', ')}; dropped by the heartbeat: ${num(heartbeatTerminations)})`
  }
  const row = (label: string, arrival: OneMachineRun['broadcast']): string =>
    `| ${label} | ${num(arrival.received)} | ${num(arrival.p50, 1)} | ${num(arrival.p99, 1)} | ${num(arrival.max, 1)} |`
  return [
    `(e) ${num(run.held)} subscribed connections held on one machine by ${config?.workers ?? '?'} cluster workers behind one port (${num(run.minPerWorker)} to ${num(run.maxPerWorker)} each), opened by ${config?.generators ?? '?'} load generators: ${num(run.connections)} subscribed during setup, ${num(run.failed)} failed${run.firstError === undefined ? '' : ` (first: ${run.firstError})`}, ${num(run.connections - run.held)} closed before the measurement${closeCauses(run)}. ` +
    `Setup ${num(run.setupSec, 1)} s (${num(run.setupPerSec)} conn/s); RSS ${num(run.rssPerConnKB, 2)} KB per connection summed over the workers (${num(run.workerRssMB)} MB in all, primary ${num(run.primaryRssMB)} MB).`,
    '',
    '| (e) one message to every connection | arrivals | p50 ms | p99 ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    row('broadcast, first', run.broadcast),
    row('channel publish, first', run.publish),
    row('broadcast, second', run.broadcastWarm),
    row('channel publish, second', run.publishWarm),
    '',
    `Probe: ${num(run.gotBoth)} connections received both the broadcast and the channel message exactly twice; short of a broadcast ${num(run.missingBroadcast)}, short of a message ${num(run.missingMessage)}, duplicates ${num(run.duplicated)}.`
  ]
}

const MANY_CHANNEL_LABELS: Record<string, string> = {
  'plugin-redis': 'fastify-realtime, 2 nodes + Redis',
  'plugin-cluster': 'fastify-realtime, cluster broker',
  'socketio-redis': 'Socket.IO 4, 2 nodes + @socket.io/redis-adapter',
  'socketio-sharded': 'Socket.IO 4, 2 nodes + sharded redis-adapter'
}

function renderManyChannels (runs: Record<string, ManyChannelsRun>, config?: { connections: number, channels: number, perConnection: number, workers: number }): string[] {
  // Server CPU per delivery (the steadiest figure on a busy machine) at the highest rate every system passed.
  const common = Math.max(0, ...Object.values(runs)[0]?.steps.map((step) => step.rate)
    .filter((rate) => Object.values(runs).every((run) => run.steps.some((step) => step.rate === rate && step.pass))) ?? [])
  const lines = [
    `| (f) many channels | max rate passing, pub/s | max rate keeping up, pub/s | p50 ms | p99 ms | Redis commands per publish | of which PUBLISH/SPUBLISH | server CPU per delivery at ${num(common)}/s, µs: all (own code + kernel) | load generators' CPU per delivery, µs |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const [id, run] of Object.entries(runs)) {
    const step = run.steps.find((candidate) => candidate.rate === common)
    // Runs recorded before the user/kernel split have only the total.
    const split = step?.serverUserUsPerDelivery === undefined ? '' : ` (${num(step.serverUserUsPerDelivery, 1)} + ${num(step.serverSystemUsPerDelivery, 1)})`
    lines.push(`| ${MANY_CHANNEL_LABELS[id] ?? id} | ${num(run.maxPassingRate)} | ${num(run.maxKeepingUpRate)} | ${num(run.p50AtMaxPassing, 1)} | ${num(run.p99AtMaxPassing, 1)} | ${num(run.redisCommandsPerPublish, 2)} | ${num(run.redisPublishesPerPublish, 2)} | ${num(step?.serverCpuUsPerDelivery, 1)}${split} | ${num(step?.generatorCpuUsPerDelivery, 1)} |`)
  }
  if (config !== undefined) {
    lines.push('', `(f) ${num(config.connections)} connections, each subscribed to ${config.perConnection} of ${num(config.channels)} channels (${num(config.connections * config.perConnection / config.channels)} subscribers per channel), ` +
      `publishes to random channels split over the server processes (2 nodes, or ${config.workers} cluster workers). Passing = every message delivered to every subscriber and p99 at most 100 ms; ` +
      'latencies at the highest passing rate; Redis commands counted with INFO commandstats at that rate.')
  }
  return lines
}
