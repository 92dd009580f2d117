// A worker that exits while the primary still has a delivery or an ack to write to it made
// the primary throw an unhandled 'error' (EPIPE, or ERR_IPC_CHANNEL_CLOSED when the write came
// in the next turn, as batched writes do): the primary died and every worker with it.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const fixture = fileURLToPath(new URL('../fixtures/worker-exits-mid-delivery.ts', import.meta.url))

t.test('the cluster primary lives on when a worker exits with writes to it pending', async (t) => {
  for (let run = 0; run < 3; run++) {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    t.equal(code, 0, `run ${run + 1}: the primary exits on its own terms`)
    t.match(output, /primary survived/)
    t.notMatch(output, /Unhandled 'error' event/)
  }
})
