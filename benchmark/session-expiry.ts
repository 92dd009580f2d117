// The cost of session expiry with ONE timer per node: 50,000 sessions whose expiries are
// staggered over 10 s, half of them refreshed when `refresh_needed` comes, all in one process
// with stand-in connections (no sockets: what is measured is the heap, the timer and the
// tracker, not the network). For contrast, the same deadlines with one setTimeout each.
// Run: `npm run bench:sessions` (about 30 s, bounded).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { FastifyRequest } from 'fastify'
import type { Connection } from '../lib/connection.js'
import { SessionTracker } from '../lib/sessions/session-tracker.js'

const SESSIONS = 50_000
const SPREAD_MS = 10_000
const FIRST_EXPIRY_MS = 2_000
const LEAD_MS = 1_000
const REFRESH_EXTENSION_MS = 3_000
const TIME_LIMIT_MS = 30_000

interface BenchUser { sub: string, expiresAt: number, refreshed: boolean }

const quiet = { debug () {}, info () {} }

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
}

async function runTracker (): Promise<Record<string, number>> {
  const lateness: number[] = []
  let warnings = 0
  let refreshes = 0
  const tracker = new SessionTracker({
    // A refresh token is "<sub>:<expiresAt>"; the stand-in request carries it in its header.
    authenticate: (request: FastifyRequest) => {
      const [sub, at] = request.headers.authorization!.slice('Bearer '.length).split(':')
      return { sub: sub!, expiresAt: Number(at), refreshed: true }
    },
    userId: (user) => (user as BenchUser).sub,
    sessionExpiry: (user) => (user as BenchUser).expiresAt,
    refreshLeadTime: LEAD_MS
  })
  const handshake = { headers: {}, url: '/ws' } as unknown as FastifyRequest
  let closed = 0
  let done!: () => void
  const allClosed = new Promise<void>((resolve) => { done = resolve })
  const start = Date.now()
  const connections: Connection[] = []
  for (let i = 0; i < SESSIONS; i++) {
    const user: BenchUser = { sub: `u${i}`, expiresAt: start + FIRST_EXPIRY_MS + Math.floor((i / SESSIONS) * SPREAD_MS), refreshed: false }
    const connection = {
      user,
      log: quiet,
      send () {
        warnings++
        // Every other session refreshes, as a client with getToken() would.
        if (i % 2 === 0 && !(connection.user as BenchUser).refreshed) {
          refreshes++
          const next = (connection.user as BenchUser).expiresAt + REFRESH_EXTENSION_MS
          tracker.refresh(connection as unknown as Connection, `u${i}:${next}`).catch((err: unknown) => { throw err })
        }
      },
      close () {
        lateness.push(Date.now() - (connection.user as BenchUser).expiresAt)
        if (++closed === SESSIONS) done()
      }
    }
    connections.push(connection as unknown as Connection)
  }

  const heapBefore = process.memoryUsage().heapUsed
  const elu = performance.eventLoopUtilization()
  const addStart = performance.now()
  for (const connection of connections) {
    tracker.hold(connection, handshake)
    tracker.start(connection)
  }
  const addMs = performance.now() - addStart
  const heapAfter = process.memoryUsage().heapUsed

  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const limit = setTimeout(() => done(), TIME_LIMIT_MS)
  await allClosed
  clearTimeout(limit)
  delay.disable()
  const used = performance.eventLoopUtilization(elu)
  tracker.stop()
  lateness.sort((a, b) => a - b)
  return {
    sessions: SESSIONS,
    startAllMs: addMs,
    startPerSessionUs: (addMs * 1000) / SESSIONS,
    heapPerSessionBytes: (heapAfter - heapBefore) / SESSIONS,
    refreshNeededSent: warnings,
    refreshes,
    closed,
    timerWakeUps: tracker.timerWakeUps,
    wallMs: Date.now() - start,
    eventLoopBusyMs: used.active,
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    closeLatenessP50Ms: percentile(lateness, 0.5),
    closeLatenessP99Ms: percentile(lateness, 0.99),
    closeLatenessMaxMs: lateness.at(-1) ?? 0
  }
}

/** The same first deadlines with one setTimeout per session, for contrast (no refresh). */
async function runTimerPerSession (): Promise<Record<string, number>> {
  const heapBefore = process.memoryUsage().heapUsed
  const elu = performance.eventLoopUtilization()
  const start = Date.now()
  let fired = 0
  let done!: () => void
  const allFired = new Promise<void>((resolve) => { done = resolve })
  const timers: NodeJS.Timeout[] = []
  const addStart = performance.now()
  for (let i = 0; i < SESSIONS; i++) {
    const at = start + FIRST_EXPIRY_MS + Math.floor((i / SESSIONS) * SPREAD_MS)
    timers.push(setTimeout(() => { if (++fired === SESSIONS) done() }, at - Date.now()))
  }
  const addMs = performance.now() - addStart
  const heapAfter = process.memoryUsage().heapUsed
  const limit = setTimeout(() => done(), TIME_LIMIT_MS)
  await allFired
  clearTimeout(limit)
  const used = performance.eventLoopUtilization(elu)
  return {
    sessions: SESSIONS,
    startAllMs: addMs,
    startPerSessionUs: (addMs * 1000) / SESSIONS,
    heapPerSessionBytes: (heapAfter - heapBefore) / SESSIONS,
    timerCallbacks: fired,
    eventLoopBusyMs: used.active
  }
}

function show (title: string, result: Record<string, number>): void {
  process.stdout.write(`\n${title}\n`)
  for (const [name, value] of Object.entries(result)) {
    process.stdout.write(`  ${name.padEnd(24)} ${Number.isInteger(value) ? value : value.toFixed(3)}\n`)
  }
}

globalThis.gc?.()
show(`one expiry timer (SessionTracker), ${SESSIONS} sessions over ${SPREAD_MS / 1000} s, half refreshed`, await runTracker())
globalThis.gc?.()
show('contrast: one setTimeout per session (first deadline only)', await runTimerPerSession())
