// Builds the example app: the realtime plugin, the HTTP API under /api and the chat page.
// `server.ts` runs it as one process; the tests build it in-process on free ports.
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyServerOptions } from 'fastify'
import fastifyStatic from '@fastify/static'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Registry, collectDefaultMetrics } from 'prom-client'
import realtime, { MAX_CHANNEL_LENGTH, type RealtimePluginOptions, type RedisBrokerOptions } from '../lib/index.js'
import { apiRoutes } from './api-routes.js'
import { contract } from './contract.js'

export const publicDir = fileURLToPath(new URL('./public/', import.meta.url))

export interface ExampleAppOptions {
  /** Shown by the page; defaults to a random id. */
  nodeId?: string
  /** Fan out through Redis (`{ url: 'redis://host:port' }`); without it the embedded broker serves one process. */
  redis?: RedisBrokerOptions
  /** Behind nginx: take the client address from X-Forwarded-For. */
  trustProxy?: FastifyServerOptions['trustProxy']
  logger?: FastifyServerOptions['logger']
  heartbeatInterval?: number
  heartbeatTimeout?: number
  /** Serve /build/ (the bundled page script) from this folder instead of public/build/. */
  pageBuildDir?: string
  /** More options for the realtime plugin (the tests use it to refuse client publishes, say). */
  realtime?: RealtimePluginOptions
  /** Keep chat rooms' history (default); off for a broker without it (MQTT, the cluster broker). */
  history?: boolean
  /** Track who is in a chat room (default); off for a broker without it (MQTT). */
  presence?: boolean
}

/** The contract without the rule settings a broker cannot serve (history, presence). */
function contractFor (options: ExampleAppOptions): typeof contract {
  if (options.history !== false && options.presence !== false) return contract
  const channels = contract.channels.map((rule) => {
    const { history, presence, ...rest } = rule as typeof rule & { history?: unknown, presence?: unknown }
    return { ...rest, ...(options.history !== false && history !== undefined && { history }), ...(options.presence !== false && presence !== undefined && { presence }) }
  })
  return { ...contract, channels } as unknown as typeof contract
}

export async function buildApp (options: ExampleAppOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? false,
    trustProxy: options.trustProxy ?? false,
    // The router answers 414 to params over 100 characters; channel names may have 200, more
    // when percent-encoded. The route's schema enforces the real limit with a 400.
    routerOptions: { maxParamLength: 4 * MAX_CHANNEL_LENGTH }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // One registry per app: the process' default metrics and the plugin's, served on /metrics.
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  await app.register(realtime, {
    ...options.realtime,
    path: '/ws',
    metrics: { registry },
    contract: contractFor(options),
    ...(options.nodeId !== undefined && { nodeId: options.nodeId }),
    ...(options.redis !== undefined && { redis: options.redis }),
    ...(options.heartbeatInterval !== undefined && { heartbeatInterval: options.heartbeatInterval }),
    ...(options.heartbeatTimeout !== undefined && { heartbeatTimeout: options.heartbeatTimeout })
  })
  app.realtime.handle('channel.count', contract.messages['channel.count'].request, (message) => {
    return { subscribers: app.realtime.subscriberCount(message.channel) }
  })
  await app.register(apiRoutes, { prefix: '/api' })
  app.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType)
    return await registry.metrics()
  })
  // For a load balancer's readiness check: a draining node gets no new clients.
  app.get('/ready', async (_request, reply) => {
    if (app.realtime.draining) return await reply.code(503).send({ ready: false })
    return { ready: true }
  })
  // The WebSocket API, described from what this server runs (channel rules, message types).
  app.get('/asyncapi.json', async function asyncapi () {
    return app.realtime.asyncapi({ title: 'fastify-realtime example chat', version: '1.0.0' })
  })
  // index.html, style.css and the bundled client under build/ (see build-page.ts).
  await app.register(fastifyStatic, { root: publicDir })
  if (options.pageBuildDir !== undefined) {
    // The more specific prefix wins over public/build/.
    await app.register(fastifyStatic, { root: options.pageBuildDir, prefix: '/build/', decorateReply: false })
  }
  return app
}

export type ExampleApp = Awaited<ReturnType<typeof buildApp>>
