// A rolling restart of the cluster's nodes, as a deploy does it: one node at a time, SIGTERM
// (the node drains: its clients get 1012 spread over DRAIN_MS and move through nginx to the
// other nodes), wait until the new process is ready, then the next node. Never more than one
// node away, so the others always take the clients; a node that does not come back stops the
// round, leaving the rest serving.
import { setTimeout as delay } from 'node:timers/promises'
import type { Supervisor } from './supervisor.js'

export interface RollingNode {
  supervisor: Supervisor
  /** The node's readiness route (`/ready`: 200, or 503 while draining). */
  readyUrl: string
}

async function isReady (url: string): Promise<boolean> {
  return await fetch(url, { signal: AbortSignal.timeout(1000) }).then((response) => response.status === 200, () => false)
}

/** Resolves once `url` answers 200; rejects after `timeoutMs`. */
async function waitUntilReady (url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await isReady(url)) return
    await delay(50)
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`)
}

export async function rollingRestart (nodes: readonly RollingNode[], log: (line: string) => void): Promise<void> {
  const started = Date.now()
  log(`rolling restart: ${nodes.map(({ supervisor }) => supervisor.name).join(', ')}, one at a time`)
  for (const { supervisor, readyUrl } of nodes) {
    // Its clients need somewhere to go: the others must be serving (one crashed meanwhile?).
    for (const other of nodes) {
      if (other.supervisor !== supervisor && !await isReady(other.readyUrl)) {
        throw new Error(`${other.supervisor.name} is not ready, so ${supervisor.name} is not stopped`)
      }
    }
    const stopping = Date.now()
    log(`rolling restart: stopping ${supervisor.name} (SIGTERM: it drains, its clients move to the other nodes)`)
    await supervisor.restart('SIGTERM')
    log(`rolling restart: ${supervisor.name} drained, exited and started again in ${Date.now() - stopping} ms`)
    await waitUntilReady(readyUrl)
    log(`rolling restart: ${supervisor.name} is ready`)
  }
  log(`rolling restart done in ${Date.now() - started} ms`)
}
