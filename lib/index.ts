// fastify-realtime: thin assembly of the parts. Options, decorators, the route, the hooks.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { resolveOptions, type RealtimePluginOptions } from './options.js'
import { Realtime } from './realtime.js'
import { checkDrainOnClose } from './drain.js'
import { HandshakeGuard, HandshakeStatus } from './handshake.js'
import { createMetrics } from './metrics/prometheus-metrics.js'
import { warnAboutOpenPublishing } from './startup-warnings.js'
import { createInjector } from './testing/inject-client.js'
import type { ChannelArgument, DataArgument, RegisteredContract } from './channels/contract-types.js'

const realtimePlugin: FastifyPluginAsync<RealtimePluginOptions> = async function realtimePlugin (fastify, options) {
  if (fastify.hasDecorator('realtime')) throw new Error('fastify-realtime has already been registered')
  if (fastify.hasDecorator('websocketServer')) {
    throw new Error('fastify-realtime registers @fastify/websocket itself (with its own limits and close handling); do not register it before')
  }
  const settings = resolveOptions(options)
  checkDrainOnClose(settings.drainOnClose, settings.closeGracePeriod, fastify.initialConfig.pluginTimeout)
  const metrics = settings.metrics === undefined ? undefined : await createMetrics(settings.metrics)
  const realtime = new Realtime(settings, metrics?.instrument(settings.broker) ?? settings.broker, fastify.log)
  metrics?.bind(realtime)
  const handshake = new HandshakeGuard(settings, () => realtime.connectionCount)

  await fastify.register(websocket, {
    // permessage-deflate is off unless asked for: it costs CPU and memory per socket and is
    // a decompression-bomb surface (ws bounds inflated frames by maxPayload when it is on);
    // `maxPayload` replaces ws' 100 MiB default.
    options: { maxPayload: settings.maxPayload, perMessageDeflate: settings.perMessageDeflate },
    errorHandler: function onSocketError (error, socket, request) {
      // Other WebSocket routes of the app keep @fastify/websocket's own behaviour.
      if ((request.routeOptions.config as { realtimeRoute?: boolean }).realtimeRoute !== true) {
        request.log.error(error)
        socket.terminate()
        return
      }
      // Socket errors are almost always the peer's doing (bad UTF-8, oversized or malformed
      // frames): ws has already queued the right close code (1002, 1007, 1009) and ends the
      // socket itself once that frame is written, so log at info and leave the ending to ws
      // rather than destroying the socket with terminate() while the frame may still be queued.
      request.log.info({ err: error }, 'websocket error, connection closing')
    },
    // Replaces @fastify/websocket's default, which closes sockets without a code.
    preClose: function closeSockets (this: FastifyInstance, done: (err?: Error) => void) {
      handshake.close()
      const server = this.websocketServer
      const drained = settings.drainOnClose > 0 ? realtime.drainBeforeClose(settings.drainOnClose) : Promise.resolve()
      drained.catch((err: unknown) => this.log.error({ err }, 'draining before close failed')).then(() => {
        // Closing ws' server first answers 503 to upgrades still in flight on any route; its
        // callback comes once every client it tracks (ours and other routes') has closed.
        server.close(() => done())
        return realtime.closeConnections(server.clients)
      }).catch((err: unknown) => this.log.error({ err }, 'closing websocket clients failed'))
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
  const routeHooks = {
    onRequest: [refuseWhileDraining, handshake.onRequest],
    // Refused handshakes, by status, for the metrics: the guard answers them before the upgrade.
    ...(metrics === undefined ? {} : { onResponse: async function countRefusal (request: FastifyRequest, reply: FastifyReply) { if (request.ws) metrics.refused(reply.statusCode) } })
  }
  // A draining node takes no new connections: the client retries, and the load balancer sends it elsewhere.
  async function refuseWhileDraining (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!realtime.draining || !request.ws) return
    request.log.info({ statusCode: HandshakeStatus.SERVICE_UNAVAILABLE }, 'websocket handshake refused: draining')
    return reply.code(HandshakeStatus.SERVICE_UNAVAILABLE).header('connection', 'close').send({ statusCode: 503, error: 'Server is draining' })
  }
  fastify.get(settings.path, { websocket: true, ...routeHooks, config: { realtimeRoute: true } }, function realtimeRoute (socket, request) {
    realtime.accept(socket, request, handshake.userOf(request))
  })
  fastify.addHook('onReady', async function warnAboutOptions () {
    handshake.warnings(fastify.log, fastify.hasRequestDecorator('cookies'))
    realtime.warnAboutContract()
  })
  fastify.addHook('onListen', async function warnAboutReach () {
    warnAboutOpenPublishing(fastify.log, fastify.addresses(), settings)
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
export type { RealtimeHookHandlers, RealtimeHookName, ConnectRefusal, DisconnectInfo, ValidatedFrame } from './hooks/lifecycle-hooks.js'
export type { DrainOptions } from './drain.js'
export type { ClusterAnswers, ClusterTotal, CommandOptions, ClusterCommands } from './cluster/cluster-commands.js'
export type { MetricsOptions, MetricsRegistry } from './metrics/prometheus-metrics.js'
export { Connection } from './connection.js'
export type { ApplicationFrame } from './connection.js'
export { HandshakeStatus, tokenFromRequest, type TokenSources } from './handshake.js'
export { USER_NAMESPACE, PRIVATE_NAMESPACE } from './authorization.js'
export type { SessionExpiryFunction } from './sessions/session-expiry.js'
export type { SubscriptionTokenOptions } from './sessions/subscription-token.js'
export { userChannel, userIdOfChannel } from './channels/user-channel.js'
export type { AuthorizeFunction, AuthorizeRequest, AuthenticateFunction, AllowedOrigins, ChannelAction } from './options.js'
export { MemoryBroker } from './brokers/memory-broker.js'
export { RedisBroker } from './brokers/redis-broker.js'
export { ClusterBroker, type ClusterBrokerOptions } from './brokers/cluster-broker.js'
export { MqttBroker, type MqttBrokerOptions, type MqttQoS, type MqttBridgeStats } from './brokers/mqtt-broker.js'
export type { BridgeOptions, InboundBridgeRule, OutboundBridgeRule } from './brokers/mqtt/bridge.js'
export { ClusterRelay, startClusterRelay } from './brokers/cluster-relay.js'
export { linkOfPort, linkOfProcess, type IpcLink } from './brokers/cluster/relay-messages.js'
export type { RedisBrokerOptions } from './brokers/redis-broker.js'
export type {
  Broker, BrokerContext, BrokerListener, BrokerState,
  HistoryStore, HistoryLimits, HistoryQuery, HistoryPage, HistoryEntry, BrokerPresence, PresenceStats
} from './brokers/broker.js'
export type { HistoryOptions, HistoryResult, SubscribeOutcome } from './history/channel-history.js'
export { MAX_HISTORY_SIZE, POSITION_TTL } from './history/history-rule.js'
export { PRESENCE_TTL_INTERVALS } from './presence/presence.js'
export type { PresenceInfoFunction, PresenceOptions } from './options.js'
export { ErrorCode, CloseCode, RealtimeError, errorMessages, FINAL_CLOSE_CODES } from './errors.js'
export * from './protocol.js'
