// Join and leave events, coalesced: everything that happens on a channel during one window
// goes out as one `presence_diff` per node, through the broker like any channel frame. A
// 10,000-member room reconnecting costs each member a handful of frames, not 10,000. One
// timer per server, armed only while something is waiting.
import type { FastifyBaseLogger } from 'fastify'
import type { PresenceMember } from '../brokers/broker.js'
import { presenceDiffFrame } from './presence-frames.js'

interface PendingEvents {
  joins: Map<string, PresenceMember>
  leaves: Map<string, PresenceMember>
}

export interface PresenceEventsOptions {
  /** Milliseconds over which events of a channel are gathered. */
  window: number
  /** Members listed per frame; the rest are counted in `more`. */
  maxPerFrame: number
  publish: (channel: string, frame: string) => Promise<void>
  log: FastifyBaseLogger
}

export class PresenceEvents {
  readonly #options: PresenceEventsOptions
  #pending = new Map<string, PendingEvents>()
  #timer: NodeJS.Timeout | undefined
  readonly #publishing = new Set<Promise<void>>()
  /** `presence_diff` frames published by this node. */
  published = 0

  constructor (options: PresenceEventsOptions) {
    this.#options = options
  }

  joined (channel: string, member: PresenceMember): void {
    const pending = this.#pendingOf(channel)
    pending.leaves.delete(member.connectionId)
    pending.joins.set(member.connectionId, member)
  }

  left (channel: string, member: PresenceMember): void {
    const pending = this.#pendingOf(channel)
    // Joined and left within one window: nobody needs to hear of it.
    if (pending.joins.delete(member.connectionId)) return
    pending.leaves.set(member.connectionId, member)
  }

  /** Publishes what is waiting now; stops the timer. */
  flush = (): void => {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending
    this.#pending = new Map()
    const ts = Date.now()
    const { maxPerFrame, publish, log } = this.#options
    for (const [channel, { joins, leaves }] of batch) {
      if (joins.size === 0 && leaves.size === 0) continue
      const listedJoins = [...take(joins.values(), maxPerFrame)]
      const listedLeaves = [...take(leaves.values(), maxPerFrame - listedJoins.length)]
      const more = joins.size + leaves.size - listedJoins.length - listedLeaves.length
      this.published++
      const publishing = publish(channel, presenceDiffFrame(channel, listedJoins, listedLeaves, more, ts)).catch((err: unknown) => {
        log.warn({ err, channel }, 'presence_diff not published')
      })
      this.#publishing.add(publishing)
      publishing.then(() => this.#publishing.delete(publishing), () => {})
    }
  }

  /** Publishes what is waiting and resolves once every publish has settled (the broker closes next). */
  async stop (): Promise<void> {
    this.flush()
    await Promise.all([...this.#publishing])
  }

  #pendingOf (channel: string): PendingEvents {
    let pending = this.#pending.get(channel)
    if (pending === undefined) {
      pending = { joins: new Map(), leaves: new Map() }
      this.#pending.set(channel, pending)
    }
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.flush, this.#options.window)
      this.#timer.unref()
    }
    return pending
  }
}

function * take<T> (values: Iterable<T>, count: number): Generator<T> {
  if (count <= 0) return
  let taken = 0
  for (const value of values) {
    yield value
    if (++taken >= count) return
  }
}
