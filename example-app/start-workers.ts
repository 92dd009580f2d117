// `npm run start:workers`: the example app on every core of this machine, one port (3000, as
// `npm start`). The primary runs no app: it forks one worker per core (WORKERS to change it),
// relays frames between them (the cluster broker, nothing else to install), and forks a
// worker again when one dies. `--redis` (or REDIS_URL) makes the workers use Redis instead,
// as separate machines would. Ctrl-C stops them all: each worker closes its clients with 1001.
// Environment as server.ts: PORT, HOST, LOG_LEVEL, BUILD_PAGE, PAGE_BUILD_DIR, REDIS_URL.
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { ClusterBroker, startClusterRelay } from '../lib/index.js'
import { buildApp } from './app.js'
import { buildPage } from './build-page.js'

const env = process.env
const port = Number(env.PORT ?? 3000)
const host = env.HOST ?? '127.0.0.1'
const useRedis = process.argv.includes('--redis') || env.REDIS_URL !== undefined
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379'

if (cluster.isPrimary) await runPrimary()
else await runWorker()

async function runPrimary (): Promise<void> {
  const count = Number(env.WORKERS ?? availableParallelism())
  if (!Number.isInteger(count) || count < 1) throw new Error(`WORKERS must be a positive integer, not ${env.WORKERS ?? ''}`)
  if (env.BUILD_PAGE !== '0') await buildPage(env.PAGE_BUILD_DIR)
  if (!useRedis) startClusterRelay(cluster)
  let stopping = false
  // A worker that cannot start (a bad option, say) would be forked again forever: give up
  // after 5 exits within 30 s.
  const exits: number[] = []
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    const now = Date.now()
    exits.push(now)
    while (exits.length > 0 && now - (exits[0] ?? now) > 30_000) exits.shift()
    if (exits.length > 5) {
      console.error(`[primary] workers keep exiting (${exits.length} within 30 s); stopping`)
      stopping = true
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM')
      process.exitCode = 1
      return
    }
    console.log(`[primary] worker ${worker.id} (pid ${String(worker.process.pid)}) exited (${code ?? signal}); forking another`)
    cluster.fork()
  })
  for (let i = 0; i < count; i++) cluster.fork()
  let listening = 0
  cluster.on('listening', () => {
    if (++listening === count) console.log(`workers ready: ${count} on http://${host}:${port} (${useRedis ? `Redis ${redisUrl}` : 'cluster broker'}); Ctrl-C stops them`)
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
      cluster.once('exit', function waitForAll () {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
        else cluster.once('exit', waitForAll)
      })
    })
  }
}

async function runWorker (): Promise<void> {
  const app = await buildApp({
    logger: { level: env.LOG_LEVEL ?? 'info' },
    nodeId: `worker-${cluster.worker?.id ?? process.pid}`,
    // The cluster broker keeps no history: the chat rooms go without it there.
    ...(useRedis ? { redis: { url: redisUrl } } : { realtime: { broker: new ClusterBroker() }, history: false }),
    ...(env.PAGE_BUILD_DIR !== undefined && { pageBuildDir: env.PAGE_BUILD_DIR })
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  }
  // The primary gone (even by SIGKILL): this worker cannot be reached or relay any more.
  process.once('disconnect', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  await app.listen({ port, host })
}
