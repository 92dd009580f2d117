// Scenario (d): two plugin nodes sharing a redis-server on loopback; subscribers on node B,
// publishes on node A. Compared with one node and the embedded broker, and with the same two
// nodes sharing a mosquitto (the MQTT engine), measured alike in the same run.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { startMosquitto } from '../example-app/cluster/mosquitto-process.js'
import { Generators, Server, here, publishStep, ramp } from './harness.js'
import { freePort } from './free-port.js'

export interface CrossNodeRun {
  singleP50: number
  singleP99: number
  crossP50: number
  crossP99: number
  addedP50Ms: number
  singleMaxRate: number
  crossMaxRate: number
  singlePeakPerSec: number
  crossPeakPerSec: number
  /** The same through mosquitto; NaN when mosquitto could not start. */
  mqttP50: number
  mqttP99: number
  mqttMaxRate: number
  mqttPeakPerSec: number
}

export interface CrossNodeConfig { subscribers: number, rate: number, durationMs: number, rampRates: number[], stepMs: number }

export interface CrossNode {
  run: (generators: Generators, config: CrossNodeConfig, log: (...parts: unknown[]) => void) => Promise<CrossNodeRun>
  stop: () => Promise<void>
}

const PLUGIN = { dialect: 'json' as const, path: '/ws' }
const SIZE = 256

export async function startRedis (): Promise<{ url: string, process: ChildProcess }> {
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start in 10 s')), 10_000)
    let output = ''
    redis.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        redis.stdout!.resume()
        resolve()
      }
    })
    redis.once('error', reject)
    redis.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)))
  })
  return { url: `redis://127.0.0.1:${port}`, process: redis }
}

/** Latency at a steady rate, then a throughput ramp, with subscribers on `subscribers` and publishes on `publisher`. */
async function measure (publisher: Server, subscribersOn: Server, generators: Generators, config: CrossNodeConfig, label: string, log: (...parts: unknown[]) => void) {
  const connected = await generators.connect(PLUGIN, subscribersOn.port, config.subscribers, 4)
  if (connected.ok !== config.subscribers) throw new Error(`${label}: only ${connected.ok}/${config.subscribers} subscribed (${connected.firstError})`)
  await publishStep(publisher, generators, config.rate, 1000, SIZE, config.subscribers)
  const steady = await publishStep(publisher, generators, config.rate, config.durationMs, SIZE, config.subscribers)
  log(`  ${label} @${config.rate}/s: p50 ${steady.p50.toFixed(2)} ms p99 ${steady.p99.toFixed(2)} ms delivery ${(steady.delivery * 100).toFixed(2)}%`)
  const ramped = await ramp(publisher, generators, label, log, { rates: config.rampRates, stepMs: config.stepMs, size: SIZE, subscribers: config.subscribers, extraSteps: 0 })
  await generators.disconnect()
  return { steady, ramped }
}

/** Starts redis-server, or says why scenario (d) cannot run on this tree. */
export async function startCrossNode (): Promise<CrossNode | string> {
  if (!existsSync(here('../lib/brokers/redis-broker.ts'))) return 'lib/brokers/redis-broker.ts (RedisBroker, issue 3) is not on this branch yet'
  let redis: { url: string, process: ChildProcess }
  try {
    redis = await startRedis()
  } catch (err) {
    return `redis-server could not start: ${(err as Error).message}`
  }
  const pluginScript = here('./servers/plugin.ts')
  return {
    async run (generators, config, log) {
      const single = await Server.start(pluginScript)
      let singleResult
      try {
        singleResult = await measure(single, single, generators, config, 'one node (embedded broker)', log)
      } finally {
        await single.stop()
      }
      const nodeA = await Server.start(pluginScript, { BENCH_REDIS_URL: redis.url })
      const nodeB = await Server.start(pluginScript, { BENCH_REDIS_URL: redis.url })
      let crossResult
      try {
        crossResult = await measure(nodeA, nodeB, generators, config, 'node A -> Redis -> node B', log)
      } finally {
        await Promise.all([nodeA.stop(), nodeB.stop()])
      }
      let mqttResult
      const mosquitto = await startMosquitto(await freePort()).catch((err: unknown) => {
        log(`  mosquitto skipped: ${(err as Error).message}`)
        return undefined
      })
      if (mosquitto !== undefined) {
        const mqttA = await Server.start(pluginScript, { BENCH_MQTT_URL: mosquitto.url })
        const mqttB = await Server.start(pluginScript, { BENCH_MQTT_URL: mosquitto.url })
        try {
          mqttResult = await measure(mqttA, mqttB, generators, config, 'node A -> mosquitto -> node B', log)
        } finally {
          await Promise.all([mqttA.stop(), mqttB.stop()])
          await mosquitto.stop()
        }
      }
      return {
        mqttP50: mqttResult?.steady.p50 ?? NaN,
        mqttP99: mqttResult?.steady.p99 ?? NaN,
        mqttMaxRate: mqttResult?.ramped.maxPassingRate ?? NaN,
        mqttPeakPerSec: mqttResult?.ramped.peakDeliveredPerSec ?? NaN,
        singleP50: singleResult.steady.p50,
        singleP99: singleResult.steady.p99,
        crossP50: crossResult.steady.p50,
        crossP99: crossResult.steady.p99,
        addedP50Ms: crossResult.steady.p50 - singleResult.steady.p50,
        singleMaxRate: singleResult.ramped.maxPassingRate,
        crossMaxRate: crossResult.ramped.maxPassingRate,
        singlePeakPerSec: singleResult.ramped.peakDeliveredPerSec,
        crossPeakPerSec: crossResult.ramped.peakDeliveredPerSec
      }
    },
    async stop () {
      const exited = once(redis.process, 'exit')
      redis.process.kill('SIGTERM')
      await exited
    }
  }
}
