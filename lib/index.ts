// fastify-realtime: thin assembly of the parts. Options, decorators, the route, the hooks.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { resolveOptions, type RealtimePluginOptions } from './options.js'
import { Realtime } from './realtime.js'
import { HandshakeGuard } from './handshake.js'
import { createInjector } from './testing/inject-client.js'
import type { ChannelArgument, DataArgument, RegisteredContract } from './channels/contract-types.js'

const realtimePlugin: FastifyPluginAsync<RealtimePluginOptions> = async function realtimePlugin (fastify, options) {
  if (fastify.hasDecorator('realtime')) throw new Error('fastify-realtime has already been registered')
  if (fastify.hasDecorator('websocketServer')) {
    throw new Error('fastify-realtime registers @fastify/websocket itself (with its own limits and close handling); do not register it before')
  }
  const settings = resolveOptions(options)
  const realtime = new Realtime(settings, settings.broker, fastify.log)
  const handshake = new HandshakeGuard(settings, () => realtime.connectionCount)

  await fastify.register(websocket, {
    // permessage-deflate is off unless asked for: it costs CPU and memory per socket and is
    // a decompression-bomb surface (ws bounds inflated frames by maxPayload when it is on);
    // `maxPayload` replaces ws' 100 MiB default.
    options: { maxPayload: settings.maxPayload, perMessageDeflate: settings.perMessageDeflate },
    // Socket errors are almost always the peer's doing (bad UTF-8, oversized or malformed
    // frames): ws has already queued the right close code (1002, 1007, 1009) and ends the
    // socket itself once that frame is written, so log at info and leave the ending to ws
    // rather than destroying the socket with terminate() while the frame may still be queued.
    errorHandler: function onSocketError (error, _socket, request) {
      request.log.info({ err: error }, 'websocket error, connection closing')
    },
    // Replaces @fastify/websocket's default, which closes sockets without a code.
    preClose: function closeSockets (this: FastifyInstance, done: (err?: Error) => void) {
      handshake.close()
      realtime.closeConnections().then(() => this.websocketServer.close(() => done()), done)
    }
  })

  realtime.inject = createInjector(fastify, settings.path)
  fastify.decorate('realtime', realtime)
  fastify.decorate('publish', function publish (channel: string, data: unknown) {
    return realtime.publish(channel, data)
  })
  fastify.decorate('broadcast', function broadcast (data: unknown) {
    return realtime.broadcast(data)
  })

  // Authentication, origin and connection limits run before the upgrade (see handshake.ts).
  fastify.get(settings.path, { websocket: true, onRequest: handshake.onRequest }, function realtimeRoute (socket, request) {
    realtime.accept(socket, request, handshake.userOf(request))
  })
  fastify.addHook('onReady', async function warnAboutOptions () {
    handshake.warnings(fastify.log, fastify.hasRequestDecorator('cookies'))
    realtime.warnAboutContract()
  })

  await realtime.start()
  fastify.addHook('onClose', async function stopRealtime () {
    await realtime.stop()
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Channels, connections and statistics of fastify-realtime; `handle()` adds message types. */
    realtime: Realtime
    /**
     * Delivers `data` to every subscriber of `channel`, on every node. With a registered
     * contract (see `Register`), `channel` must match a rule and `data` its schema's type;
     * at run time `data` is validated against the schema (`invalid_message`).
     */
    publish<const Argument = unknown>(channel: ChannelArgument<RegisteredContract, Argument>, data: DataArgument<RegisteredContract, Argument>): Promise<void>
    /** Delivers `data` to every connection, on every node. */
    broadcast(data: unknown): Promise<void>
  }
}

const fastifyRealtime = fp(realtimePlugin, { fastify: '5.x', name: 'fastify-realtime' })

export default fastifyRealtime
export { fastifyRealtime }
export type { RealtimePluginOptions } from './options.js'
export type { ChannelRuleOptions, ChannelRule } from './channels/channel-rules.js'
export { defineContract } from './channels/contract.js'
export type {
  RealtimeContract, MessageContract, Register, RegisteredContract, ChannelName, ChannelData, MessageType, RequestFields, ReplyOf, PatternType
} from './channels/contract-types.js'
export type { PayloadIssue } from './channels/channel-payloads.js'
export type { AsyncApiDocument, AsyncApiInfo } from './channels/asyncapi.js'
export type { InjectOptions, RealtimeInjector } from './testing/inject-client.js'
export { Realtime } from './realtime.js'
export type { RealtimeStats, CustomMessage, CustomMessageHandler } from './realtime.js'
export { Connection } from './connection.js'
export type { ApplicationFrame } from './connection.js'
export { HandshakeStatus, tokenFromRequest, type TokenSources } from './handshake.js'
export { USER_NAMESPACE, PRIVATE_NAMESPACE } from './authorization.js'
export type { AuthorizeFunction, AuthorizeRequest, AuthenticateFunction, AllowedOrigins, ChannelAction } from './options.js'
export { MemoryBroker } from './brokers/memory-broker.js'
export { RedisBroker } from './brokers/redis-broker.js'
export { ClusterBroker, type ClusterBrokerOptions } from './brokers/cluster-broker.js'
export { ClusterRelay, startClusterRelay } from './brokers/cluster-relay.js'
export { linkOfPort, linkOfProcess, type IpcLink } from './brokers/cluster/relay-messages.js'
export type { RedisBrokerOptions } from './brokers/redis-broker.js'
export type { Broker, BrokerContext, BrokerListener, BrokerState } from './brokers/broker.js'
export { ErrorCode, CloseCode, RealtimeError, errorMessages, FINAL_CLOSE_CODES } from './errors.js'
export * from './protocol.js'
