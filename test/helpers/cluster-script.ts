// Runs the example's scripts (start-cluster.ts, server.ts) as a user does, as child processes
// that the test stops at teardown.
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { startProcess, waitForOutput, type ManagedProcess } from '../../example-app/cluster/child-process.js'
import { freePort } from './example-cluster.js'

export const clusterScript = fileURLToPath(new URL('../../example-app/start-cluster.ts', import.meta.url))

/**
 * Runs a script with tsx (as the npm scripts do), stopped at teardown if still running:
 * start:cluster with SIGTERM, so that it takes down the children it started.
 */
export function runScript (t: Test, name: string, file: string, env: Record<string, string>, stopSignal: NodeJS.Signals, args: readonly string[] = []): ManagedProcess {
  // tsx transpiles lib/ differently from tap's loader: its line maps would corrupt the
  // coverage report, so these children (and their children) record none.
  const childEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', ...env }
  const proc = startProcess(name, process.execPath, ['--import', 'tsx', file, ...args], { env: childEnv })
  t.teardown(() => proc.stop(stopSignal))
  return proc
}

export interface StartedCluster {
  cluster: ManagedProcess
  /** nginx, node-1, node-2, Redis. */
  ports: number[]
  /** Everything the script printed so far. */
  output: () => string
}

/** Starts `npm run start:cluster` on free ports (more environment in `env`) and waits until it is ready. */
export async function startCluster (t: Test, stopSignal: NodeJS.Signals = 'SIGTERM', env: Record<string, string> = {}): Promise<StartedCluster> {
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()]
  const [clusterPort, node1, node2, redisPort] = ports
  const cluster = runScript(t, 'start:cluster', clusterScript, {
    CLUSTER_PORT: String(clusterPort), NODE_PORTS: `${node1},${node2}`, REDIS_PORT: String(redisPort), BUILD_PAGE: '0', LOG_LEVEL: 'warn', ...env
  }, stopSignal)
  let output = ''
  cluster.child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await waitForOutput(cluster, 'cluster ready')
  return { cluster, ports, output: () => output }
}
