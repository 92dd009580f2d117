// Commands that reach every node: `app.realtime.cluster.disconnectUser()`, `unsubscribeUser()`,
// `connectionsOf()` and `stats()`. They travel over the broker like any frame, on reserved
// channels no client can name (they start with `!`): a command goes to `!control`, where every
// node listens, and each node answers on the asker's own `!reply:<nodeId>`. The asker waits
// for the nodes it knows (see node-directory.ts) at most `timeoutMs`, then reports what each
// node answered and which known nodes did not (`missing`). With the memory broker the one
// node asks and answers itself through the same path.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Broker } from '../brokers/broker.js'
import type { Connection } from '../connection.js'
import { ErrorCode, RealtimeError } from '../errors.js'
import { NodeDirectory } from './node-directory.js'

export const CONTROL_CHANNEL = '!control'
const REPLY_PREFIX = '!reply:'

export const DEFAULT_COMMAND_TIMEOUT = 2000
export const DEFAULT_ANNOUNCE_INTERVAL = 5000

/** True for the reserved channels of cluster commands (never a client's channel). */
export function isClusterChannel (channel: string): boolean {
  return channel === CONTROL_CHANNEL || channel.startsWith(REPLY_PREFIX)
}

/** What the commands need of the node they run on (the `Realtime` instance). */
export interface ClusterNode {
  readonly nodeId: string
  stats: () => object
  disconnectUser: (userId: string | number, reason?: string) => number
  unsubscribeUser: (userId: string | number, channel: string) => Promise<number>
  connectionsOf: (userId: string | number) => Connection[]
}

/** Every node's answer, by node id, and the nodes that did not answer in time. */
export interface ClusterAnswers<Result> {
  nodes: Record<string, Result>
  /** Nodes heard from recently that did not answer within the timeout. */
  missing: string[]
}

export interface ClusterTotal<Result, Total = Result> extends ClusterAnswers<Result> {
  /** Summed over the nodes that answered. */
  total: Total
}

export interface CommandOptions {
  /** Milliseconds to wait for the nodes; the plugin's `clusterCommandTimeout` by default. */
  timeoutMs?: number
}

type CommandName = 'stats' | 'disconnectUser' | 'unsubscribeUser' | 'connectionsOf'

interface Pending {
  answers: Record<string, unknown>
  waitingFor: Set<string>
  done: () => void
}

interface ClusterSettings {
  commandTimeout: number
  announceInterval: number
}

export class ClusterCommands {
  readonly #node: ClusterNode
  readonly #broker: Broker
  readonly #log: FastifyBaseLogger
  readonly #settings: ClusterSettings
  readonly #directory: NodeDirectory
  readonly #replyChannel: string
  readonly #pending = new Map<string, Pending>()
  #announceTimer: NodeJS.Timeout | undefined

  constructor (node: ClusterNode, broker: Broker, log: FastifyBaseLogger, settings: ClusterSettings) {
    this.#node = node
    this.#broker = broker
    this.#log = log
    this.#settings = settings
    this.#directory = new NodeDirectory(settings.announceInterval)
    this.#replyChannel = REPLY_PREFIX + node.nodeId
  }

  /** Closes every connection of the user on every node (1008); `total` is how many. */
  async disconnectUser (userId: string | number, reason = 'session ended', options?: CommandOptions): Promise<ClusterTotal<number>> {
    checkUserId(userId)
    return withSum(await this.#ask('disconnectUser', [userId, String(reason)], options))
  }

  /** Unsubscribes every connection of the user from `channel` on every node; `total` is how many. */
  async unsubscribeUser (userId: string | number, channel: string, options?: CommandOptions): Promise<ClusterTotal<number>> {
    checkUserId(userId)
    if (typeof channel !== 'string') throw new TypeError('fastify-realtime: channel must be a string')
    return withSum(await this.#ask('unsubscribeUser', [userId, channel], options))
  }

  /** The user's connections on every node (`connection.toJSON()` of each). */
  async connectionsOf (userId: string | number, options?: CommandOptions): Promise<ClusterAnswers<object[]>> {
    checkUserId(userId)
    return await this.#ask('connectionsOf', [userId], options) as ClusterAnswers<object[]>
  }

  /** Every node's `stats()`, and their numeric fields summed (a channel open on two nodes counts twice). */
  async stats (options?: CommandOptions): Promise<ClusterTotal<Record<string, unknown>, Record<string, number>>> {
    const answers = await this.#ask('stats', [], options) as ClusterAnswers<Record<string, unknown>>
    const total: Record<string, number> = {}
    for (const stats of Object.values(answers.nodes)) {
      for (const [key, value] of Object.entries(stats)) {
        if (typeof value === 'number') total[key] = (total[key] ?? 0) + value
      }
    }
    return { ...answers, total }
  }

  // Lifecycle, driven by Realtime

  /** Takes the control channels (kept even when the broker is unavailable, like `!broadcast`) and announces this node. */
  async start (): Promise<void> {
    const subscribed = await Promise.allSettled([this.#broker.subscribe(CONTROL_CHANNEL), this.#broker.subscribe(this.#replyChannel)])
    this.#announceTimer = setInterval(() => this.#announce(false), this.#settings.announceInterval)
    // Announcing alone must never keep a process alive.
    this.#announceTimer.unref()
    for (const result of subscribed) if (result.status === 'rejected') throw result.reason
    this.#announce(true)
  }

  /** Tells the other nodes this one leaves (so it is not reported missing); ends pending commands. */
  async stop (): Promise<void> {
    clearInterval(this.#announceTimer)
    for (const pending of this.#pending.values()) pending.done()
    if (this.#broker.state !== 'ready') return
    await this.#send(CONTROL_CHANNEL, { type: 'leave', node: this.#node.nodeId }).catch(() => {})
  }

  /** A frame that arrived on a cluster channel. Anything malformed is logged and dropped. */
  receive (channel: string, frame: string): void {
    let message: Record<string, unknown>
    try {
      message = JSON.parse(frame)
    } catch {
      this.#log.warn({ channel }, 'dropped a cluster frame that is not JSON')
      return
    }
    const node = message.node
    if (typeof node !== 'string') return
    switch (message.type) {
      case 'announce':
        this.#directory.seen(node)
        // A node that just started (or restarted with the same id) learns the others at once.
        if (message.hello === true && node !== this.#node.nodeId) this.#announce(false)
        return
      case 'leave':
        this.#directory.left(node)
        return
      case 'command':
        this.#directory.seen(node)
        this.#run(message).catch((err: unknown) => this.#log.warn({ err }, 'cluster command answer not sent'))
        return
      case 'reply':
        this.#directory.seen(node)
        this.#collect(node, message)
    }
  }

  // Asking

  async #ask (command: CommandName, args: unknown[], options: CommandOptions = {}): Promise<ClusterAnswers<unknown>> {
    const timeoutMs = options.timeoutMs ?? this.#settings.commandTimeout
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new TypeError('fastify-realtime: timeoutMs must be a positive number')
    const id = randomUUID()
    const waitingFor = new Set(this.#directory.known())
    waitingFor.add(this.#node.nodeId)
    const answers: Record<string, unknown> = {}
    let timer: NodeJS.Timeout | undefined
    const finished = new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#pending.delete(id)
        resolve()
      }
      this.#pending.set(id, { answers, waitingFor, done })
      timer = setTimeout(done, timeoutMs)
    })
    try {
      await this.#send(CONTROL_CHANNEL, { type: 'command', id, node: this.#node.nodeId, command, args })
    } catch (err) {
      this.#pending.get(id)?.done()
      throw err instanceof RealtimeError ? err : new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
    await finished
    return { nodes: answers, missing: [...waitingFor].sort() }
  }

  #collect (node: string, message: Record<string, unknown>): void {
    const pending = typeof message.id === 'string' ? this.#pending.get(message.id) : undefined
    if (pending === undefined) return
    if (typeof message.error === 'string') {
      this.#log.warn({ node, error: message.error }, 'a node failed a cluster command')
    } else {
      pending.answers[node] = message.result
    }
    pending.waitingFor.delete(node)
    if (pending.waitingFor.size === 0) pending.done()
  }

  // Answering

  async #run (message: Record<string, unknown>): Promise<void> {
    const { id, node: asker, command, args } = message
    if (typeof id !== 'string' || typeof asker !== 'string' || !Array.isArray(args)) return
    let reply: { type: string, [field: string]: unknown }
    try {
      reply = { type: 'reply', id, node: this.#node.nodeId, result: await this.#execute(command, args) }
    } catch (err) {
      this.#log.warn({ err, command }, 'cluster command failed on this node')
      reply = { type: 'reply', id, node: this.#node.nodeId, error: err instanceof Error ? err.message : 'failed' }
    }
    await this.#send(REPLY_PREFIX + asker, reply)
  }

  async #execute (command: unknown, args: unknown[]): Promise<unknown> {
    const [userId, second] = args
    if (command === 'stats') return this.#node.stats()
    if (typeof userId !== 'string' && typeof userId !== 'number') throw new Error('invalid userId')
    switch (command) {
      case 'disconnectUser':
        return this.#node.disconnectUser(userId, typeof second === 'string' ? second : undefined)
      case 'unsubscribeUser':
        if (typeof second !== 'string') throw new Error('invalid channel')
        return await this.#node.unsubscribeUser(userId, second)
      case 'connectionsOf':
        return this.#node.connectionsOf(userId).map((connection) => connection.toJSON())
      default:
        throw new Error(`unknown command ${JSON.stringify(command)}`)
    }
  }

  #announce (hello: boolean): void {
    this.#directory.seen(this.#node.nodeId)
    if (this.#broker.state !== 'ready') return
    const frame = hello ? { type: 'announce', node: this.#node.nodeId, hello } : { type: 'announce', node: this.#node.nodeId }
    this.#send(CONTROL_CHANNEL, frame).catch((err: unknown) => this.#log.debug({ err }, 'cluster announce not sent'))
  }

  /** Frames travel as JSON objects whose first key is `type`, like every frame a broker carries. */
  #send (channel: string, frame: { type: string, [field: string]: unknown }): Promise<void> {
    return this.#broker.publish(channel, JSON.stringify(frame))
  }
}

function checkUserId (userId: unknown): void {
  if (typeof userId !== 'string' && typeof userId !== 'number') throw new TypeError('fastify-realtime: userId must be a string or a number')
}

function withSum (answers: ClusterAnswers<unknown>): ClusterTotal<number> {
  let total = 0
  for (const value of Object.values(answers.nodes)) if (typeof value === 'number') total += value
  return { ...answers, total } as ClusterTotal<number>
}
