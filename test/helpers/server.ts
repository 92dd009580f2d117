// Starts a real Fastify server with the plugin on a free loopback port.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Test } from 'tap'
import type { ClientOptions } from 'ws'
import realtime, { type RealtimePluginOptions } from '../../lib/index.js'
import { TestClient } from './ws-client.js'

export interface StartedServer {
  app: FastifyInstance
  url: string
  /** Opens a client on the plugin's route and closes it at teardown. */
  connect: (options?: ClientOptions) => Promise<TestClient>
}

export interface StartOptions {
  plugin?: RealtimePluginOptions
  fastify?: FastifyServerOptions
  /** Runs after the plugin is registered and before listen: add routes, handlers. */
  setup?: (app: FastifyInstance) => void | Promise<void>
  /** Port to listen on; default 0 (a free one). Reuse a stopped server's port to test reconnects. */
  port?: number
}

export async function startServer (t: Test, options: StartOptions = {}): Promise<StartedServer> {
  const app = Fastify({ logger: false, ...options.fastify })
  await app.register(realtime, options.plugin ?? {})
  await options.setup?.(app)
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('server has no port')
  const path = options.plugin?.path ?? '/ws'
  const url = `ws://127.0.0.1:${address.port}${path}`
  return {
    app,
    url,
    connect: async (clientOptions) => {
      const client = await TestClient.connect(url, clientOptions)
      t.teardown(() => client.close())
      return client
    }
  }
}
