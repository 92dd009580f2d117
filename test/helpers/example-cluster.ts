// Starts the example app's parts for a test, each torn down with t.teardown: nodes built
// in-process on free ports, nginx and redis-server as real child processes.
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { buildApp, type ExampleApp, type ExampleAppOptions } from '../../example-app/app.js'
import { startNginx, type NginxProcess } from '../../example-app/cluster/nginx-process.js'
import { startRedis, type RedisProcess } from '../../example-app/cluster/redis-process.js'
import type { NginxConfigOptions } from '../../example-app/cluster/render-nginx-config.js'
import { freePort } from './redis-server.js'

export { freePort }

/** Screenshots a person looks at after a run; gitignored. */
export const artifactsDir = fileURLToPath(new URL('../artifacts/', import.meta.url))

export interface StartedNode {
  app: ExampleApp
  port: number
  url: string
}

export async function startNode (t: Test, options: ExampleAppOptions = {}): Promise<StartedNode> {
  const app = await buildApp(options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port, url: `http://127.0.0.1:${address.port}` }
}

export async function startNginxFor (t: Test, options: Omit<NginxConfigOptions, 'listenPort'>): Promise<NginxProcess> {
  const nginx = await startNginx({ ...options, listenPort: await freePort() })
  t.teardown(() => nginx.stop())
  return nginx
}

export async function startRedisFor (t: Test): Promise<RedisProcess> {
  const redis = await startRedis(await freePort())
  t.teardown(() => redis.stop())
  return redis
}
