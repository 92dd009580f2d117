// fastify-realtime on every core: a node:cluster primary that forks BENCH_WORKERS workers
// running plugin.ts with the ClusterBroker on one port, relays frames between them
// (startClusterRelay, as a user's primary would), and passes the orchestrator's commands on.
// Memory and CPU are summed over the workers (the primary's own reported beside them),
// publishing at a rate is split over the workers, a one-off send goes to the first worker.
import cluster, { type Worker } from 'node:cluster'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { startClusterRelay } from '../../lib/index.js'
import type { PeerCommand } from './peer-control.js'
import { freePort } from '../free-port.js'

interface Reply { ev: string, [key: string]: unknown }

const count = Number(process.env.BENCH_WORKERS ?? 2)
if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_WORKERS must be a positive integer, not ${process.env.BENCH_WORKERS ?? ''}`)

const port = await freePort()
cluster.setupPrimary({ exec: fileURLToPath(new URL('./plugin.ts', import.meta.url)) })
startClusterRelay(cluster)
let stopping = false
const workers: Worker[] = Array.from({ length: count }, () => cluster.fork({ BENCH_CLUSTER: '1', BENCH_PORT: String(port) }))
for (const worker of workers) {
  worker.on('message', (message: Reply) => {
    // The cluster broker's own messages are tagged `rt` and are the relay's business.
    if (message.ev === 'error') process.send?.(message)
  })
}
cluster.on('exit', (worker, code, signal) => {
  if (stopping) return
  process.send?.({ ev: 'error', message: `cluster worker ${worker.id} exited (${code ?? signal})` })
  stop()
})

/** The next message `{ ev }` of every worker in `from`, after `send` has run. */
async function gather (from: Worker[], ev: string, send: (worker: Worker, index: number) => void): Promise<Reply[]> {
  const replies = Promise.all(from.map((worker) => new Promise<Reply>((resolve) => {
    const onMessage = (message: Reply): void => {
      if (message.ev !== ev) return
      worker.off('message', onMessage)
      resolve(message)
    }
    worker.on('message', onMessage)
  })))
  from.forEach(send)
  return await replies
}

const sum = (replies: Reply[], key: string): number => replies.reduce((total, reply) => total + Number(reply[key] ?? 0), 0)

function stop (): void {
  if (stopping) return
  stopping = true
  for (const worker of workers) worker.process.kill('SIGTERM')
  const timer = setTimeout(() => {
    for (const worker of workers) worker.process.kill('SIGKILL')
  }, 5000)
  Promise.all(workers.map((worker) => worker.isDead() ? undefined : once(worker, 'exit'))).finally(() => {
    clearTimeout(timer)
    process.exit(0)
  })
}

async function handle (command: PeerCommand): Promise<Reply | undefined> {
  switch (command.cmd) {
    case 'memory': {
      const replies = await gather(workers, 'memory', (worker) => worker.send(command))
      const own = process.memoryUsage()
      return {
        ev: 'memory',
        rss: sum(replies, 'rss'),
        heapUsed: sum(replies, 'heapUsed'),
        connections: sum(replies, 'connections'),
        heartbeatTerminations: sum(replies, 'heartbeatTerminations'),
        perWorker: replies.map((reply) => ({ rss: reply.rss, connections: reply.connections })),
        primaryRss: own.rss
      }
    }
    case 'cpu': {
      const replies = await gather(workers, 'cpu', (worker) => worker.send(command))
      const own = process.cpuUsage()
      return {
        ev: 'cpu',
        ms: sum(replies, 'ms') + (own.user + own.system) / 1000,
        userMs: sum(replies, 'userMs') + own.user / 1000,
        systemMs: sum(replies, 'systemMs') + own.system / 1000
      }
    }
    case 'publish':
    case 'spread': {
      const replies = await gather(workers, 'published', (worker, index) => worker.send(
        command.cmd === 'spread' ? { ...command, rate: command.rate / count, seed: command.seed * 1000 + index } : { ...command, rate: command.rate / count }
      ))
      return { ev: 'published', count: sum(replies, 'count'), cpuMs: sum(replies, 'cpuMs'), maxLagMs: Math.max(...replies.map((reply) => Number(reply.maxLagMs))) }
    }
    case 'once':
      return (await gather(workers.slice(0, 1), 'sent', (worker) => worker.send(command)))[0]
    case 'stop':
      stop()
      return undefined
  }
}

process.on('message', (command: PeerCommand) => {
  handle(command).then((reply) => { if (reply !== undefined) process.send?.(reply) }, (err: unknown) => {
    process.send?.({ ev: 'error', message: String(err) })
  })
})
// The orchestrator going away must not leave workers behind.
process.on('disconnect', stop)

await gather(workers, 'listening', () => {})
process.send?.({ ev: 'listening', port, name: `fastify-realtime, ${count} cluster workers` })
