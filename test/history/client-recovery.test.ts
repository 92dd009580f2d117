// The client's history bookkeeping against a scripted server: the `since` it sends on every
// resubscribe, duplicates dropped by offset, a gap in the live stream reported, positions
// forgotten on unsubscribe, plain channels untouched.
import { test, type Test } from 'tap'
import type WebSocket from 'ws'
import { startRawServer } from '../helpers/raw-ws-server.js'
import { openClient, nextEvent, record } from '../helpers/realtime-client.js'

interface Script {
  sockets: WebSocket[]
  subscribes: Array<Record<string, any>>
}

async function scripted (t: Test, answer: (frame: Record<string, any>, socket: WebSocket) => void): Promise<{ url: string, script: Script }> {
  const { server, url } = await startRawServer(t)
  const script: Script = { sockets: [], subscribes: [] }
  server.on('connection', (socket) => {
    script.sockets.push(socket)
    socket.send(JSON.stringify({ type: 'welcome', connectionId: `c${script.sockets.length}`, nodeId: 'raw', heartbeatInterval: 30000 }))
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data))
      if (frame.type !== 'subscribe') return
      script.subscribes.push(frame)
      answer(frame, socket)
    })
  })
  return { url, script }
}

const message = (offset: number, epoch = 'e1', channel = 'room'): string => JSON.stringify({ type: 'message', channel, data: offset, ts: 1, offset, epoch })

test('resubscribes from the last offset seen, drops duplicates, heals a gap by resubscribing', async (t) => {
  const { url, script } = await scripted(t, (frame, socket) => {
    socket.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, id: frame.id, offset: 5, epoch: 'e1', ...(frame.since === undefined ? {} : { recovered: true }) }))
    // The scripted server replays after `subscribed`, as the real one does.
    if (frame.since?.offset === 7) for (const offset of [8, 9, 10]) socket.send(message(offset))
  })
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 20 })
  const received: number[] = []
  const unrecovered = record(client, 'unrecovered')
  const subscription = client.subscribe<number>('room', (n) => received.push(n))
  await subscription.ready
  t.equal(script.subscribes[0]!.since, undefined, 'nothing to resume at first')
  const socket = script.sockets[0]!
  // 9 skips 8: the client resubscribes from 7; 10 arrives before the answer and waits for the replay.
  for (const offset of [6, 7, 7, 5, 9, 10]) socket.send(message(offset))
  await nextEvent(client, 'message', (m) => m.offset === 10)
  t.same(script.subscribes[1]!.since, { offset: 7, epoch: 'e1' }, 'resubscribed from the last offset before the gap')
  t.same(received, [6, 7, 8, 9, 10], 'duplicates and older offsets dropped, the gap filled, in order')
  t.same(unrecovered, [])

  socket.terminate()
  await nextEvent(client, 'subscribed', (s) => s.recovered === true && script.subscribes.length === 3)
  t.same(script.subscribes[2]!.since, { offset: 10, epoch: 'e1' }, 'resumes after the last offset seen')
  script.sockets[1]!.send(message(11))
  script.sockets[1]!.send(message(1, 'e2'))
  await nextEvent(client, 'message', (m) => m.epoch === 'e2')
  t.same(received, [6, 7, 8, 9, 10, 11, 1], 'a new epoch starting at 1 is no gap')
  t.equal(script.subscribes.length, 3)
})

test('a position given to subscribe is sent; recovered false raises unrecovered; unsubscribe forgets the position', async (t) => {
  const { url, script } = await scripted(t, (frame, socket) => {
    socket.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, id: frame.id, offset: 40, epoch: 'e9', ...(frame.since === undefined ? {} : { recovered: false }) }))
  })
  const client = openClient(t, url)
  const event = nextEvent(client, 'unrecovered')
  const unsubscribe = client.subscribe('room', () => {}, { since: { offset: 3, epoch: 'e1' } })
  t.same(await event, { channel: 'room', since: { offset: 3, epoch: 'e1' }, position: { offset: 40, epoch: 'e9' }, reason: 'not_recovered' })
  t.same(script.subscribes[0]!.since, { offset: 3, epoch: 'e1' })
  unsubscribe()
  const again = client.subscribe('room', () => {})
  await again.ready
  t.equal(script.subscribes[1]!.since, undefined)
})

test('a plain channel never sends since and passes every message', async (t) => {
  const { url, script } = await scripted(t, (frame, socket) => {
    socket.send(JSON.stringify({ type: 'subscribed', channel: frame.channel, id: frame.id }))
  })
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 20 })
  const received: unknown[] = []
  await client.subscribe('plain', (data) => received.push(data)).ready
  const both = nextEvent(client, 'message', () => received.length === 2)
  for (let i = 0; i < 2; i++) script.sockets[0]!.send(JSON.stringify({ type: 'message', channel: 'plain', data: 'same', ts: 1 }))
  await both
  script.sockets[0]!.terminate()
  await nextEvent(client, 'subscribed')
  t.same(received, ['same', 'same'])
  t.equal(script.subscribes[1]!.since, undefined)
})
