// `app.realtime.inject()`: a RealtimeClient connected through `app.injectWS()`, so an
// application's tests exercise the real route, `authenticate`, handlers and fan-out
// without opening a port. Each (re)connect of the client is a fresh injected socket.
import type { FastifyInstance } from 'fastify'
import type WebSocket from 'ws'
import { RealtimeClient } from '../client/realtime-client.js'
import type { RealtimeClientOptions, WebSocketConstructor } from '../client/options.js'
import type { RealtimeContract, RegisteredContract } from '../channels/contract-types.js'
import { CloseCode } from '../errors.js'

export interface InjectOptions extends Omit<RealtimeClientOptions, 'WebSocket'> {
  /** Headers of the upgrade request, as `authenticate` sees them (`authorization`, `cookie`, `origin`...). */
  headers?: Record<string, string>
}

/** Resolves once the server's `welcome` has arrived (so `connectionId` is set); rejects when the upgrade is refused. */
export type RealtimeInjector = <Contract extends RealtimeContract | undefined = RegisteredContract>(options?: InjectOptions) => Promise<RealtimeClient<Contract>>

/** Marks the upgrade requests of injected sockets (injectWS copies the context into the request). */
const kInjected = Symbol('fastify-realtime.injected')

export function createInjector (fastify: FastifyInstance, path: string): RealtimeInjector {
  let watching = false
  return async function inject<Contract extends RealtimeContract | undefined> (options: InjectOptions = {}) {
    if (!watching) {
      watching = true
      fastify.websocketServer.on('connection', (socket: WebSocket, request: Record<symbol, unknown>) => {
        if (request[kInjected] === true) endWithPeer(socket)
      })
    }
    const { headers = {}, ...clientOptions } = options
    let refusal: Error | undefined
    // A constructor returning an object hands that object to `new`: the ws client socket that
    // injectWS creates synchronously and opens once the route has upgraded.
    const InjectedWebSocket = function InjectedWebSocket (): WebSocket {
      let socket: WebSocket | undefined
      const context = { headers, [kInjected]: true } as unknown as Parameters<typeof fastify.injectWS>[1]
      fastify.injectWS(path, context, { onInit: (ws) => { socket = ws }, onOpen: endWithPeer }).catch((err: Error) => {
        // A refused upgrade (401, 403, 429, 503) never opens: report it as a failed connection.
        refusal = err
        socket?.onclose?.({ code: CloseCode.ABNORMAL, reason: err.message, wasClean: false, type: 'close', target: socket })
      })
      return socket!
    } as unknown as WebSocketConstructor
    // No port, no network to wait for: a test wants a drop reported, not retried, unless it asks.
    const client = new RealtimeClient<Contract>(`ws://inject${path}`, { reconnect: false, ...clientOptions, WebSocket: InjectedWebSocket })
    return await new Promise<RealtimeClient<Contract>>((resolve, reject) => {
      const offWelcome = client.once('welcome', () => {
        offClose()
        resolve(client)
      })
      const offClose = client.once('close', (info) => {
        offWelcome()
        client.close()
        reject(refusal ?? new Error(`fastify-realtime: injected connection closed (${info.code} ${info.reason})`))
      })
    })
  }
}

/**
 * The in-memory streams under an injected socket end but never emit 'close', so each side of
 * a finished closing handshake would wait for ws' 30 s close timeout (and `app.close()` for
 * its grace period). Once the peer has ended its side, destroy ours so that 'close' comes.
 */
function endWithPeer (ws: WebSocket): void {
  const stream = (ws as unknown as { _socket?: NodeJS.ReadableStream & { destroy: () => void } })._socket
  stream?.once('end', () => stream.destroy())
}
