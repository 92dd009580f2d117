// Runs a TypeScript file in a child Node process (through tsx) to its exit: for behaviour that
// needs a process of its own (node:cluster primaries, processes that exit). The child records
// no coverage: its line maps would corrupt those of lib/.
import { spawn } from 'node:child_process'
import type { Test } from 'tap'

export async function runTsxScript (t: Test, file: string, args: string[] = []): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, output }
}
