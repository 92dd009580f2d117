// `npm run start:cluster` as a user runs it: the script starts redis-server, two nodes and
// nginx; Ctrl-C (SIGINT to the script) stops them all, nodes first so clients hear 1001.
// And `npm start`, which bundles the page a fresh clone has not built yet.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CloseCode } from '../../lib/index.js'
import { waitForOutput } from '../../example-app/cluster/child-process.js'
import { portOwner } from '../../example-app/cluster/port-owner.js'
import { clusterScript, runScript, startCluster } from '../helpers/cluster-script.js'
import { freePort } from '../helpers/example-cluster.js'
import { eventually } from '../helpers/redis-server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'
import { TestClient } from '../helpers/ws-client.js'

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
  const cluster = runScript(t, 'start:cluster', clusterScript, {
    CLUSTER_PORT: String(clusterPort), NODE_PORTS: `${node1},${node2}`, REDIS_PORT: String(redisPort), BUILD_PAGE: '0', LOG_LEVEL: 'warn'
  }, 'SIGTERM')
  await waitForOutput(cluster, 'cluster ready')

  const nodeIds = new Set<string>()
  for (const port of [node1, node2]) nodeIds.add((await (await fetch(`http://127.0.0.1:${port}/api/stats`)).json() as { nodeId: string }).nodeId)
  t.same(nodeIds, new Set(['node-1', 'node-2']))

  const client = await TestClient.connect(`ws://127.0.0.1:${clusterPort}/ws`)
  t.ok(nodeIds.has(client.welcome.nodeId), 'a WebSocket through nginx lands on a node')
  const viaNginx = await fetch(`http://127.0.0.1:${clusterPort}/api/stats`)
  t.equal((await viaNginx.json() as { broker: string }).broker, 'ready', 'the nodes use Redis')

  cluster.child.kill('SIGINT')
  t.equal((await client.closed).code, CloseCode.GOING_AWAY, 'clients are told 1001')
  t.equal((await cluster.exited).code, 0)
  for (const port of [clusterPort, node1, node2, redisPort]) t.ok(await portIsFree(port), `nothing listens on ${port} any more`)
})

t.test('a node killed with SIGKILL is restarted, and its clients continue on the other node through nginx', async (t) => {
  const { ports: [clusterPort, node1, node2], output } = await startCluster(t)
  const nodePorts = new Map([['node-1', node1], ['node-2', node2]])
  const client = openClient(t, `ws://127.0.0.1:${clusterPort}/ws`)
  const first = await nextEvent(client, 'welcome')
  const messages: unknown[] = []
  await client.subscribe('orders', (data) => messages.push(data)).ready

  const victimPort = nodePorts.get(first.nodeId)
  const victim = victimPort === undefined ? undefined : await portOwner(victimPort)
  if (victim === undefined) throw new Error(`no process found for ${first.nodeId}`)
  const moved = nextEvent(client, 'welcome', undefined, 15_000)
  process.kill(victim.pid, 'SIGKILL')
  const second = await moved
  t.not(second.nodeId, first.nodeId, 'the client reconnected to the other node')
  await nextEvent(client, 'subscribed', ({ channel }) => channel === 'orders', 15_000)

  const response = await fetch(`http://127.0.0.1:${clusterPort}/api/channels/orders/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'after the crash' })
  })
  t.equal(response.status, 200)
  await eventually(() => messages.length === 1, 'the message reached the moved client')
  t.same(messages, [{ text: 'after the crash', from: 'server' }])

  await eventually(() => output().includes(`${first.nodeId} restarted`), `${first.nodeId} is restarted`, 20_000)
  const stats = await (await fetch(`http://127.0.0.1:${victimPort}/api/stats`)).json() as { nodeId: string, broker: string }
  t.match(stats, { nodeId: first.nodeId, broker: 'ready' }, 'the restarted node serves again')
  t.match(output(), new RegExp(`${first.nodeId} exited \\(SIGKILL\\); restarting`), 'the exit was reported')
})

t.test('no child outlives the cluster script killed with SIGKILL', async (t) => {
  const { cluster, ports } = await startCluster(t, 'SIGKILL')
  cluster.child.kill('SIGKILL')
  await cluster.exited
  for (const port of ports) {
    await eventually(() => portIsFree(port), `nothing listens on ${port} any more`, 15_000)
    t.pass(`port ${port} is free`)
  }
})

t.test('a start that finds its port taken says which port and by what', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const address = blocker.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const cluster = runScript(t, 'start:cluster', clusterScript, {
    CLUSTER_PORT: String(address.port), NODE_PORTS: `${await freePort()},${await freePort()}`, REDIS_PORT: String(await freePort()), BUILD_PAGE: '0'
  }, 'SIGTERM')
  let output = ''
  cluster.child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  t.equal((await cluster.exited).code, 1, 'the script stops with an error')
  t.match(output, `port ${address.port} is taken by pid ${process.pid}`)
  t.match(output, 'CLUSTER_PORT', 'and says how to move it')
})

t.test('start:cluster -- --engine mqtt runs the nodes on mosquitto: a message crosses from one node to the other', async (t) => {
  const [clusterPort, node1, node2, mqttPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const cluster = runScript(t, 'start:cluster', clusterScript, {
    CLUSTER_PORT: String(clusterPort), NODE_PORTS: `${node1},${node2}`, REDIS_PORT: String(mqttPort), BUILD_PAGE: '0', LOG_LEVEL: 'warn'
  }, 'SIGTERM', ['--engine', 'mqtt'])
  await waitForOutput(cluster, 'cluster ready')
  t.match((await portOwner(mqttPort))?.command, /mosquitto/, 'mosquitto serves the engine port')
  const onNode2 = await TestClient.connect(`ws://127.0.0.1:${node2}/ws`)
  t.teardown(() => onNode2.close())
  await onNode2.subscribe('orders')
  const response = await fetch(`http://127.0.0.1:${node1}/api/channels/orders/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'through mqtt' })
  })
  t.equal(response.status, 200)
  t.same((await onNode2.nextOfType('message')).data, { text: 'through mqtt', from: 'server' })
  cluster.child.kill('SIGINT')
  t.equal((await cluster.exited).code, 0)
  t.ok(await portIsFree(mqttPort), 'mosquitto stopped with the cluster')
})

t.test('npm start builds the page, runs one node with the embedded broker and stops on SIGTERM with 1001', async (t) => {
  const port = await freePort()
  // What `npm start` runs (tsx example-app/server.ts), on a free port, bundling the page
  // into a temp folder so that a concurrent run's bundle is neither used nor overwritten.
  const buildDir = await mkdtemp(join(tmpdir(), 'fastify-realtime-page-'))
  t.teardown(() => rm(buildDir, { recursive: true, force: true }))
  const node = runScript(t, 'npm start', server, { PORT: String(port), PAGE_BUILD_DIR: buildDir, LOG_LEVEL: 'info' }, 'SIGKILL')
  // Fastify's own log line once listen() has bound the port.
  await waitForOutput(node, 'Server listening at')

  const bundle = await fetch(`http://127.0.0.1:${port}/build/chat.js`)
  t.equal(bundle.status, 200, 'the page script was built at start')
  t.match(bundle.headers.get('content-type'), /javascript/)
  t.equal(await bundle.text(), await readFile(join(buildDir, 'chat.js'), 'utf8'), 'the fresh bundle, not one left from an earlier build')
  const page = await fetch(`http://127.0.0.1:${port}/`)
  t.match(await page.text(), /<script type="module" src="\/build\/chat\.js">/, 'which the page loads')

  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`)
  const stats = await (await fetch(`http://127.0.0.1:${port}/api/stats`)).json() as { broker: string, connections: number }
  t.match(stats, { broker: 'ready', connections: 1 })
  await client.subscribe('orders')
  await fetch(`http://127.0.0.1:${port}/api/channels/orders/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'order 7' })
  })
  t.same((await client.nextOfType('message')).data, { text: 'order 7', from: 'server' })
  node.child.kill('SIGTERM')
  t.equal((await client.closed).code, CloseCode.GOING_AWAY)
  t.equal((await node.exited).code, 0)
})
