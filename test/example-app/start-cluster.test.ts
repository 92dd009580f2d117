// `npm run start:cluster` as a user runs it: the script starts redis-server, two nodes and
// nginx; Ctrl-C (SIGINT to the script) stops them all, nodes first so clients hear 1001.
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CloseCode } from '../../lib/index.js'
import { freePort } from '../helpers/example-cluster.js'
import { TestClient } from '../helpers/ws-client.js'

const script = fileURLToPath(new URL('../../example-app/start-cluster.ts', import.meta.url))
const server = fileURLToPath(new URL('../../example-app/server.ts', import.meta.url))

/** True when a TCP connection to the port is refused: nothing listens there. */
function portIsFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(true))
  })
}

t.test('start:cluster serves through nginx on both nodes and Ctrl-C stops everything', async (t) => {
  const [clusterPort, node1, node2, redisPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, CLUSTER_PORT: String(clusterPort), NODE_PORTS: `${node1},${node2}`, REDIS_PORT: String(redisPort), BUILD_PAGE: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('cluster ready')) resolve()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    exited.then(() => reject(new Error(`start:cluster exited early:\n${output}`)), reject)
  })

  const nodeIds = new Set<string>()
  for (const port of [node1, node2]) nodeIds.add((await (await fetch(`http://127.0.0.1:${port}/api/stats`)).json() as { nodeId: string }).nodeId)
  t.same(nodeIds, new Set(['node-1', 'node-2']))

  const client = await TestClient.connect(`ws://127.0.0.1:${clusterPort}/ws`)
  t.ok(nodeIds.has(client.welcome.nodeId), 'a WebSocket through nginx lands on a node')
  const viaNginx = await fetch(`http://127.0.0.1:${clusterPort}/api/stats`)
  t.equal((await viaNginx.json() as { broker: string }).broker, 'ready', 'the nodes use Redis')

  child.kill('SIGINT')
  t.equal((await client.closed).code, CloseCode.GOING_AWAY, 'clients are told 1001')
  t.equal(await exited, 0)
  for (const port of [clusterPort, node1, node2, redisPort]) t.ok(await portIsFree(port), `nothing listens on ${port} any more`)
})

t.test('npm start runs one node with the embedded broker and stops on SIGTERM with 1001', async (t) => {
  const port = await freePort()
  // What `npm start` runs (tsx example-app/server.ts), on a free port; the page bundle is
  // left to the end-to-end test so two runs do not write it at once.
  const child = spawn(process.execPath, ['--import', 'tsx', server], {
    env: { ...process.env, PORT: String(port), BUILD_PAGE: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      // Fastify's own log line once listen() has bound the port.
      if (output.includes('Server listening at')) resolve()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    exited.then(() => reject(new Error(`the node exited early:\n${output}`)), reject)
  })
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
  const stats = await (await fetch(`http://127.0.0.1:${port}/api/stats`)).json() as { broker: string, connections: number }
  t.match(stats, { broker: 'ready', connections: 1 })
  await client.subscribe('orders')
  await fetch(`http://127.0.0.1:${port}/api/channels/orders/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'order 7' })
  })
  t.same((await client.nextOfType('message')).data, { text: 'order 7', from: 'server' })
  child.kill('SIGTERM')
  t.equal((await client.closed).code, CloseCode.GOING_AWAY)
  t.equal(await exited, 0)
})
