// Runs a command that cannot watch its parent itself (redis-server, nginx) and stops it when
// the launcher goes away, however it goes: the launcher spawns this file with an IPC channel,
// which the kernel closes when the launcher dies, even by SIGKILL. The command's output is
// this process' output; signals sent to this process are passed on to the command.
//   node --import tsx parent-watch.ts <command> [args...]
import { spawn } from 'node:child_process'

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  process.stderr.write('usage: parent-watch.ts <command> [args...]\n')
  process.exit(2)
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] })
child.once('error', (err) => {
  process.stderr.write(`${command}: ${err.message}\n`)
  process.exit(127)
})
child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)))

for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) {
  process.on(signal, () => child.kill(signal))
}

// No parent any more: stop the command, and make sure it does not linger.
process.once('disconnect', () => {
  child.kill('SIGTERM')
  setTimeout(() => child.kill('SIGKILL'), 3000).unref()
})
