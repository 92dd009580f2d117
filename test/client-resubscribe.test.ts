// The Node client's resubscribes after a reconnect against a slow server: a channel the
// server confirmed before is kept when its resubscribe times out and asked for again;
// a channel never confirmed is let go as before; final refusals drop either.
import t, { type Test } from 'tap'
import type { WebSocket } from 'ws'
import { ErrorCode, RealtimeError } from '../lib/client/index.js'
import { startRawServer } from './helpers/raw-ws-server.js'
import { nextEvent, openClient, record } from './helpers/realtime-client.js'

// Short timeouts and delays so a test takes a fraction of a second; jitter stays on unless
// pinned. The timeout leaves a loaded machine room to answer the frames that are answered.
const quick = { initialDelay: 20, maxDelay: 50, requestTimeout: 200 }

interface Frame { type: string, id?: string, channel?: string, ts?: number }

/** One accepted socket: what it received, and how many subscribes per channel. */
interface ServerSide {
  socket: WebSocket
  frames: Frame[]
  subscribes: Map<string, number>
}

type Answer = (frame: Frame, side: ServerSide, connection: number) => void

/** A bare server that answers pings, and every other frame as `answer` says (nothing by default). */
async function scriptedServer (t: Test, answer: Answer): Promise<{ url: string, sides: ServerSide[] }> {
  const { server, url } = await startRawServer(t)
  const sides: ServerSide[] = []
  server.on('connection', (socket) => {
    const side: ServerSide = { socket, frames: [], subscribes: new Map() }
    sides.push(side)
    const connection = sides.length
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      side.frames.push(frame)
      if (frame.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong', ts: frame.ts, serverTs: Date.now() }))
        return
      }
      if (frame.type === 'subscribe') side.subscribes.set(frame.channel!, (side.subscribes.get(frame.channel!) ?? 0) + 1)
      answer(frame, side, connection)
    })
  })
  return { url, sides }
}

function confirm (frame: Frame, side: ServerSide): void {
  side.socket.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, id: frame.id }))
}

function refuse (frame: Frame, side: ServerSide, code: ErrorCode): void {
  side.socket.send(JSON.stringify({ type: 'error', code, message: 'refused', id: frame.id }))
}

const codes = (errors: Error[]): unknown[] => errors.map((err) => (err as RealtimeError).code)
const typesOf = (side: ServerSide): string[] => side.frames.filter((frame) => frame.type !== 'ping').map((frame) => frame.type)

/** A client holding `channel`, once the first connection has confirmed it. */
async function holdChannel (t: Test, url: string, channel: string, options = {}) {
  const client = openClient(t, url, { ...quick, ...options })
  const received: unknown[] = []
  const subscription = client.subscribe(channel, (data) => received.push(data))
  await subscription.ready
  return { client, received, subscription }
}

t.test('a confirmed channel whose resubscribe times out is kept and asked for again until the server confirms', async (t) => {
  // Second connection: silent on the first resubscribe, broker_unavailable on the next, then confirmed.
  const { url, sides } = await scriptedServer(t, (frame, side, connection) => {
    if (frame.type !== 'subscribe') return
    const nth = side.subscribes.get(frame.channel!)
    if (connection === 1 || nth === 3) confirm(frame, side)
    else if (nth === 2) refuse(frame, side, ErrorCode.BROKER_UNAVAILABLE)
  })
  const { client, received } = await holdChannel(t, url, 'room')
  const errors = record(client, 'error')
  const resubscribed = nextEvent(client, 'subscribed')
  sides[0]!.socket.terminate()
  t.same(await resubscribed, { channel: 'room' }, 'the third subscribe on the new connection got through')
  t.same(codes(errors), [ErrorCode.REQUEST_TIMEOUT, ErrorCode.BROKER_UNAVAILABLE], 'each temporary failure was reported')
  t.same(client.channels, ['room'], 'the channel was held throughout')
  t.same(typesOf(sides[1]!), ['subscribe', 'subscribe', 'subscribe'], 'asked again, never let go')

  const delivered = nextEvent(client, 'message')
  sides[1]!.socket.send(JSON.stringify({ type: 'message', channel: 'room', data: 'still here', ts: Date.now() }))
  await delivered
  t.same(received, ['still here'], 'the handler still receives')
})

t.test('a confirmed channel whose resubscribe timed out is subscribed again on the next reconnect', async (t) => {
  // The second connection never answers a subscribe; the first and third do.
  const { url, sides } = await scriptedServer(t, (frame, side, connection) => {
    if (frame.type === 'subscribe' && connection !== 2) confirm(frame, side)
  })
  const { client } = await holdChannel(t, url, 'room')
  const timedOut = nextEvent(client, 'error')
  sides[0]!.socket.terminate()
  t.match(await timedOut, { code: ErrorCode.REQUEST_TIMEOUT, message: /subscribe/ })
  t.same(client.channels, ['room'])

  const resubscribed = nextEvent(client, 'subscribed')
  sides[1]!.socket.terminate()
  t.same(await resubscribed, { channel: 'room' })
  t.equal(sides.length, 3, 'confirmed on the third connection')
  t.same(typesOf(sides[2]!), ['subscribe'])
})

for (const stop of ['unsubscribe', 'close'] as const) {
  t.test(`${stop === 'close' ? 'close()' : 'unsubscribing'} while a confirmed channel waits for its retry stops the retries`, async (t) => {
    const { url, sides } = await scriptedServer(t, (frame, side, connection) => {
      if (frame.type === 'subscribe' && connection === 1) confirm(frame, side)
    })
    // random 0: every retry and reconnect delay is 0 ms, so one 0 ms timer set later runs after any of them.
    const { client, subscription } = await holdChannel(t, url, 'room', { random: () => 0 })
    let heldAtTimeout: string[] = []
    const timedOut = nextEvent(client, 'error')
    client.once('error', () => {
      heldAtTimeout = client.channels
      if (stop === 'unsubscribe') subscription()
      else client.close()
    })
    sides[0]!.socket.terminate()
    t.match(await timedOut, { code: ErrorCode.REQUEST_TIMEOUT })
    t.same(heldAtTimeout, ['room'], 'the channel was still held when the timeout was reported')
    await new Promise((resolve) => setTimeout(resolve, 0))
    if (stop === 'unsubscribe') {
      await client.ping() // answered after any frame the client wrote before it
      t.same(typesOf(sides[1]!), ['subscribe', 'unsubscribe'], 'no subscribe after the unsubscribe')
      t.same(client.channels, [])
      t.equal(client.state, 'open')
    } else {
      t.equal(client.state, 'closed')
      t.same(typesOf(sides[1]!), ['subscribe'])
      t.equal(sides.length, 2, 'no reconnect either')
    }
  })
}

t.test('a channel never confirmed is let go when its subscribe after a reconnect times out; a confirmed one is kept', async (t) => {
  // The second connection stays silent on the first subscribe of each channel and confirms later ones.
  const { url, sides } = await scriptedServer(t, (frame, side, connection) => {
    if (frame.type === 'subscribe' && (connection === 1 || side.subscribes.get(frame.channel!)! > 1)) confirm(frame, side)
  })
  const { client } = await holdChannel(t, url, 'held')
  const reconnecting = nextEvent(client, 'reconnecting')
  sides[0]!.socket.terminate()
  await reconnecting
  const fresh = client.subscribe('fresh', () => {})
  const errors = record(client, 'error')
  const resubscribed = nextEvent(client, 'subscribed')
  await t.rejects(fresh.ready, { code: ErrorCode.REQUEST_TIMEOUT }, 'ready of the new channel rejects')
  t.same(await resubscribed, { channel: 'held' }, 'the held channel was asked for again and confirmed')
  t.same(client.channels, ['held'])
  t.same(codes(errors), [ErrorCode.REQUEST_TIMEOUT, ErrorCode.REQUEST_TIMEOUT], 'both timeouts reported')
  t.ok(sides[1]!.frames.some((frame) => frame.type === 'unsubscribe' && frame.channel === 'fresh'), 'the let-go channel is unsubscribed')
  t.notOk(sides[1]!.frames.some((frame) => frame.type === 'unsubscribe' && frame.channel === 'held'), 'the held one is not')
})

for (const code of [ErrorCode.FORBIDDEN, ErrorCode.INVALID_CHANNEL, ErrorCode.TOO_MANY_SUBSCRIPTIONS]) {
  t.test(`a confirmed channel refused with ${code} on its retry is dropped, with an error event`, async (t) => {
    // Second connection: silent on the first resubscribe, the final refusal on the retry.
    const { url, sides } = await scriptedServer(t, (frame, side, connection) => {
      if (frame.type !== 'subscribe') return
      if (connection === 1) confirm(frame, side)
      else if (side.subscribes.get(frame.channel!) === 2) refuse(frame, side, code)
    })
    const { client } = await holdChannel(t, url, 'room')
    const errors = record(client, 'error')
    const refused = nextEvent(client, 'error', (err) => (err as RealtimeError).code === code)
    sides[0]!.socket.terminate()
    await refused
    t.same(codes(errors), [ErrorCode.REQUEST_TIMEOUT, code])
    t.same(client.channels, [], 'the channel is let go')
    t.equal(client.state, 'open', 'the connection stays open')
  })
}
