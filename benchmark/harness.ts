// Shared by the scenarios: child processes (peers and load generators) driven over IPC, and
// one publishing step measured end to end.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { now } from './clock.js'
import { Histogram } from './histogram.js'
import type { ChannelPlan, ConnectCommand, Dialect, GeneratorCommand, GeneratorProbe, GeneratorStats } from './load-generator.js'
import type { PeerCommand } from './servers/peer-control.js'

export const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

export const CHANNEL = 'bench'
const PASS_DELIVERY = 0.99
const PASS_P99_MS = 100
const SATURATED_P50_MS = 100
const CONNECTIONS_PER_GENERATOR = 2500

/** A child process answering one command at a time with a message `{ ev }`. */
class Child {
  readonly process: ChildProcess
  constructor (script: string, env: Record<string, string> = {}, flags: string[] = []) {
    this.process = fork(script, [], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...flags],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
  }

  async next<T> (ev: string, timeoutMs: number): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const onMessage = (message: { ev: string }): void => {
        if (message.ev === 'error') console.error('child error:', message)
        if (message.ev !== ev) return
        cleanup()
        resolve(message as T)
      }
      const onExit = (code: number | null): void => {
        cleanup()
        reject(new Error(`child exited (${code}) while waiting for ${ev}`))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out waiting for ${ev}`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.process.off('message', onMessage)
        this.process.off('exit', onExit)
      }
      this.process.on('message', onMessage)
      this.process.once('exit', onExit)
    })
  }

  async request<T> (command: GeneratorCommand | PeerCommand, ev: string, timeoutMs = 60_000): Promise<T> {
    const reply = this.next<T>(ev, timeoutMs)
    this.process.send(command)
    return await reply
  }

  async stop (): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    const exited = once(this.process, 'exit')
    this.process.send({ cmd: 'stop' })
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
}

export class Server extends Child {
  port = 0
  static async start (script: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Server> {
    // BENCH_SERVER_FLAGS: Node flags for the servers only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const server = new Server(script, env, process.env.BENCH_SERVER_FLAGS?.split(' ').filter((flag) => flag !== '') ?? [])
    const listening = await server.next<{ port: number }>('listening', timeoutMs)
    server.port = listening.port
    return server
  }
}

export interface StepResult {
  rate: number
  published: number
  received: number
  expected: number
  delivery: number
  p50: number
  p99: number
  deliveredPerSec: number
  generatorCpuPct: number
  serverCpuPct: number
  /** Server CPU time per delivered message, publish to drain: robust to a busy machine. */
  serverCpuUsPerDelivery: number
  pass: boolean
}

export class Generators {
  readonly children: Child[]
  constructor (count: number) {
    this.children = Array.from({ length: count }, () => new Child(here('./load-generator.ts')))
  }

  async ready (timeoutMs = 30_000): Promise<void> {
    await Promise.all(this.children.map((child) => child.next('ready', timeoutMs)))
  }

  /**
   * Opens `total` subscribed connections, spread over the generators and over loopback source
   * addresses. `options.channelPlan` subscribes each to several channels instead of CHANNEL
   * (connection numbers start at its `firstIndex`, counted over all generators).
   */
  async connect (
    peer: { dialect: Dialect, path: string }, port: number, total: number, sampleEvery: number,
    options: { timeoutMs?: number, concurrency?: number, channelPlan?: ChannelPlan } = {}
  ): Promise<{ ok: number, failed: number, ms: number, firstError?: string }> {
    const timeoutMs = options.timeoutMs ?? 120_000
    // A few thousand connections per generator, at least two generators: no more processes
    // than needed competing with the server for the cores.
    const used = this.children.slice(0, Math.min(this.children.length, Math.max(2, Math.ceil(total / CONNECTIONS_PER_GENERATOR))))
    const per = Math.ceil(total / used.length)
    const results = await Promise.all(used.map((child, g) => {
      const count = Math.max(0, Math.min(per, total - g * per))
      const command: ConnectCommand = {
        cmd: 'connect',
        port,
        path: peer.path,
        dialect: peer.dialect,
        channel: CHANNEL,
        ...(options.channelPlan === undefined ? {} : { channelPlan: { ...options.channelPlan, firstIndex: options.channelPlan.firstIndex + g * per } }),
        count,
        // Two source addresses per generator: 127.0.0.2, 127.0.0.3, ... so ephemeral ports never run out.
        localAddresses: [`127.0.0.${2 + g * 2}`, `127.0.0.${3 + g * 2}`],
        concurrency: options.concurrency ?? 64,
        sampleEvery,
        timeoutMs
      }
      return child.request<{ ok: number, failed: number, ms: number, firstError?: string }>(command, 'connected', timeoutMs + 10_000)
    }))
    const firstError = results.find((result) => result.firstError !== undefined)?.firstError
    return {
      ok: results.reduce((sum, result) => sum + result.ok, 0),
      failed: results.reduce((sum, result) => sum + result.failed, 0),
      ms: Math.max(...results.map((result) => result.ms)),
      ...(firstError === undefined ? {} : { firstError })
    }
  }

  async reset (): Promise<void> {
    await Promise.all(this.children.map((child) => child.request({ cmd: 'reset' }, 'reset')))
  }

  async stats (): Promise<{ received: number, histogram: Histogram, cpuPct: number, cpuMs: number, open: number, closeCauses: Record<string, number> }> {
    const all = await Promise.all(this.children.map((child) => child.request<GeneratorStats>({ cmd: 'stats' }, 'stats')))
    const histogram = new Histogram()
    const closeCauses: Record<string, number> = {}
    let cpuPct = 0
    let cpuMs = 0
    for (const stats of all) {
      histogram.add(stats.histogram)
      cpuMs += stats.cpuUserMs + stats.cpuSystemMs
      cpuPct += 100 * (stats.cpuUserMs + stats.cpuSystemMs) / Math.max(1, stats.elapsedMs)
      for (const [cause, count] of Object.entries(stats.closeCauses)) closeCauses[cause] = (closeCauses[cause] ?? 0) + count
    }
    return { received: all.reduce((sum, s) => sum + s.received, 0), histogram, cpuPct, cpuMs, open: all.reduce((sum, s) => sum + s.open, 0), closeCauses }
  }

  /** Whether every connection received `expected` broadcasts and channel messages, summed over the generators. */
  async probe (expected: number): Promise<Omit<GeneratorProbe, 'ev'>> {
    const all = await Promise.all(this.children.map((child) => child.request<GeneratorProbe>({ cmd: 'probe', expected }, 'probe')))
    const total = { subscribed: 0, open: 0, gotBoth: 0, missingBroadcast: 0, missingMessage: 0, duplicated: 0 }
    for (const probe of all) for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += probe[key]
    return total
  }

  async disconnect (): Promise<void> {
    await Promise.all(this.children.map((child) => child.request({ cmd: 'disconnect' }, 'disconnected')))
  }

  async exit (): Promise<void> {
    for (const child of this.children) child.process.send({ cmd: 'exit' })
    await Promise.all(this.children.map((child) => child.process.exitCode === null ? once(child.process, 'exit') : undefined))
  }
}

/**
 * One publishing step: `publisher` publishes at `rate` for `durationMs`; the generators count
 * what reaches the `subscribers`. Waits (at most 2 s) until deliveries stop growing.
 */
export async function publishStep (publisher: Server, generators: Generators, rate: number, durationMs: number, size: number, subscribers: number): Promise<StepResult> {
  await generators.reset()
  const cpuBefore = await publisher.request<{ ms: number }>({ cmd: 'cpu' }, 'cpu')
  const started = now()
  const published = await publisher.request<{ count: number, cpuMs: number }>({ cmd: 'publish', channel: CHANNEL, rate, durationMs, size }, 'published', durationMs + 60_000)
  const publishedAt = now()
  const expected = published.count * subscribers
  let last = -1
  let lastChange = publishedAt
  let stats = await generators.stats()
  for (let polls = 0; polls < 40; polls++) {
    if (stats.received !== last) {
      last = stats.received
      lastChange = now()
    }
    if (stats.received >= expected || now() - lastChange > 300 || now() - publishedAt > 2000) break
    await sleep(50)
    stats = await generators.stats()
  }
  const cpuAfter = await publisher.request<{ ms: number }>({ cmd: 'cpu' }, 'cpu')
  const elapsedSec = (Math.max(lastChange, publishedAt) - started) / 1000
  const delivery = stats.received / expected
  const p50 = stats.histogram.percentile(0.5)
  const p99 = stats.histogram.percentile(0.99)
  return {
    rate,
    published: published.count,
    received: stats.received,
    expected,
    delivery,
    p50,
    p99,
    deliveredPerSec: stats.received / elapsedSec,
    generatorCpuPct: stats.cpuPct,
    serverCpuPct: 100 * published.cpuMs / Math.max(1, (publishedAt - started)),
    serverCpuUsPerDelivery: 1000 * (cpuAfter.ms - cpuBefore.ms) / Math.max(1, stats.received),
    pass: delivery >= PASS_DELIVERY && p99 <= PASS_P99_MS
  }
}

export const fmt = (value: number, digits = 1): string => Number.isFinite(value) ? value.toFixed(digits) : 'n/a'

function logStep (log: (...parts: unknown[]) => void, label: string, step: StepResult): void {
  log(`  ${label} @${step.rate}/s: delivery ${fmt(step.delivery * 100, 2)}% p50 ${fmt(step.p50)} ms p99 ${fmt(step.p99)} ms, ${Math.round(step.deliveredPerSec)} msg/s, generators ${fmt(step.generatorCpuPct, 0)}% cpu, server ${fmt(step.serverCpuPct, 0)}%, ${fmt(step.serverCpuUsPerDelivery, 2)} µs cpu/delivery`)
}

export interface RampResult { maxPassingRate: number, maxUnsaturatedRate: number, peakDeliveredPerSec: number, generatorCpuPctAtPeak: number, steps: StepResult[] }

/**
 * Rising publish rates until the server is saturated: under 99% delivered or p50 over 100 ms
 * (`extraSteps` more after that, to find the peak delivered rate past the knee). p99 alone does
 * not stop the ramp: on a shared machine a scheduling hiccup moves p99, not p50.
 */
export async function ramp (
  server: Server, generators: Generators, label: string, log: (...parts: unknown[]) => void,
  options: { rates: number[], stepMs: number, size: number, subscribers: number, extraSteps: number }
): Promise<RampResult> {
  const steps: StepResult[] = []
  let saturatedSteps = 0
  for (const rate of options.rates) {
    let step = await publishStep(server, generators, rate, options.stepMs, options.size, options.subscribers)
    logStep(log, label, step)
    // A failing step runs once more and fails only if it fails twice.
    if (!step.pass) {
      const retry = await publishStep(server, generators, rate, options.stepMs, options.size, options.subscribers)
      logStep(log, `${label} (retry)`, retry)
      if (retry.pass || retry.deliveredPerSec > step.deliveredPerSec) step = retry
    }
    steps.push(step)
    if (isSaturated(step) && ++saturatedSteps > options.extraSteps) break
  }
  const passing = steps.filter((step) => step.pass)
  const unsaturated = steps.filter((step) => !isSaturated(step))
  const peak = steps.reduce((best, step) => step.deliveredPerSec > best.deliveredPerSec ? step : best, steps[0]!)
  return {
    maxPassingRate: passing.length === 0 ? 0 : Math.max(...passing.map((step) => step.rate)),
    maxUnsaturatedRate: unsaturated.length === 0 ? 0 : Math.max(...unsaturated.map((step) => step.rate)),
    peakDeliveredPerSec: peak.deliveredPerSec,
    generatorCpuPctAtPeak: peak.generatorCpuPct,
    steps
  }
}

function isSaturated (step: StepResult): boolean {
  return step.delivery < PASS_DELIVERY || !(step.p50 <= SATURATED_P50_MS)
}
