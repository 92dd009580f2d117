// The primary's side of the cluster broker: it relays frames between the workers of a
// `node:cluster` server. Each worker tells it which channels it wants; a publish from any
// worker goes to every worker that wants the channel, the publisher included, and is then
// acknowledged. The primary handles one message at a time, so every worker sees the frames
// of one channel in the same order, each exactly once.
//
//   // primary
//   import cluster from 'node:cluster'
//   import { startClusterRelay } from 'fastify-realtime'
//   startClusterRelay(cluster)
//   for (let i = 0; i < workers; i++) cluster.fork()
//   // worker: app.register(realtime, { broker: new ClusterBroker() })
import type { Cluster, Worker } from 'node:cluster'
import { batchingLink, type BatchingLink } from './cluster/batching-link.js'
import { RELAY_TAG, isRelayMessage, linkOfProcess, type IpcLink, type PresenceCall, type WorkerMessage } from './cluster/relay-messages.js'
import { MemoryPresence } from './memory-presence.js'

interface Member {
  readonly link: BatchingLink
  readonly channels: Set<string>
  readonly detach: () => void
  /** From the worker's hello: its presence members go with it. */
  nodeId?: string
}

export class ClusterRelay {
  /** Every attached worker. */
  readonly #members = new Set<Member>()
  /** channel -> workers that want it. */
  readonly #subscribers = new Map<string, Set<Member>>()
  /** Stops listening for new workers of the clusters given to `attachCluster`. */
  readonly #unlisten: Array<() => void> = []
  /** Presence members of every worker, held here so that each worker sees them all. */
  readonly #presence = new MemoryPresence()

  /** Number of attached workers. */
  get workers (): number {
    return this.#members.size
  }

  /** Workers subscribed to `channel`. */
  subscriberCount (channel: string): number {
    return this.#subscribers.get(channel)?.size ?? 0
  }

  /** Relays for one more worker until its channel closes; returns a function that stops it. */
  attach (ipc: IpcLink): () => void {
    // Deliveries and acks of one turn go to a worker as one IPC message.
    const link = batchingLink(ipc)
    const offMessage = link.onMessage((message) => {
      if (isRelayMessage(message)) this.#handle(member, message as WorkerMessage)
    })
    const offClose = link.onClose(() => this.#drop(member))
    const member: Member = { link, channels: new Set(), detach: () => { offMessage(); offClose() } }
    this.#members.add(member)
    return () => this.#drop(member)
  }

  /** Relays for every worker of a `node:cluster` primary, those forked already and those forked later. */
  attachCluster (cluster: Cluster): void {
    const attach = (worker: Worker): void => { this.attach(linkOfProcess(worker)) }
    for (const worker of Object.values(cluster.workers ?? {})) if (worker !== undefined) attach(worker)
    cluster.on('fork', attach)
    this.#unlisten.push(() => { cluster.off('fork', attach) })
  }

  /** Stops relaying for every worker. */
  close (): void {
    for (const unlisten of this.#unlisten.splice(0)) unlisten()
    for (const member of [...this.#members]) this.#drop(member)
  }

  #handle (member: Member, message: WorkerMessage): void {
    switch (message.op) {
      case 'hello':
        member.nodeId = message.nodeId
        // Batches to a worker that reads them (one of this version); it learns from the ack that we do.
        member.link.batching = message.batches === true
        member.link.send({ rt: RELAY_TAG, op: 'ack', id: message.id, result: { batches: true } })
        break
      case 'presence': {
        const { id } = message
        runPresenceCall(this.#presence, message.call).then((result) => {
          member.link.send(result === undefined ? { rt: RELAY_TAG, op: 'ack', id } : { rt: RELAY_TAG, op: 'ack', id, result })
        }, () => {})
        break
      }
      case 'subscribe': {
        member.channels.add(message.channel)
        let members = this.#subscribers.get(message.channel)
        if (members === undefined) this.#subscribers.set(message.channel, members = new Set())
        members.add(member)
        member.link.send({ rt: RELAY_TAG, op: 'ack', id: message.id })
        break
      }
      case 'unsubscribe':
        member.channels.delete(message.channel)
        this.#leave(member, message.channel)
        break
      case 'publish': {
        const members = this.#subscribers.get(message.channel)
        if (members !== undefined) {
          const delivery = { rt: RELAY_TAG, op: 'message', channel: message.channel, frame: message.frame } as const
          for (const subscriber of members) subscriber.link.send(delivery)
        }
        member.link.send({ rt: RELAY_TAG, op: 'ack', id: message.id })
        break
      }
    }
  }

  #leave (member: Member, channel: string): void {
    const members = this.#subscribers.get(channel)
    if (members === undefined) return
    members.delete(member)
    if (members.size === 0) this.#subscribers.delete(channel)
  }

  #drop (member: Member): void {
    if (!this.#members.delete(member)) return
    member.detach()
    for (const channel of member.channels) this.#leave(member, channel)
    member.channels.clear()
    // A worker that exited (crashed or not) is not listed a moment longer.
    if (member.nodeId !== undefined) this.#presence.removeNode(member.nodeId).catch(() => {})
  }
}

function runPresenceCall (presence: MemoryPresence, call: PresenceCall): Promise<unknown> {
  switch (call.method) {
    case 'add': return presence.add(call.channel, call.members, call.ttl)
    case 'remove': return presence.remove(call.channel, call.members)
    case 'members': return presence.members(call.channel)
    case 'stats': return presence.stats(call.channel)
    case 'removeNode': return presence.removeNode(call.nodeId)
  }
}

/**
 * Runs the relay in a `node:cluster` primary for every worker, those forked already and
 * those forked later (a worker that died and is forked again included). `relay.close()` stops it.
 */
export function startClusterRelay (cluster: Cluster): ClusterRelay {
  if (!cluster.isPrimary) throw new Error('fastify-realtime: startClusterRelay() runs in the cluster primary; workers use new ClusterBroker()')
  const relay = new ClusterRelay()
  relay.attachCluster(cluster)
  return relay
}
