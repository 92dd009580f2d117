// Presence in Redis (scripts and key layout in redis-presence-scripts.ts). Writes of one
// event-loop turn are batched: every add and remove of a channel goes in one script call, so
// a join storm costs one round trip per channel per turn, not one per connection. Adds and
// removes of one connection keep their order (a later one replaces a pending earlier one).
import type { Cluster, Redis } from 'ioredis'
import { ErrorCode, RealtimeError } from '../errors.js'
import type { BrokerPresence, PresenceMember, PresenceStats } from './broker.js'
import { APPLY, MEMBERS, REMOVE_NODE, STATS, type LuaScript } from './redis-presence-scripts.js'

type RedisConnection = Redis | Cluster

/** Members added or removed per script call. */
const MAX_CHANGES_PER_CALL = 1000

interface Change {
  member: PresenceMember
  present: boolean
}

interface PendingChannel {
  /** connectionId -> the member, to write or to remove. */
  changes: Map<string, Change>
  ttl: number
  waiters: Array<{ resolve: (expired: PresenceMember[]) => void, reject: (err: Error) => void }>
}

export interface RedisPresenceContext {
  /** The connection commands go through, when the broker is ready; undefined otherwise. */
  connection: () => RedisConnection | undefined
  keyPrefix: string
}

export class RedisPresence implements BrokerPresence {
  readonly #context: RedisPresenceContext
  #pending = new Map<string, PendingChannel>()
  /** Per node id: channels in its Redis list, channels written since the list was last rewritten. */
  readonly #lists = new Map<string, { listed: Set<string>, seen: Set<string>, renewedAt: number }>()
  #flushScheduled = false
  /** Script calls and other commands sent, for the benchmark's round-trip count. */
  commands = 0

  constructor (context: RedisPresenceContext) {
    this.#context = context
  }

  add (channel: string, members: readonly PresenceMember[], ttl: number): Promise<PresenceMember[]> {
    return this.#queue(channel, ttl, (changes) => {
      for (const member of members) changes.set(member.connectionId, { member, present: true })
    })
  }

  async remove (channel: string, members: readonly PresenceMember[]): Promise<void> {
    await this.#queue(channel, 0, (changes) => {
      for (const member of members) changes.set(member.connectionId, { member, present: false })
    })
  }

  async members (channel: string): Promise<PresenceMember[]> {
    const values = await this.#run(MEMBERS, this.#keys(channel), []) as string[]
    return values.map(parseMember)
  }

  async stats (channel: string): Promise<PresenceStats> {
    const [users, connections] = await this.#run(STATS, this.#keys(channel), []) as [number, number]
    return { users, connections }
  }

  async removeNode (nodeId: string): Promise<void> {
    const connection = this.#ready()
    const nodeKey = this.#nodeKey(nodeId)
    this.commands++
    const channels = await connection.smembers(nodeKey)
    await Promise.all(channels.map((channel) => this.#run(REMOVE_NODE, this.#keys(channel), [nodeId + ' '])))
    this.commands++
    await connection.del(nodeKey)
    this.#lists.delete(nodeId)
  }

  #queue (channel: string, ttl: number, change: (changes: Map<string, Change>) => void): Promise<PresenceMember[]> {
    return new Promise((resolve, reject) => {
      let pending = this.#pending.get(channel)
      if (pending === undefined) {
        pending = { changes: new Map(), ttl, waiters: [] }
        this.#pending.set(channel, pending)
      }
      pending.ttl = Math.max(pending.ttl, ttl)
      change(pending.changes)
      pending.waiters.push({ resolve, reject })
      if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(this.#flush)
      }
    })
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false
    const batch = this.#pending
    this.#pending = new Map()
    const byNode = new Map<string, Set<string>>()
    for (const [channel, pending] of batch) {
      const adds: string[] = []
      const removes: string[] = []
      for (const { member, present } of pending.changes.values()) {
        const field = fieldOf(member.nodeId, member.connectionId)
        if (!present) {
          removes.push(field)
          continue
        }
        adds.push(field, memberJson(member))
        let channels = byNode.get(member.nodeId)
        if (channels === undefined) byNode.set(member.nodeId, channels = new Set())
        channels.add(channel)
      }
      this.#write(channel, pending, adds, removes)
    }
    for (const [nodeId, channels] of byNode) {
      let ttl = 0
      for (const channel of channels) ttl = Math.max(ttl, batch.get(channel)!.ttl)
      this.#remember(nodeId, channels, ttl)
    }
  }

  #write (channel: string, pending: PendingChannel, adds: string[], removes: string[]): void {
    // Bounded script arguments per call, however big the room (a refresh writes it whole).
    const calls: Array<Promise<unknown>> = []
    const keys = this.#keys(channel)
    for (let start = 0; start < adds.length; start += 2 * MAX_CHANGES_PER_CALL) {
      const chunk = adds.slice(start, start + 2 * MAX_CHANGES_PER_CALL)
      calls.push(this.#run(APPLY, keys, [pending.ttl, chunk.length / 2, ...chunk]))
    }
    for (let start = 0; start < removes.length; start += MAX_CHANGES_PER_CALL) {
      calls.push(this.#run(APPLY, keys, [pending.ttl, 0, ...removes.slice(start, start + MAX_CHANGES_PER_CALL)]))
    }
    Promise.all(calls).then((results) => {
      const members = (results.flat() as string[]).map(parseMember)
      for (const waiter of pending.waiters) waiter.resolve(members)
    }, (err: Error) => {
      for (const waiter of pending.waiters) waiter.reject(err)
    })
  }

  /**
   * The node's own list of channels it wrote, so a restart (or close) finds its members.
   * Written when a channel is new to it; rewritten (with the channels written since the last
   * rewrite, which the periodic refresh includes) once a third of `ttl` has passed, so the
   * list neither expires under live members nor keeps channels the node has left.
   * A lone join to a channel already listed costs its script call only.
   */
  #remember (nodeId: string, channels: Set<string>, ttl: number): void {
    const connection = this.#context.connection()
    if (connection === undefined) return
    let list = this.#lists.get(nodeId)
    if (list === undefined) this.#lists.set(nodeId, list = { listed: new Set(), seen: new Set(), renewedAt: 0 })
    for (const channel of channels) list.seen.add(channel)
    const key = this.#nodeKey(nodeId)
    const now = Date.now()
    if (now - list.renewedAt >= ttl / 3) {
      const current = list
      current.listed = current.seen
      current.seen = new Set()
      current.renewedAt = now
      this.commands++
      // Best effort: without it only a restart's immediate cleanup is lost; expiry still holds.
      connection.multi().del(key).sadd(key, ...current.listed).pexpire(key, ttl).exec().catch(() => { current.renewedAt = 0 })
      return
    }
    const fresh = [...channels].filter((channel) => !list.listed.has(channel))
    if (fresh.length === 0) return
    for (const channel of fresh) list.listed.add(channel)
    this.commands++
    connection.multi().sadd(key, ...fresh).pexpire(key, ttl).exec().catch(() => {})
  }

  #ready (): RedisConnection {
    const connection = this.#context.connection()
    if (connection === undefined) throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    return connection
  }

  async #run (lua: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    const connection = this.#ready()
    this.commands++
    try {
      try {
        return await connection.evalsha(lua.sha, keys.length, ...keys, ...args)
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
        this.commands++
        return await connection.eval(lua.source, keys.length, ...keys, ...args)
      }
    } catch (err) {
      throw err instanceof RealtimeError ? err : new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }

  #keys (channel: string): string[] {
    // Braces: both keys of a channel share a hash slot, as a script on a Redis Cluster needs.
    const base = `${this.#context.keyPrefix}presence:{${channel}}`
    return [base + ':members', base + ':expiry']
  }

  #nodeKey (nodeId: string): string {
    return `${this.#context.keyPrefix}presence-node:${nodeId}`
  }
}

function fieldOf (nodeId: string, connectionId: string): string {
  return nodeId + ' ' + connectionId
}

/** The member's JSON, user id first: the stats script reads users without decoding JSON. */
function memberJson ({ userId, connectionId, nodeId, info }: PresenceMember): string {
  return JSON.stringify(info === undefined ? { userId, connectionId, nodeId } : { userId, connectionId, nodeId, info })
}

function parseMember (value: string): PresenceMember {
  return JSON.parse(value) as PresenceMember
}
