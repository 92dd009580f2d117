// `npm run start:cluster`: redis-server, two nodes of the example app and nginx in front, all
// on loopback. Open http://127.0.0.1:8080 in two browsers; Ctrl-C stops everything.
// `npm run start:cluster -- --engine mqtt` runs mosquitto between the nodes instead of Redis.
// Ports can be moved with CLUSTER_PORT, NODE_PORTS (comma-separated) and REDIS_PORT (the
// engine's port, mosquitto's too);
// BUILD_PAGE=0 skips bundling the page (it is then served as last built); PAGE_BUILD_DIR
// bundles it into (and has the nodes serve it from) another folder.
//
// `kill -USR2 <pid>` (the pid is in the "cluster ready" line) restarts the nodes one at a time
// (cluster/rolling-restart.ts): each drains its clients over DRAIN_MS (2000 by default) to the
// other node through nginx, and is ready again before the next one stops.
// A node that exits by itself (a crash, `kill -9`) is reported and started again while the
// other node keeps serving (see cluster/supervisor.ts). Redis or nginx exiting stops the whole cluster:
// no node can serve without them. No child outlives this script, even one killed by SIGKILL:
// the nodes and the watchers of redis-server and nginx hold an IPC channel to it and stop
// when it closes.
import { fileURLToPath } from 'node:url'
import { buildPage } from './build-page.js'
import { startProcess, waitForPort, type ManagedProcess } from './cluster/child-process.js'
import { startNginx } from './cluster/nginx-process.js'
import { describeTakenPort, portOwner } from './cluster/port-owner.js'
import { startMosquitto } from './cluster/mosquitto-process.js'
import { startRedis } from './cluster/redis-process.js'
import { rollingRestart, type RollingNode } from './cluster/rolling-restart.js'
import { Supervisor } from './cluster/supervisor.js'

const env = process.env
const clusterPort = Number(env.CLUSTER_PORT ?? 8080)
const nodePorts = (env.NODE_PORTS ?? '3005,3006').split(',').map(Number)
const engine = process.argv.includes('--engine') ? process.argv[process.argv.indexOf('--engine') + 1] : 'redis'
if (engine !== 'redis' && engine !== 'mqtt') {
  console.error(`--engine must be redis or mqtt, not ${engine ?? '(nothing)'}`)
  process.exit(2)
}
const redisPort = Number(env.REDIS_PORT ?? (engine === 'mqtt' ? 1883 : 6379))
// A node stopped by SIGTERM (a rolling restart) moves its clients to the other node over this window.
const drainMs = env.DRAIN_MS ?? '2000'
const serverFile = fileURLToPath(new URL('./server.ts', import.meta.url))

function log (line: string): void {
  process.stdout.write(`[cluster] ${line}\n`)
}

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
// stops them in reverse order: nodes first (SIGINT: no drain, there is no node to move to;
// their clients get 1001 through nginx), then nginx, then Redis, which the nodes' brokers use
// until they close.
const running: Array<{ stop: () => Promise<void> }> = []
let stopping: Promise<never> | undefined

function stopAll (exitCode: number): Promise<never> {
  stopping ??= (async () => {
    for (const part of running.reverse()) await part.stop().catch(() => {})
    process.exit(exitCode)
  })()
  return stopping
}

/** The engine (Redis or mosquitto) and nginx: the cluster cannot serve without them, so their exit stops everything. */
async function startEssential (proc: Promise<ManagedProcess>): Promise<ManagedProcess> {
  const started = await proc
  running.push(started)
  prefixOutput(started)
  started.exited.then(({ code, signal }) => {
    if (stopping !== undefined) return
    log(`${started.name} exited unexpectedly (${code ?? signal}); stopping the cluster`)
    stopAll(1).catch(() => process.exit(1))
  }, () => {})
  return started
}

async function startNode (name: string, port: number, engineUrl: string): Promise<ManagedProcess> {
  const node = startProcess(name, process.execPath, ['--import', 'tsx', serverFile], {
    detached: true,
    // The IPC channel: server.ts exits when it closes (this script gone).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...env, PORT: String(port), NODE_ID: name, [engine === 'mqtt' ? 'MQTT_URL' : 'REDIS_URL']: engineUrl, TRUST_PROXY: '127.0.0.1', BUILD_PAGE: '0', DRAIN_MS: drainMs }
  })
  try {
    await waitForPort(node, port)
  } catch (err) {
    await node.stop('SIGKILL')
    throw err
  }
  return node
}

/** Refuses to start over a port something else holds, naming it. */
async function checkPortsFree (ports: readonly number[]): Promise<void> {
  const taken: string[] = []
  for (const port of ports) {
    if (await portOwner(port) !== undefined) taken.push(await describeTakenPort(port))
  }
  if (taken.length > 0) {
    throw new Error(`cannot start: ${taken.join('; ')}. Stop it, or move the cluster with CLUSTER_PORT, NODE_PORTS and REDIS_PORT.`)
  }
}

process.once('SIGINT', () => { stopAll(0).catch(() => process.exit(1)) })
process.once('SIGTERM', () => { stopAll(0).catch(() => process.exit(1)) })

const nodes: RollingNode[] = []
let rolling = false
process.on('SIGUSR2', () => {
  if (stopping !== undefined) return
  if (rolling || nodes.length < nodePorts.length) {
    log(rolling ? 'a rolling restart is under way already' : 'the cluster is still starting; no rolling restart')
    return
  }
  rolling = true
  rollingRestart(nodes, log).catch((err: unknown) => {
    if (stopping === undefined) log(`rolling restart stopped: ${(err as Error).message}; the other nodes keep serving`)
  }).finally(() => { rolling = false })
})

try {
  await checkPortsFree([clusterPort, ...nodePorts, redisPort])
  // The nodes inherit PAGE_BUILD_DIR and serve the bundle from there.
  if (env.BUILD_PAGE !== '0') await buildPage(env.PAGE_BUILD_DIR)
  const broker = engine === 'mqtt'
    ? await startMosquitto(redisPort, { detached: true, watchParent: true })
    : await startRedis(redisPort, { detached: true, watchParent: true })
  await startEssential(Promise.resolve(broker))
  // nginx before the nodes, so that stopping in reverse takes the nodes down first.
  await startEssential(startNginx({ listenPort: clusterPort, nodePorts }, { detached: true, watchParent: true }))
  for (const [index, port] of nodePorts.entries()) {
    const name = `node-${index + 1}`
    const supervisor = new Supervisor({ name, log, start: () => startNode(name, port, broker.url), onStart: prefixOutput })
    running.push({ stop: () => supervisor.stop('SIGINT') })
    await supervisor.start()
    nodes.push({ supervisor, readyUrl: `http://127.0.0.1:${port}/ready` })
  }
  log(`cluster ready: http://127.0.0.1:${clusterPort} (nginx) -> nodes ${nodePorts.join(', ')}, ${engine} ${broker.url}; Ctrl-C stops it, kill -USR2 ${process.pid} restarts the nodes one at a time`)
} catch (err) {
  log((err as Error).message)
  await stopAll(1)
}
