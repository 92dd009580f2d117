// Starting and stopping the helper processes of the cluster (redis-server, nginx, nodes):
// wait until one is ready, stop it with a signal and wait for its exit.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

const parentWatchFile = fileURLToPath(new URL('./parent-watch.ts', import.meta.url))

export interface ProcessOptions extends SpawnOptions {
  /**
   * Stop the process when this one goes away, even by SIGKILL: it then runs under
   * parent-watch.ts, which holds an IPC channel to this process and stops the command when
   * the channel closes.
   */
  watchParent?: boolean
}

export interface ManagedProcess {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

export function startProcess (name: string, command: string, args: readonly string[], options: ProcessOptions = {}): ManagedProcess {
  const { watchParent = false, ...spawnOptions } = options
  const child = watchParent
    ? spawn(process.execPath, ['--import', 'tsx', parentWatchFile, command, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...spawnOptions })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    // A command that cannot start (ENOENT) emits 'error' and never 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }))
  })
  return {
    name,
    child,
    exited,
    async stop (signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
  }
}

/**
 * Resolves once `text` appears in the process' output; rejects if it exits first. Its
 * listeners go when it settles; the streams keep flowing, so a chatty process never blocks
 * on a full pipe.
 */
export async function waitForOutput (proc: ManagedProcess, text: string): Promise<void> {
  const { stdout, stderr } = proc.child
  let seen = ''
  let onData: (chunk: Buffer) => void = () => {}
  try {
    await new Promise<void>((resolve, reject) => {
      onData = (chunk) => {
        seen += chunk.toString()
        if (seen.includes(text)) resolve()
      }
      stdout?.on('data', onData)
      stderr?.on('data', onData)
      proc.exited.then(({ code, signal }) => reject(new Error(`${proc.name} exited (${code ?? signal}) before it was ready:\n${seen}`)), reject)
    })
  } finally {
    stdout?.off('data', onData)
    stderr?.off('data', onData)
  }
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects if the
 * process exits first or after `timeoutMs`. For servers that print nothing when ready (nginx).
 */
export async function waitForPort (proc: ManagedProcess, port: number, timeoutMs = 10_000): Promise<void> {
  let exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
  proc.exited.then((result) => { exit = result }, () => {})
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exit !== undefined) throw new Error(`${proc.name} exited (${exit.code ?? exit.signal}) before listening on ${port}`)
    if (await canConnect(port)) return
    await delay(25)
  }
  throw new Error(`${proc.name} did not listen on ${port} within ${timeoutMs} ms`)
}

function canConnect (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}
