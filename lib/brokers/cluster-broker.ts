// A broker for the workers of a `node:cluster` server on one machine: frames travel through
// the primary (see cluster-relay.ts) over the workers' IPC channels, so N workers behind one
// port share channels and broadcasts with nothing else installed. The primary is the one
// point that orders: every worker sees a channel's frames in the same order, each once.
// When the primary goes away the broker is `unavailable` and every publish fails with
// `broker_unavailable` at once; a request the primary does not answer in `requestTimeout`
// fails the same way instead of hanging.
import { ErrorCode, RealtimeError } from '../errors.js'
import type { Broker, BrokerContext, BrokerPresence, BrokerState, PresenceMember, PresenceStats } from './broker.js'
import { ChannelInterest } from './channel-interest.js'
import { batchingLink, type BatchingLink } from './cluster/batching-link.js'
import { RELAY_TAG, isRelayMessage, linkOfProcess, type IpcLink, type PrimaryMessage, type WorkerMessage } from './cluster/relay-messages.js'

export interface ClusterBrokerOptions {
  /** The channel to the primary; this worker's `process` by default. */
  link?: IpcLink
  /** Milliseconds the primary has to answer a subscribe or publish; default 5000. */
  requestTimeout?: number
}

interface Waiting {
  resolve: (result: unknown) => void
  reject: (err: Error) => void
  timer: ReturnType<typeof setTimeout>
}

type Request = WorkerMessage extends infer M ? M extends { id: number } ? Omit<M, 'id' | 'rt'> : never : never

export class ClusterBroker implements Broker {
  #state: BrokerState = 'starting'
  readonly #link: BatchingLink | undefined
  readonly #requestTimeout: number
  readonly #interest = new ChannelInterest()
  readonly #waiting = new Map<number, Waiting>()
  /** A channel's subscribe the primary has not confirmed yet; later subscribers wait for it. */
  readonly #confirming = new Map<string, Promise<void>>()
  #sequence = 0
  #onMessage: BrokerContext['onMessage'] | undefined
  #detach: Array<() => void> = []

  constructor (options: ClusterBrokerOptions = {}) {
    const timeout = options.requestTimeout ?? 5000
    if (!Number.isInteger(timeout) || timeout < 1) throw new TypeError('fastify-realtime: ClusterBroker requestTimeout must be a positive integer (ms)')
    this.#requestTimeout = timeout
    const link = options.link ?? (typeof process.send === 'function' ? linkOfProcess(process) : undefined)
    // The publishes and subscribes of one turn go to the primary as one IPC message.
    this.#link = link === undefined ? undefined : batchingLink(link)
  }

  get state (): BrokerState {
    return this.#state
  }

  async start (context: BrokerContext): Promise<void> {
    const link = this.#link
    if (link === undefined) {
      throw new Error('fastify-realtime: ClusterBroker runs in a node:cluster worker (this process has no IPC channel to a primary)')
    }
    this.#onMessage = context.onMessage
    this.#detach = [
      link.onMessage((message) => { if (isRelayMessage(message)) this.#receive(message as PrimaryMessage) }),
      link.onClose(() => {
        if (this.#state === 'closed') return
        context.log.warn('cluster broker: the primary is gone; publishes fail until this worker is restarted')
        this.#becomeUnavailable()
      })
    ]
    try {
      const answer = await this.#request({ op: 'hello', nodeId: context.nodeId, batches: true }) as { batches?: boolean } | undefined
      // A relay of an older version answers without it, and gets one message at a time.
      link.batching = answer?.batches === true
    } catch (err) {
      this.#stopListening()
      this.#state = 'unavailable'
      throw new Error(`fastify-realtime: no answer from a cluster relay in the primary (call startClusterRelay(cluster) there): ${(err as Error).message}`)
    }
    this.#state = 'ready'
  }

  async publish (channel: string, frame: string): Promise<void> {
    await this.#request({ op: 'publish', channel, frame })
  }

  /** Presence held by the primary for every worker; a worker's members go when it exits. */
  readonly presence: BrokerPresence = {
    add: async (channel, members, ttl) => await this.#request({ op: 'presence', call: { method: 'add', channel, members: [...members], ttl } }) as PresenceMember[],
    remove: async (channel, members) => { await this.#request({ op: 'presence', call: { method: 'remove', channel, members: [...members] } }) },
    members: async (channel) => await this.#request({ op: 'presence', call: { method: 'members', channel } }) as PresenceMember[],
    stats: async (channel) => await this.#request({ op: 'presence', call: { method: 'stats', channel } }) as PresenceStats,
    removeNode: async (nodeId) => { await this.#request({ op: 'presence', call: { method: 'removeNode', nodeId } }) }
  }

  async subscribe (channel: string): Promise<void> {
    // The reference is taken even if the request fails (see Broker.subscribe).
    if (!this.#interest.add(channel)) {
      // Resolving before the primary confirmed would lose what is published in between.
      await this.#confirming.get(channel)
      return
    }
    // The first reference (again, after an unsubscribe): ask anew; the link keeps the order.
    const request = this.#request({ op: 'subscribe', channel }).then(() => {})
    this.#confirming.set(channel, request)
    try {
      await request
    } finally {
      if (this.#confirming.get(channel) === request) this.#confirming.delete(channel)
    }
  }

  async unsubscribe (channel: string): Promise<void> {
    if (!this.#interest.remove(channel) || this.#state !== 'ready') return
    this.#link?.send({ rt: RELAY_TAG, op: 'unsubscribe', channel })
  }

  async close (): Promise<void> {
    if (this.#state === 'closed') return
    // What this worker still wanted goes, so the primary stops sending it.
    if (this.#state === 'ready') for (const channel of this.#interest.channels()) this.#link?.send({ rt: RELAY_TAG, op: 'unsubscribe', channel })
    // Publishes not awaited and these unsubscribes leave now: the process may exit right after close.
    this.#link?.flush()
    this.#state = 'closed'
    this.#stopListening()
    this.#interest.clear()
    this.#failWaiting('Broker is closed')
    this.#confirming.clear()
    this.#onMessage = undefined
  }

  #request (request: Request): Promise<unknown> {
    const link = this.#link
    if (link === undefined || (this.#state !== 'ready' && !(this.#state === 'starting' && request.op === 'hello'))) {
      return Promise.reject(new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, `Broker is ${this.#state}`))
    }
    const id = ++this.#sequence
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, `The cluster primary did not answer within ${this.#requestTimeout} ms`))
      }, this.#requestTimeout)
      this.#waiting.set(id, { resolve, reject, timer })
      link.send({ rt: RELAY_TAG, id, ...request } as WorkerMessage)
    })
  }

  #receive (message: PrimaryMessage): void {
    if (message.op === 'message') {
      this.#onMessage?.(message.channel, message.frame)
      return
    }
    const waiting = this.#waiting.get(message.id)
    if (waiting === undefined) return
    this.#waiting.delete(message.id)
    clearTimeout(waiting.timer)
    waiting.resolve(message.result)
  }

  #becomeUnavailable (): void {
    this.#state = 'unavailable'
    this.#failWaiting('The cluster primary is gone')
  }

  #failWaiting (reason: string): void {
    for (const waiting of this.#waiting.values()) {
      clearTimeout(waiting.timer)
      waiting.reject(new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, reason))
    }
    this.#waiting.clear()
  }

  #stopListening (): void {
    for (const detach of this.#detach.splice(0)) detach()
  }
}
