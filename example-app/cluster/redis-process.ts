// Runs Debian's redis-server on loopback, without persistence: the broker only needs pub/sub.
import type { SpawnOptions } from 'node:child_process'
import { startProcess, waitForOutput, type ManagedProcess } from './child-process.js'

export interface RedisProcess extends ManagedProcess {
  url: string
}

export async function startRedis (port: number, options: SpawnOptions = {}): Promise<RedisProcess> {
  const proc = startProcess('redis-server', process.env.REDIS_SERVER_BIN ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'
  ], options)
  await waitForOutput(proc, 'Ready to accept connections')
  return { ...proc, url: `redis://127.0.0.1:${port}` }
}
