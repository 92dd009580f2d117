// Starts real `redis-server` processes for tests: loopback only, no persistence, each in
// its own temp dir, stopped at teardown. A server can be killed and started again on the
// same port (outage tests); three of them can form a Redis Cluster.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

const run = promisify(execFile)

export interface RedisServer {
  port: number
  url: string
  /** A plain client for inspecting the server (PUBSUB, CLIENT LIST); closed at teardown. */
  admin: Redis
  /** Kills the server (SIGKILL: clients see the connection drop, as in a crash). */
  kill: () => Promise<void>
  /** Starts it again on the same port. */
  restart: () => Promise<void>
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A free loopback port; with `bus`, port + 10000 is free too (Redis Cluster's bus port). */
export async function freePort (bus = false): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000)
    if (await isFree(port) && (!bus || await isFree(port + 10000))) return port
  }
  throw new Error('no free port found')
}

function spawnRedis (port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--loglevel', 'notice', ...extra
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let output = ''
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.resume()
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)))
  })
}

async function stopChild (child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill(signal)
  await exited
}

export async function startRedis (t: Test, options: { port?: number, extra?: string[] } = {}): Promise<RedisServer> {
  const port = options.port ?? await freePort(options.extra?.includes('--cluster-enabled') === true)
  const dir = await mkdtemp(join(tmpdir(), 'fastify-realtime-redis-'))
  let child: ChildProcess | undefined = await spawnRedis(port, dir, options.extra ?? [])
  // The admin client retries quietly while the server is down in outage tests.
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: null })
  admin.on('error', () => {})
  await admin.connect()
  t.teardown(async () => {
    admin.disconnect()
    await stopChild(child, 'SIGTERM')
    await rm(dir, { recursive: true, force: true })
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    admin,
    kill: async () => {
      await stopChild(child, 'SIGKILL')
      child = undefined
    },
    restart: async () => {
      await stopChild(child, 'SIGKILL')
      child = await spawnRedis(port, dir, options.extra ?? [])
    }
  }
}

export interface RedisClusterServers {
  masters: RedisServer[]
  /** Startup node URL of the cluster. */
  url: string
}

/** Three masters, no replicas, all 16384 slots assigned, state ok on every node. */
export async function startRedisCluster (t: Test): Promise<RedisClusterServers> {
  const masters: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    masters.push(await startRedis(t, { extra: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }))
  }
  await run('redis-cli', ['--cluster', 'create', ...masters.map((m) => `127.0.0.1:${m.port}`), '--cluster-replicas', '0', '--cluster-yes'])
  // The nodes learn about each other through the cluster bus; no event to await from here.
  const deadline = Date.now() + 20_000
  for (const master of masters) {
    for (;;) {
      const info = await master.admin.call('CLUSTER', 'INFO') as string
      if (info.includes('cluster_state:ok')) break
      if (Date.now() > deadline) throw new Error(`cluster did not converge: ${info}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { masters, url: masters[0]!.url }
}

/** Polls `check` until it is true; for conditions Redis offers no event for. */
export async function eventually (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
