// The part every benchmarked server shares: it reports its port to the orchestrator and, on
// command, publishes at a fixed rate or reports its memory. Publishing happens inside the
// server process so every peer gets the same publisher and no client sits in between.
import { now } from '../clock.js'

export interface Peer {
  name: string
  port: number
  /** Delivers `data` to every subscriber of `channel`, the peer's own way. */
  publish: (channel: string, data: BenchData) => void
  /** Delivers `data` to every connection (scenario e); peers without it are not run there. */
  broadcast?: (data: BenchData) => void
  connections: () => number
  /** Connections the server's heartbeat dropped for not answering a ping in time, where the peer counts them. */
  heartbeatTerminations?: () => number
  close: () => Promise<void>
}

/** What is published: `t` is the scheduled send time (see clock.ts), `p` pads to the size asked for. */
export interface BenchData {
  t: number
  s: number
  p: string
}

export type PeerCommand =
  | { cmd: 'publish', channel: string, rate: number, durationMs: number, size: number }
  | { cmd: 'spread', prefix: string, channels: number, rate: number, durationMs: number, size: number, seed: number }
  | { cmd: 'once', kind: 'broadcast' | 'publish', channel: string, size: number }
  | { cmd: 'memory' }
  | { cmd: 'cpu' }
  | { cmd: 'stop' }

/** A padding so that `JSON.stringify(data)` is about `size` bytes. */
function padding (size: number): string {
  const sample = JSON.stringify({ t: now(), s: 100000, p: '' })
  return 'x'.repeat(Math.max(0, size - sample.length))
}

/**
 * Publishes `rate` messages per second for `durationMs`. Open loop: each message carries the
 * time it was due, and a late timer publishes the missed ones in a burst, so a server that falls
 * behind shows it as latency instead of quietly publishing less (no coordinated omission).
 */
function publishAtRate (peer: Peer, channel: string | ((index: number) => string), rate: number, durationMs: number, size: number): Promise<{ count: number, maxLagMs: number, cpuMs: number }> {
  const cpuStart = process.cpuUsage()
  const total = Math.max(1, Math.round(rate * durationMs / 1000))
  const interval = 1000 / rate
  const p = padding(size)
  const start = now()
  let sent = 0
  let maxLagMs = 0
  return new Promise((resolve) => {
    const tick = (): void => {
      const elapsed = now() - start
      const due = Math.min(total, Math.floor(elapsed / interval) + 1)
      if (sent < due) maxLagMs = Math.max(maxLagMs, elapsed - sent * interval)
      while (sent < due) {
        peer.publish(typeof channel === 'string' ? channel : channel(sent), { t: start + sent * interval, s: sent, p })
        sent++
      }
      if (sent >= total) {
        const cpu = process.cpuUsage(cpuStart)
        resolve({ count: sent, maxLagMs, cpuMs: (cpu.user + cpu.system) / 1000 })
      } else setTimeout(tick, Math.max(0, Math.min(interval, start + sent * interval - now())))
    }
    tick()
  })
}

/** A channel picked at random among `prefix0 .. prefix<channels-1>` for each message (xorshift32, seeded: runs repeat). */
function randomChannels (prefix: string, channels: number, seed: number): () => string {
  let state = (seed | 0) || 0x9e3779b9
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return prefix + String((state >>> 0) % channels)
  }
}

export function serve (peer: Peer): void {
  const gc = (globalThis as { gc?: () => void }).gc
  process.on('message', (command: PeerCommand) => {
    switch (command.cmd) {
      case 'publish':
        publishAtRate(peer, command.channel, command.rate, command.durationMs, command.size)
          .then((result) => process.send?.({ ev: 'published', ...result }))
        break
      case 'spread':
        publishAtRate(peer, randomChannels(command.prefix, command.channels, command.seed), command.rate, command.durationMs, command.size)
          .then((result) => process.send?.({ ev: 'published', ...result }))
        break
      case 'once': {
        const p = padding(command.size)
        const data = { t: now(), s: 0, p }
        if (command.kind === 'broadcast') peer.broadcast?.(data)
        else peer.publish(command.channel, data)
        process.send?.({ ev: 'sent' })
        break
      }
      case 'memory': {
        gc?.()
        gc?.()
        const usage = process.memoryUsage()
        process.send?.({ ev: 'memory', rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, connections: peer.connections(), heartbeatTerminations: peer.heartbeatTerminations?.() ?? 0 })
        break
      }
      case 'cpu': {
        const cpu = process.cpuUsage()
        process.send?.({ ev: 'cpu', ms: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000 })
        break
      }
      case 'stop':
        peer.close().finally(() => process.exit(0))
        break
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send?.({ ev: 'listening', port: peer.port, name: peer.name })
}
