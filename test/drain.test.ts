// Drain for rolling restarts: app.realtime.drain({ overMs }) closes every connection with
// 1012 spread over the window, refuses new handshakes meanwhile; app.close() can drain first.
import t from 'tap'
import WebSocket from 'ws'
import { CloseCode } from '../lib/errors.js'
import { startServer } from './helpers/server.js'
import { tryUpgrade } from './helpers/handshake.js'
import { eventually } from './helpers/redis-server.js'

interface Observed {
  code: number
  at: number
}

/** Opens `count` raw sockets in batches; each records its close code and when it came. */
async function openMany (url: string, count: number): Promise<{ sockets: WebSocket[], closes: Array<Promise<Observed>> }> {
  const sockets: WebSocket[] = []
  const closes: Array<Promise<Observed>> = []
  for (let start = 0; start < count; start += 200) {
    const batch: Array<Promise<void>> = []
    for (let i = start; i < Math.min(count, start + 200); i++) {
      const socket = new WebSocket(url)
      sockets.push(socket)
      closes.push(new Promise((resolve) => socket.once('close', (code) => resolve({ code, at: performance.now() }))))
      // Open means welcomed: the server has the connection in its table.
      batch.push(new Promise((resolve, reject) => { socket.once('message', () => resolve()); socket.once('error', reject) }))
    }
    await Promise.all(batch)
  }
  return { sockets, closes }
}

function quantile (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

t.test('2,000 connections drained: every one closed with 1012, the closes spread over the window, new handshakes refused', async (t) => {
  const { app, url } = await startServer(t, { plugin: { maxConnections: 5000 } })
  const count = 2000
  const overMs = 2000
  const { closes } = await openMany(url, count)
  t.equal(app.realtime.connectionCount, count)

  const drained = app.realtime.drain({ overMs })
  t.ok(app.realtime.draining)
  const upgrade = await tryUpgrade(url)
  t.equal(upgrade.status, 503, 'a draining node takes no new connection')
  t.equal(app.realtime.drain({ overMs: 1 }), drained, 'a second drain is the one under way')
  await drained
  const observed = await Promise.all(closes)
  t.ok(observed.every((close) => close.code === CloseCode.SERVICE_RESTART), 'every close is 1012')
  t.equal(app.realtime.connectionCount, 0)

  // The spread, not absolute times: the middle 80% of closes covers a good part of the window
  // (a herd closed at once would put them all within a few milliseconds).
  const times = observed.map((close) => close.at).sort((a, b) => a - b)
  const middle80 = quantile(times, 0.9) - quantile(times, 0.1)
  t.ok(middle80 >= overMs * 0.4, `the middle 80% of closes spans ${Math.round(middle80)} ms of the ${overMs} ms window`)
})

t.test('drain with no connections resolves at once; a bad overMs is refused', async (t) => {
  const { app } = await startServer(t)
  t.throws(() => app.realtime.drain({ overMs: -1 }), /overMs/)
  t.throws(() => app.realtime.drain({ overMs: Number.NaN }), /overMs/)
  t.notOk(app.realtime.draining)
  await app.realtime.drain({ overMs: 1000 })
  t.ok(app.realtime.draining)
  t.equal((await tryUpgrade(app.listeningOrigin.replace('http', 'ws') + '/ws')).status, 503)
})

t.test('a drained client that does not answer the close is cut off after the grace period', async (t) => {
  const { app, url } = await startServer(t, { plugin: { closeGracePeriod: 50 } })
  const { sockets, closes } = await openMany(url, 3)
  // This client stops reading: the 1012 close frame is never answered.
  sockets[0]!.pause()
  await app.realtime.drain({ overMs: 0 })
  t.equal(app.realtime.connectionCount, 0, 'every socket is gone once drain resolves')
  sockets[0]!.resume()
  const codes = (await Promise.all(closes)).map((close) => close.code)
  t.same(codes.slice(1), [1012, 1012])
})

t.test('app.close() with drainOnClose closes with 1012 first, within drainOnClose + closeGracePeriod', async (t) => {
  const { app, url } = await startServer(t, { plugin: { drainOnClose: 300 } })
  const { closes } = await openMany(url, 20)
  await app.close()
  const codes = (await Promise.all(closes)).map((close) => close.code)
  t.ok(codes.every((code) => code === CloseCode.SERVICE_RESTART), 'every client saw 1012 (service restart), not 1001')
})

t.test('a handshake still authenticating when the drain begins is closed with 1012 once upgraded', async (t) => {
  let release!: () => void
  const authenticating = new Promise<void>((resolve) => { release = resolve })
  let started!: () => void
  const reached = new Promise<void>((resolve) => { started = resolve })
  const { app, url } = await startServer(t, {
    plugin: {
      authenticate: async () => {
        started()
        await authenticating
        return { id: 'late' }
      }
    }
  })
  const socket = new WebSocket(url)
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
  await reached
  const drained = app.realtime.drain({ overMs: 0 })
  release()
  t.equal(await closed, CloseCode.SERVICE_RESTART)
  await drained
  await eventually(() => app.realtime.connectionCount === 0, 'the node has seen the close')
})
