// `npm run start:cluster`: redis-server, two nodes of the example app and nginx in front, all
// on loopback. Open http://127.0.0.1:8080 in two browsers; Ctrl-C stops everything.
// Ports can be moved with CLUSTER_PORT, NODE_PORTS (comma-separated) and REDIS_PORT;
// BUILD_PAGE=0 skips bundling the page (it is then served as last built).
import { fileURLToPath } from 'node:url'
import { buildPage } from './build-page.js'
import { startProcess, waitForPort, type ManagedProcess } from './cluster/child-process.js'
import { startNginx } from './cluster/nginx-process.js'
import { startRedis } from './cluster/redis-process.js'

const env = process.env
const clusterPort = Number(env.CLUSTER_PORT ?? 8080)
const nodePorts = (env.NODE_PORTS ?? '3005,3006').split(',').map(Number)
const redisPort = Number(env.REDIS_PORT ?? 6379)
const serverFile = fileURLToPath(new URL('./server.ts', import.meta.url))

/** Passes a child's output through, each line marked with its name. */
function prefixOutput (proc: ManagedProcess): void {
  for (const stream of [proc.child.stdout, proc.child.stderr]) {
    let pending = ''
    stream?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) process.stdout.write(`[${proc.name}] ${line}\n`)
    })
  }
}

// Children are `detached` (own process group) so Ctrl-C reaches only this script, which then
// stops them in reverse order: nodes first (their clients get 1001 through nginx), then nginx,
// then Redis, which the nodes' brokers use until they close.
const running: ManagedProcess[] = []
let stopping: Promise<never> | undefined

function stopAll (exitCode: number): Promise<never> {
  stopping ??= (async () => {
    for (const proc of running.reverse()) await proc.stop().catch(() => {})
    process.exit(exitCode)
  })()
  return stopping
}

async function start (proc: Promise<ManagedProcess> | ManagedProcess): Promise<ManagedProcess> {
  const started = await proc
  running.push(started)
  prefixOutput(started)
  started.exited.then(({ code, signal }) => {
    if (stopping !== undefined) return
    console.error(`${started.name} exited unexpectedly (${code ?? signal}); stopping the cluster`)
    stopAll(1).catch(() => process.exit(1))
  }, () => {})
  return started
}

process.once('SIGINT', () => { stopAll(0).catch(() => process.exit(1)) })
process.once('SIGTERM', () => { stopAll(0).catch(() => process.exit(1)) })
// The children run in their own process groups (see `detached` below); should this script
// end any other way, they must not outlive it.
process.once('exit', () => {
  for (const proc of running) if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL')
})

try {
  if (env.BUILD_PAGE !== '0') await buildPage()
  const redis = await startRedis(redisPort, { detached: true })
  await start(redis)
  // nginx before the nodes, so that stopping in reverse takes the nodes down first.
  await start(startNginx({ listenPort: clusterPort, nodePorts }, { detached: true }))
  for (const [index, port] of nodePorts.entries()) {
    const node = startProcess(`node-${index + 1}`, process.execPath, ['--import', 'tsx', serverFile], {
      detached: true,
      env: {
        ...env,
        PORT: String(port),
        NODE_ID: `node-${index + 1}`,
        REDIS_URL: redis.url,
        TRUST_PROXY: '127.0.0.1',
        BUILD_PAGE: '0'
      }
    })
    await start(node)
    await waitForPort(node, port)
  }
  console.log(`cluster ready: http://127.0.0.1:${clusterPort} (nginx) -> nodes ${nodePorts.join(', ')}, redis ${redis.url}; Ctrl-C stops it`)
} catch (err) {
  console.error(err)
  await stopAll(1)
}
