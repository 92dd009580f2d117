// The cluster script's process helpers: waiting for a line of output leaves no listener behind.
import t, { type Test } from 'tap'
import { startProcess, waitForOutput, type ManagedProcess } from '../../example-app/cluster/child-process.js'

function runNode (t: Test, code: string): ManagedProcess {
  const proc = startProcess('node', process.execPath, ['-e', code])
  t.teardown(() => proc.stop('SIGKILL'))
  return proc
}

function dataListeners (proc: ManagedProcess): number[] {
  return [proc.child.stdout!.listenerCount('data'), proc.child.stderr!.listenerCount('data')]
}

t.test('waitForOutput resolves on the text and removes its data listeners', async (t) => {
  const proc = runNode(t, "console.log('starting'); console.error('ready to go'); setInterval(() => {}, 60000)")
  await waitForOutput(proc, 'ready to go')
  t.same(dataListeners(proc), [0, 0], 'no listener left on stdout or stderr')
  t.equal(proc.child.exitCode, null, 'the process runs on')
})

t.test('waitForOutput rejects when the process exits first, and removes its listeners too', async (t) => {
  const proc = runNode(t, "console.log('oops'); process.exit(3)")
  await t.rejects(waitForOutput(proc, 'never printed'), { message: /node exited \(3\) before it was ready:\noops/ })
  t.same(dataListeners(proc), [0, 0])
})
