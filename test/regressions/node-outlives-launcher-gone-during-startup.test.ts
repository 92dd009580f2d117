// A node of the example cluster (server.ts, started with an IPC channel by start-cluster.ts)
// stops when that channel closes, so no node outlives the launcher. It listened for the
// channel's 'disconnect' only once the app was built: a launcher that went away while the node
// was still starting (Ctrl-C during a rolling restart or a crash restart) left the node serving
// on its port for ever, with nobody to stop it. The watch now starts with the module: a node
// not serving yet exits at once, one serving closes (cut short after 10 s).
import { spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort } from '../helpers/example-cluster.js'

const serverFile = fileURLToPath(new URL('../../example-app/server.ts', import.meta.url))

t.test('a node whose launcher went away while it was starting stops by itself', { timeout: 30_000 }, async (t) => {
  const port = await freePort()
  const node = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: String(port), BUILD_PAGE: '0', LOG_LEVEL: 'info' }
  })
  t.teardown(() => { if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL') })
  const exited = new Promise<number | null>((resolve) => node.once('exit', resolve))
  // The launcher's end of the channel closes while the node is still loading.
  node.disconnect()
  t.equal(await exited, 0, 'the node exits on its own, cleanly')
})

t.test('a node stuck starting (its Redis accepts but never answers) stops when the launcher goes away', { timeout: 30_000 }, async (t) => {
  // A Redis that takes the connection and says nothing: the node cannot finish starting.
  const silent = net.createServer((socket) => { t.teardown(() => socket.destroy()) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => silent.close())
  const redisPort = (silent.address() as net.AddressInfo).port
  let connected: () => void
  const redisReached = new Promise<void>((resolve) => { connected = resolve })
  silent.on('connection', () => connected())

  const port = await freePort()
  const node = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: String(port), BUILD_PAGE: '0', LOG_LEVEL: 'info', REDIS_URL: `redis://127.0.0.1:${redisPort}` }
  })
  t.teardown(() => { if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL') })
  let output = ''
  node.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  node.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => node.once('exit', resolve))
  await redisReached
  node.disconnect()
  t.equal(await exited, 0, 'the node exits at once, not when its start fails')
  t.notMatch(output, /Server listening|cannot reach Redis/i, 'it never served')
})
