// A peer that stops answering without closing (a frozen process, a dead NAT entry) is found
// by the heartbeat and removed: its TCP connection stays up, only pongs stop coming.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { startServer } from '../helpers/server.js'

// Plain ESM run by `node --input-type=module`: connects, prints its connection id, idles.
const CHILD = `
import WebSocket from 'ws'
const socket = new WebSocket(process.argv[1])
socket.on('message', (data) => {
  const frame = JSON.parse(data.toString())
  if (frame.type === 'welcome') console.log(frame.connectionId)
})
`

t.test('a client process frozen with SIGSTOP is removed within heartbeatInterval + heartbeatTimeout', async (t) => {
  const heartbeatInterval = 400
  const heartbeatTimeout = 200
  const logs: Array<{ msg: string, connectionId?: string }> = []
  const stream = { write: (line: string) => { logs.push(JSON.parse(line)) } }
  const { app, url, connect } = await startServer(t, {
    fastify: { logger: { level: 'info', stream } },
    plugin: { heartbeatInterval, heartbeatTimeout }
  })
  const healthy = await connect()
  t.match(await healthy.subscribe('room'), { type: 'subscribed' })

  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, url], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const [connectionId] = await once(createInterface({ input: child.stdout! }), 'line') as [string]
  const connection = app.realtime.connection(connectionId)
  t.ok(connection, 'the child is connected')
  const closed = once(connection!.socket, 'close')

  t.ok(child.kill('SIGSTOP'), 'child frozen')
  const frozenAt = performance.now()
  // Timed out only if detection takes several times its budget: a failure, not a measurement.
  const budget = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('frozen peer not removed')), 5 * (heartbeatInterval + heartbeatTimeout)).unref())
  await Promise.race([closed, budget])
  const detectedAfter = performance.now() - frozenAt
  t.comment(`frozen peer removed after ${Math.round(detectedAfter)} ms (interval ${heartbeatInterval} + timeout ${heartbeatTimeout})`)

  t.equal(app.realtime.connection(connectionId), undefined, 'the frozen connection is gone')
  t.ok(logs.some((entry) => entry.msg === 'no heartbeat answer, terminating' && entry.connectionId === connectionId), 'removed by the heartbeat')
  t.ok(app.realtime.connection(healthy.welcome.connectionId), 'the healthy client, which answers pings, stays')
  await app.publish('room', 'after')
  t.equal((await healthy.nextOfType('message')).data, 'after')
})
