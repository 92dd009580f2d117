// Several Fastify nodes of one app sharing one Redis, each with HTTP routes that publish
// and broadcast, as a real multi-node deployment would have.
import type { Test } from 'tap'
import type { RealtimePluginOptions } from '../../lib/index.js'
import { startServer, type StartedServer } from './server.js'

export interface Node extends StartedServer {
  nodeId: string
}

export async function startNodes (t: Test, count: number, redis: NonNullable<RealtimePluginOptions['redis']>): Promise<Node[]> {
  return await startNodesWith(t, count, { redis })
}

/** The same nodes over any broker option (`{ mqtt }`, `{ redis }`...); each node gets its own broker. */
export async function startNodesWith (t: Test, count: number, plugin: RealtimePluginOptions | (() => RealtimePluginOptions)): Promise<Node[]> {
  const nodes: Node[] = []
  for (let i = 0; i < count; i++) {
    const nodeId = `node-${String.fromCharCode(97 + i)}`
    const server = await startServer(t, {
      plugin: { nodeId, ...(typeof plugin === 'function' ? plugin() : plugin) },
      setup: (app) => {
        app.post<{ Params: { channel: string } }>('/publish/:channel', async (request) => {
          await app.publish(request.params.channel, request.body)
          return { ok: true }
        })
        app.post('/broadcast', async (request) => {
          await app.broadcast(request.body)
          return { ok: true }
        })
      }
    })
    nodes.push({ ...server, nodeId })
  }
  return nodes
}
