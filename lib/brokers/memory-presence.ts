// Presence for the embedded broker: one process holds every member, so a member leaves when
// its connection does. Expiry is still kept (skipped by reads, pruned by adds) so the memory
// and Redis brokers answer the same contract.
import type { BrokerPresence, PresenceMember, PresenceStats } from './broker.js'

interface Entry {
  member: PresenceMember
  expiresAt: number
}

export class MemoryPresence implements BrokerPresence {
  readonly #channels = new Map<string, Map<string, Entry>>()

  async add (channel: string, members: readonly PresenceMember[], ttl: number): Promise<PresenceMember[]> {
    const expired = this.#prune(channel)
    let entries = this.#channels.get(channel)
    if (entries === undefined) {
      entries = new Map()
      this.#channels.set(channel, entries)
    }
    const expiresAt = Date.now() + ttl
    for (const member of members) entries.set(member.connectionId, { member, expiresAt })
    return expired
  }

  async remove (channel: string, members: readonly PresenceMember[]): Promise<void> {
    const entries = this.#channels.get(channel)
    if (entries === undefined) return
    for (const member of members) entries.delete(member.connectionId)
    if (entries.size === 0) this.#channels.delete(channel)
  }

  /** Like Redis, a read skips expired members and leaves their removal (and announcement) to the next add. */
  async members (channel: string): Promise<PresenceMember[]> {
    const now = Date.now()
    const live: PresenceMember[] = []
    for (const entry of this.#channels.get(channel)?.values() ?? []) if (entry.expiresAt > now) live.push(entry.member)
    return live
  }

  async stats (channel: string): Promise<PresenceStats> {
    const members = await this.members(channel)
    return { users: new Set(members.map((member) => member.userId)).size, connections: members.length }
  }

  async removeNode (nodeId: string): Promise<void> {
    for (const [channel, entries] of this.#channels) {
      for (const [id, entry] of entries) if (entry.member.nodeId === nodeId) entries.delete(id)
      if (entries.size === 0) this.#channels.delete(channel)
    }
  }

  clear (): void {
    this.#channels.clear()
  }

  #prune (channel: string): PresenceMember[] {
    const entries = this.#channels.get(channel)
    if (entries === undefined) return []
    const now = Date.now()
    const expired: PresenceMember[] = []
    for (const [id, entry] of entries) {
      if (entry.expiresAt > now) continue
      entries.delete(id)
      expired.push(entry.member)
    }
    if (entries.size === 0) this.#channels.delete(channel)
    return expired
  }
}
