// Runs Debian's redis-server on loopback, without persistence: the broker only needs pub/sub.
// The tests start theirs with this too (test/helpers/redis-server.ts).
import { startProcess, waitForOutput, type ManagedProcess, type ProcessOptions } from './child-process.js'

export interface RedisProcess extends ManagedProcess {
  url: string
}

/** Resolves once the server accepts connections. `extraArgs` are more `redis-server` flags. */
export async function startRedis (port: number, options: ProcessOptions = {}, extraArgs: readonly string[] = []): Promise<RedisProcess> {
  const proc = startProcess('redis-server', process.env.REDIS_SERVER_BIN ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice', ...extraArgs
  ], options)
  await waitForOutput(proc, 'Ready to accept connections')
  return { ...proc, url: `redis://127.0.0.1:${port}` }
}
