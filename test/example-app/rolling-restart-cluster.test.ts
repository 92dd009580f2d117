// A rolling restart of `npm run start:cluster` as an operator runs it: `kill -USR2` to the
// script restarts node-1 then node-2, each draining over DRAIN_MS. Real redis-server, real
// nginx (the repository's nginx.conf), the two real node processes, and the package's own
// RealtimeClient through nginx. Checked as a user would: every client reconnected, came
// back subscribed, never failed an attempt or gave up, and the reconnects of each drain were
// spread over its window rather than arriving at once (their distribution, not their timing).
import { request } from 'node:http'
import t from 'tap'
import WebSocket from 'ws'
import { waitForOutput } from '../../example-app/cluster/child-process.js'
import { portOwner } from '../../example-app/cluster/port-owner.js'
import { CloseCode } from '../../lib/errors.js'
import type { RealtimeClient } from '../../lib/client/index.js'
import { startCluster } from '../helpers/cluster-script.js'
import { eventually } from '../helpers/redis-server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

const DRAIN_MS = 2000
const CHANNEL = 'rolling'

/** `ws` bound to one local address: nginx's ip_hash picks the node by the client's /24. */
function webSocketFrom (localAddress: string): typeof WebSocket {
  return class extends WebSocket {
    constructor (url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { localAddress })
    }
  } as unknown as typeof WebSocket
}

/** The node nginx sends requests from `localAddress` to. */
function nodeFor (nginxUrl: string, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(`${nginxUrl}/api/stats`, { localAddress }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString() })
      response.on('end', () => resolve((JSON.parse(body) as { nodeId: string }).nodeId))
    }).on('error', reject).end()
  })
}

/** A loopback address (one per /24) that nginx sends to each node. */
async function addressPerNode (nginxUrl: string): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  for (let net = 1; net < 100 && found.size < 2; net++) {
    const address = `127.0.${net}.1`
    const nodeId = await nodeFor(nginxUrl, address)
    if (!found.has(nodeId)) found.set(nodeId, address)
  }
  return found
}

interface Watched {
  client: RealtimeClient
  /** The node of each welcome, in order. */
  nodes: string[]
  closes: Array<{ code: number, node: string, at: number }>
  reconnects: Array<{ from: string, at: number }>
  errors: Error[]
  /** Subscribed again since the last welcome. */
  subscribed: boolean
  messages: unknown[]
}

function watch (client: RealtimeClient): Watched {
  const watched: Watched = { client, nodes: [], closes: [], reconnects: [], errors: [], subscribed: false, messages: [] }
  client.on('welcome', (welcome) => {
    watched.nodes.push(welcome.nodeId)
    watched.subscribed = false
  })
  client.on('close', ({ code }) => { watched.closes.push({ code, node: watched.nodes.at(-1) ?? '', at: performance.now() }) })
  client.on('open', ({ reconnected }) => {
    if (reconnected) watched.reconnects.push({ from: watched.closes.at(-1)?.node ?? '', at: performance.now() })
  })
  client.on('subscribed', ({ channel }) => { if (channel === CHANNEL) watched.subscribed = true })
  client.on('error', (err) => { watched.errors.push(err) })
  client.subscribe(CHANNEL, (data) => watched.messages.push(data))
  return watched
}

/** How the times spread over the drain window: span, middle 80% and the fullest tenth of the window. */
function spread (times: number[]): { count: number, spanMs: number, middle80Ms: number, fullestTenth: number, histogram: number[] } {
  const sorted = [...times].sort((x, y) => x - y)
  const first = sorted[0] ?? 0
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? first
  const histogram: number[] = []
  for (const time of sorted) {
    const bin = Math.floor((time - first) / (DRAIN_MS / 10))
    histogram[bin] = (histogram[bin] ?? 0) + 1
  }
  const counts = Array.from(histogram, (count) => count ?? 0)
  return {
    count: sorted.length,
    spanMs: Math.round((sorted.at(-1) ?? first) - first),
    middle80Ms: Math.round(at(0.9) - at(0.1)),
    fullestTenth: Math.max(...counts) / sorted.length,
    histogram: counts
  }
}

async function post (url: string, text: string): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) })
  return response.status
}

t.test('kill -USR2 restarts the nodes one at a time: every client moves over and back, resubscribed, its reconnects spread over the drain', async (t) => {
  const { cluster, ports: [clusterPort, node1Port, node2Port], output } = await startCluster(t, 'SIGTERM', { DRAIN_MS: String(DRAIN_MS) })
  const nginxUrl = `http://127.0.0.1:${clusterPort}`
  const addresses = await addressPerNode(nginxUrl)
  t.same([...addresses.keys()].sort(), ['node-1', 'node-2'], 'client addresses that nginx sends to each node')

  // 40 clients on node-1 (restarted first: they move to node-2, then back) and 10 on node-2.
  const onNode1 = Array.from({ length: 40 }, () => watch(openClient(t, `ws://127.0.0.1:${clusterPort}/ws`, { WebSocket: webSocketFrom(addresses.get('node-1')!) })))
  const onNode2 = Array.from({ length: 10 }, () => watch(openClient(t, `ws://127.0.0.1:${clusterPort}/ws`, { WebSocket: webSocketFrom(addresses.get('node-2')!) })))
  const everyone = [...onNode1, ...onNode2]
  await Promise.all(everyone.map(({ client }) => nextEvent(client, 'subscribed', undefined, 30_000)))
  t.ok(onNode1.every(({ nodes }) => nodes[0] === 'node-1') && onNode2.every(({ nodes }) => nodes[0] === 'node-2'), 'clients start on the node of their address')

  const done = waitForOutput(cluster, 'rolling restart done')
  cluster.child.kill('SIGUSR2')
  await done
  // The last drain's clients may still be waiting out their jitter. A client still away after
  // 30 s is backing off from failed attempts: the checks below say how many and why.
  const back = ({ client, subscribed, reconnects, closes }: Watched): boolean => client.state === 'open' && subscribed && reconnects.length === closes.length
  await eventually(() => everyone.every(back), 'every client is back', 30_000).catch(() => {})
  t.equal(everyone.filter(back).length, everyone.length, 'every client is connected and subscribed again')

  t.match(output(), /rolling restart: stopping node-1[\s\S]*node-1 is ready[\s\S]*rolling restart: stopping node-2[\s\S]*node-2 is ready/, 'node-1, then node-2, each ready before the next')
  t.notMatch(output(), /exited \(/, 'the supervisor did not take the restarts for crashes')

  t.ok(everyone.every(({ closes }) => closes.every(({ code }) => code === CloseCode.SERVICE_RESTART)), 'every close was a 1012: no reconnect attempt failed on the way')
  t.same(everyone.flatMap(({ errors }) => errors.map((err) => err.message)), [], 'no client reported an error or gave up')
  t.ok(onNode1.every(({ nodes }) => nodes.join(' ') === 'node-1 node-2 node-1'), 'node-1\'s clients moved to node-2 and back')
  t.ok(onNode2.every(({ nodes }) => nodes.join(' ') === 'node-2 node-1'), 'node-2\'s clients moved to node-1')

  // Resubscribed: a message published on each node reaches every client through Redis.
  t.equal(await post(`http://127.0.0.1:${node1Port}/api/channels/${CHANNEL}/messages`, 'from node-1'), 200)
  t.equal(await post(`http://127.0.0.1:${node2Port}/api/channels/${CHANNEL}/messages`, 'from node-2'), 200)
  await eventually(() => everyone.every(({ messages }) => messages.length >= 2), 'both messages reached every client', 10_000)
  t.ok(everyone.every(({ messages }) => messages.length === 2), 'each client got each message once')

  // Spread: per drain, the reconnects of its clients, against the drain window (DRAIN_MS). Had
  // the node closed them all at once, the client's own jitter (up to 1 s after a 1012) would
  // spread them over less than 1 s: half the window.
  for (const node of ['node-1', 'node-2']) {
    const reconnects = everyone.flatMap(({ reconnects }) => reconnects.filter(({ from }) => from === node).map(({ at }) => at))
    const closes = everyone.flatMap(({ closes }) => closes.filter((close) => close.node === node).map(({ at }) => at))
    const measured = spread(reconnects)
    t.comment(`${node} drained over ${DRAIN_MS} ms: closes ${JSON.stringify(spread(closes))}; reconnects ${JSON.stringify(measured)} (histogram: per ${DRAIN_MS / 10} ms)`)
    t.equal(measured.count, node === 'node-1' ? 40 : 50, `every client of ${node} reconnected`)
    t.ok(measured.spanMs >= 0.75 * DRAIN_MS, `${node}: first to last reconnect ${measured.spanMs} ms, at least 3/4 of the drain window`)
    t.ok(measured.middle80Ms >= 0.5 * DRAIN_MS, `${node}: the middle 80% of reconnects spans ${measured.middle80Ms} ms, at least half the window`)
    t.ok(measured.fullestTenth <= 0.25, `${node}: at most 25% of the reconnects in any tenth of the window (fullest: ${Math.round(measured.fullestTenth * 100)}%)`)
  }
})

t.test('a rolling restart never stops a node while the other is down: it stops, leaving the cluster to recover', async (t) => {
  const { cluster, ports: [clusterPort, node1Port, node2Port], output } = await startCluster(t, 'SIGTERM', { DRAIN_MS: String(DRAIN_MS) })
  const client = watch(openClient(t, `ws://127.0.0.1:${clusterPort}/ws`))
  await nextEvent(client.client, 'subscribed', undefined, 30_000)

  // node-2 crashes; while the supervisor waits to start it again, a rolling restart is asked for.
  const node2 = node2Port === undefined ? undefined : await portOwner(node2Port)
  if (node2 === undefined) throw new Error('no process listens for node-2')
  const crashReported = waitForOutput(cluster, 'node-2 exited (SIGKILL)')
  process.kill(node2.pid, 'SIGKILL')
  await crashReported
  const refused = waitForOutput(cluster, 'rolling restart stopped')
  cluster.child.kill('SIGUSR2')
  await refused
  t.match(output(), /rolling restart stopped: node-2 is not ready, so node-1 is not stopped; the other nodes keep serving/)
  t.notMatch(output(), /stopping node-1/, 'node-1 was left alone')
  t.equal((await (await fetch(`http://127.0.0.1:${node1Port}/ready`)).json() as { ready: boolean }).ready, true, 'node-1 still serves')

  // Once node-2 is back, the next USR2 goes through.
  await eventually(() => output().includes('node-2 restarted'), 'node-2 is started again', 30_000)
  const done = waitForOutput(cluster, 'rolling restart done')
  cluster.child.kill('SIGUSR2')
  await done
  await eventually(() => client.client.state === 'open' && client.subscribed, 'the client is back and subscribed', 30_000)
  t.ok(client.closes.length >= 1 && client.errors.length === 0, 'the client was moved, and reported no error')
})
