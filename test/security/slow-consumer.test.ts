// 200 clients that never read while the server publishes about 100 MB to their channel:
// memory stays bounded, well-behaved clients get every message, the slow ones are closed
// (policy close) or skipped (policy drop).
import t from 'tap'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { CloseCode } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const FRAME_BYTES = 64 * 1024
const PAD = 'x'.repeat(FRAME_BYTES - 80)
const MiB = 1024 * 1024

/** Bytes that can be garbage-collected away only when the server lets go of queued frames. */
function heldBytes (): number {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

/** A well-behaved subscriber that remembers only the sequence numbers it got. */
class Reader {
  readonly seqs: number[] = []
  #waiters: Array<{ seq: number, resolve: () => void }> = []
  constructor (readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type !== 'message') return
      this.seqs.push(frame.data.seq)
      this.#waiters = this.#waiters.filter((waiter) => {
        if (frame.data.seq < waiter.seq) return true
        waiter.resolve()
        return false
      })
    })
  }

  /** Resolves once message `seq` (or a later one) has arrived. */
  async reached (seq: number): Promise<void> {
    if (seq < 0 || (this.seqs.at(-1) ?? -1) >= seq) return
    await new Promise<void>((resolve) => this.#waiters.push({ seq, resolve }))
  }
}

async function subscribed (url: string, channel: string): Promise<WebSocket> {
  const socket = new WebSocket(url)
  await once(socket, 'open')
  socket.send(JSON.stringify({ type: 'subscribe', channel, id: 's' }))
  for (;;) {
    const [data] = await once(socket, 'message') as [Buffer]
    if (JSON.parse(data.toString()).type === 'subscribed') return socket
  }
}

async function run (t: Parameters<typeof startServer>[0], policy: 'close' | 'drop', slowCount: number, totalBytes: number) {
  const { app, url } = await startServer(t, { plugin: { slowConsumer: { policy }, closeGracePeriod: 500 } })
  const slow: WebSocket[] = []
  for (let i = 0; i < slowCount; i++) {
    const socket = await subscribed(url, 'firehose')
    // Never reads again: everything sent to it piles up in the kernel, then in the server.
    ;(socket as WebSocket & { _socket: Socket })._socket.pause()
    slow.push(socket)
  }
  t.teardown(() => { for (const socket of slow) socket.terminate() })
  const readers = await Promise.all(Array.from({ length: 4 }, async () => new Reader(await subscribed(url, 'firehose'))))
  t.teardown(() => { for (const reader of readers) reader.socket.terminate() })

  gc()
  const before = { held: heldBytes(), rss: process.memoryUsage().rss }
  let peakHeld = before.held
  let peakRss = before.rss
  const messages = Math.ceil(totalBytes / FRAME_BYTES)
  for (let seq = 0; seq < messages; seq++) {
    // Publish as fast as the readers read (a window of 4 frames): a reader is never slow.
    await Promise.all(readers.map((reader) => reader.reached(seq - 4)))
    await app.publish('firehose', { seq, pad: PAD })
    if (seq % 64 === 0) {
      peakHeld = Math.max(peakHeld, heldBytes())
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }
  }
  await Promise.all(readers.map((reader) => reader.reached(messages - 1)))
  const stats = app.realtime.stats()
  gc()
  const after = heldBytes()
  t.comment(`${policy}: ${slowCount} slow clients, ${messages} x 64 KiB = ${(messages * FRAME_BYTES / MiB).toFixed(0)} MiB published; ` +
    `peak heap+buffers growth ${((peakHeld - before.held) / MiB).toFixed(1)} MiB, after GC ${((after - before.held) / MiB).toFixed(1)} MiB, ` +
    `peak RSS growth ${((peakRss - before.rss) / MiB).toFixed(1)} MiB; stats ${JSON.stringify({ closed: stats.slowConsumersClosed, drops: stats.slowConsumerDrops })}`)
  for (const reader of readers) {
    t.equal(reader.seqs.length, messages, 'a well-behaved client received every message')
    t.ok(reader.seqs.every((seq, index) => seq === index), 'in order')
  }
  // Without the cap every slow socket would keep every frame queued: the whole volume in memory.
  t.ok(after - before.held < 32 * MiB, `memory held after the run stays bounded (${((after - before.held) / MiB).toFixed(1)} MiB of ${(totalBytes / MiB).toFixed(0)} MiB published)`)
  return { app, stats, slow }
}

t.test('policy close: every slow consumer is closed with 1013, counted in stats', async (t) => {
  const { app, stats, slow } = await run(t, 'close', 200, 100 * 1000 * 1000)
  t.equal(stats.slowConsumersClosed, 200, 'all 200 slow clients were closed')
  t.equal(stats.slowConsumerDrops, 0)
  t.equal(app.realtime.subscriberCount('firehose'), 4, 'only the readers remain subscribed')
  // A slow client that wakes up finds the 1013 at the end of what it was sent, or a dropped link.
  const woken = slow[0] as WebSocket & { _socket: Socket }
  const closed = once(woken, 'close')
  woken._socket.resume()
  const [code] = await closed as [number]
  t.ok(code === CloseCode.TRY_AGAIN_LATER || code === CloseCode.ABNORMAL, `a woken slow client sees ${code}`)
})

t.test('policy drop: slow consumers stay connected and frames for them are skipped and counted', async (t) => {
  const { app, stats } = await run(t, 'drop', 200, 24 * 1000 * 1000)
  t.equal(stats.slowConsumersClosed, 0)
  t.ok(stats.slowConsumerDrops > 0, `frames were dropped for slow clients (${stats.slowConsumerDrops})`)
  t.equal(app.realtime.subscriberCount('firehose'), 204, 'nobody was closed')
})

t.test('policy drop: a client that keeps sending but never reads still falls to the heartbeat', async (t) => {
  const { app, connect } = await startServer(t, {
    plugin: { slowConsumer: { maxBufferedBytes: 64 * 1024, policy: 'drop' }, heartbeatInterval: 600, heartbeatTimeout: 300, rateLimit: false }
  })
  const client = await connect()
  await client.subscribe('flood')
  const serverSocket = app.realtime.connection(client.welcome.connectionId)!.socket
  const gone = once(serverSocket, 'close')
  // The client keeps talking throughout (each ping is answered, adding to its queue)...
  const chatter = setInterval(() => client.send({ type: 'ping' }), 50)
  t.teardown(() => clearInterval(chatter))
  // ...but stops reading, and the server's queue for it fills until frames are dropped.
  const clientTcp = (client.socket as WebSocket & { _socket: Socket })._socket
  clientTcp.pause()
  const payload = 'x'.repeat(60 * 1024)
  for (let i = 0; i < 2000 && app.realtime.stats().slowConsumerDrops === 0; i++) {
    await app.publish('flood', payload)
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  t.ok(app.realtime.stats().slowConsumerDrops > 0, 'frames for it are being dropped')
  // Its frames are refused while it is over the cap, so they are no sign of life.
  await gone
  clearInterval(chatter)
  // Let the client read the server's FIN, or its own close would wait out ws' 30 s timer.
  clientTcp.resume()
  t.equal(app.realtime.connection(client.welcome.connectionId), undefined, 'removed by the heartbeat')
})
