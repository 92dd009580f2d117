// `npm run start:workers` as a user runs it: a node:cluster primary forks workers behind one
// port and relays frames between them (the cluster broker). Clients land on different
// workers; a publish on any worker reaches all of them once and in one order; a worker killed
// with SIGKILL is forked again and its clients come back with their channels.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { CloseCode } from '../../lib/index.js'
import type { RealtimeClient } from '../../lib/client/index.js'
import { startProcess, waitForOutput } from '../../example-app/cluster/child-process.js'
import { freePort } from '../helpers/example-cluster.js'
import { eventually } from '../helpers/redis-server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

const script = fileURLToPath(new URL('../../example-app/start-workers.ts', import.meta.url))

async function workerPids (primaryPid: number): Promise<number[]> {
  const text = await readFile(`/proc/${primaryPid}/task/${primaryPid}/children`, 'utf8')
  return text.trim().split(/\s+/).filter(Boolean).map(Number)
}

async function post (port: number, channel: string, text: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/channels/${channel}/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text })
  })
  return response.status
}

t.test('start:workers shares channels between workers, forks a dead one again, and Ctrl-C stops them all', async (t) => {
  const port = await freePort()
  const primary = startProcess('start:workers', process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: String(port), WORKERS: '2', BUILD_PAGE: '0', LOG_LEVEL: 'warn' }
  })
  t.teardown(() => primary.stop('SIGTERM'))
  let output = ''
  primary.child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await waitForOutput(primary, 'workers ready: 2')

  const clients: RealtimeClient[] = []
  const received = new Map<RealtimeClient, string[]>()
  const nodeOf = new Map<RealtimeClient, string>()
  for (let i = 0; i < 6; i++) {
    const client = openClient(t, `ws://127.0.0.1:${port}/ws`)
    const welcome = nextEvent(client, 'welcome')
    received.set(client, [])
    client.subscribe<{ text: string }>('orders', (data) => received.get(client)!.push(data.text))
    nodeOf.set(client, (await welcome).nodeId)
    clients.push(client)
  }
  await Promise.all(clients.map(async (client) => await client.subscribe('orders', () => {}).ready))
  t.same(new Set(nodeOf.values()), new Set(['worker-1', 'worker-2']), 'the clients are spread over both workers')

  const texts = Array.from({ length: 40 }, (_, i) => `order ${i}`)
  const statuses = await Promise.all(texts.map((text) => post(port, 'orders', text)))
  t.ok(statuses.every((status) => status === 200), 'every publish accepted, on whichever worker')
  await eventually(() => clients.every((client) => received.get(client)!.length >= texts.length), 'every client got every message')
  const first = received.get(clients[0]!)!
  t.same([...first].sort(), [...texts].sort(), 'each message once')
  for (const client of clients) t.same(received.get(client), first, `${nodeOf.get(client) ?? ''} saw the same order`)

  // One worker dies: the primary forks another; its clients reconnect (to either worker) with their channels.
  const [victim] = await workerPids(primary.child.pid!)
  if (victim === undefined) throw new Error('no worker process found')
  // node:cluster gives each worker its id in NODE_UNIQUE_ID; the app names its node after it.
  const environ = await readFile(`/proc/${victim}/environ`, 'utf8')
  const victimName = `worker-${/(?:^|\0)NODE_UNIQUE_ID=(\d+)/.exec(environ)?.[1] ?? '?'}`
  const orphans = clients.filter((client) => nodeOf.get(client) === victimName)
  t.ok(orphans.length > 0, `some clients were on ${victimName}`)
  const welcomedAgain = orphans.map((client) => nextEvent(client, 'welcome', undefined, 20_000))
  const resubscribed = orphans.map((client) => nextEvent(client, 'subscribed', ({ channel }) => channel === 'orders', 20_000))
  process.kill(victim, 'SIGKILL')
  await eventually(() => /exited \(SIGKILL\); forking another/.test(output), 'the primary reports the exit')
  for (const welcome of await Promise.all(welcomedAgain)) t.not(welcome.nodeId, victimName, 'a client of the dead worker reconnected to a live one')
  await Promise.all(resubscribed)
  await eventually(async () => (await workerPids(primary.child.pid!)).length === 2, 'two workers again', 20_000)
  for (const list of received.values()) list.length = 0
  t.equal(await post(port, 'orders', 'after the crash'), 200)
  await eventually(() => clients.every((client) => received.get(client)!.length === 1), 'every client got the message after the crash', 20_000)
  t.ok(clients.every((client) => received.get(client)![0] === 'after the crash'))

  const closed = clients.map((client) => nextEvent(client, 'close', undefined, 10_000))
  primary.child.kill('SIGINT')
  const codes = await Promise.all(closed)
  t.ok(codes.every(({ code }) => code === CloseCode.GOING_AWAY), 'every client is told 1001')
  t.equal((await primary.exited).code, 0)
})
