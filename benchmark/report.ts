// Renders the benchmark's JSON summary as the markdown table docs/performance.md quotes.
type Summary = Record<string, Record<string, Record<string, number>>>

interface Results {
  mode: string
  date: string
  machine: { cpus: number, model?: string, memoryGB: number, node: string, platform: string }
  config: { repetitions: number, ramp: { subscribers: number, size: number }, idle: { connections: number }, steady: { subscribers: number, rate: number } }
  summary: Summary
  crossNodeSkipped?: string
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
  return lines.join('\n') + '\n'
}
