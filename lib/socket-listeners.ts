// The listeners of every accepted socket: one function of each kind shared by all sockets
// (`this` is the socket, which carries its connection under a symbol), so an idle connection
// holds no closures of its own. Incoming frames pass the rate limit and the reply cap here.
import type WebSocket from 'ws'
import type { Connection } from './connection.js'
import type { Dispatcher } from './dispatcher.js'
import type { Heartbeat } from './heartbeat.js'
import type { LifecycleHooks } from './hooks/lifecycle-hooks.js'
import type { RateLimiter } from './rate-limit.js'
import type { SlowConsumerGuard } from './slow-consumer.js'
import { releaseUpgradeResponse } from './ws-internals.js'

const kConnection = Symbol('fastify-realtime.connection')
type TrackedSocket = WebSocket & { [kConnection]?: Connection }

export interface SocketParts {
  dispatcher: Dispatcher
  hooks: LifecycleHooks
  heartbeat: Heartbeat
  rateLimiter: RateLimiter | undefined
  slowConsumers: SlowConsumerGuard
  /** The socket has closed (any side, any code). */
  closed: (connection: Connection, code: number, reason: Buffer) => void
}

export class SocketListeners {
  readonly #onMessage: (this: TrackedSocket, data: Buffer, isBinary: boolean) => void
  readonly #onPong: (this: TrackedSocket, data: Buffer) => void
  readonly #onClose: (this: TrackedSocket, code: number, reason: Buffer) => void

  constructor ({ dispatcher, hooks, heartbeat, rateLimiter, slowConsumers, closed }: SocketParts) {
    const admit = (connection: Connection, data: Buffer): boolean => {
      if (rateLimiter !== undefined && !rateLimiter.admit(connection, data)) return false
      // A client that sends but does not read would pile up our replies: same cap as fan-out.
      return slowConsumers.admit(connection, 0)
    }
    this.#onMessage = function onSocketMessage (this: TrackedSocket, data: Buffer, isBinary: boolean): void {
      const connection = this[kConnection]
      if (connection === undefined) return
      // Only a frame we process counts as alive: a client over its cap that keeps sending but
      // never reads must still fall to the heartbeat.
      if (!admit(connection, data)) return
      connection.alive = true
      if (hooks.connect.length !== 0 && hooks.holds(connection)) hooks.hold(connection, data, isBinary)
      else dispatcher.dispatch(connection, data, isBinary)
    }
    this.#onPong = function onSocketPong (this: TrackedSocket, data: Buffer): void {
      const connection = this[kConnection]
      // An unsolicited pong (or one for an older ping) says nothing about reading.
      if (connection !== undefined && heartbeat.isAnswer(data)) connection.alive = true
    }
    this.#onClose = function onSocketClose (this: TrackedSocket, code: number, reason: Buffer): void {
      const connection = this[kConnection]
      if (connection === undefined) return
      connection.log.debug({ code }, 'connection closed')
      closed(connection, code, reason)
    }
  }

  /** Ties `socket` to `connection` and listens to it; called before any await, so no frame is lost. */
  attach (socket: WebSocket, connection: Connection): void {
    const tracked = socket as TrackedSocket
    tracked[kConnection] = connection
    // What an idle connection does not need goes: @fastify/websocket's own error listener closes
    // over the whole request and reply (one shared listener below does the same job), and the
    // TCP socket still points at the hijacked HTTP response.
    socket.removeAllListeners('error')
    releaseUpgradeResponse(socket)
    socket.on('error', onSocketError)
    socket.on('message', this.#onMessage)
    socket.on('pong', this.#onPong)
    socket.on('close', this.#onClose)
  }
}

// Replaces the route's per-socket errorHandler listener (which closes over the request and
// reply). ws emits 'error' for a protocol violation or an oversized frame and closes the
// socket itself with the matching code (1002, 1007, 1009): log it, and let that close go out.
function onSocketError (this: TrackedSocket, err: Error): void {
  this[kConnection]?.log.info({ err }, 'websocket error, connection closing')
}
