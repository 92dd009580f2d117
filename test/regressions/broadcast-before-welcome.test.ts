// Broadcasts reached connections whose connect hooks were still running: before their
// `welcome` (breaking "welcome is the first frame"), and even when a hook then refused them,
// leaking data to clients the application turned away.
import t from 'tap'
import WebSocket from 'ws'
import { startServer } from '../helpers/server.js'

type Frame = Record<string, unknown>

interface RawClient {
  frames: Frame[]
  closed: Promise<number>
  /** Resolves once a frame of `type` has arrived. */
  received: (type: string) => Promise<void>
}

function rawClient (url: string): RawClient {
  const socket = new WebSocket(url)
  const frames: Frame[] = []
  socket.on('message', (data) => frames.push(JSON.parse(String(data))))
  return {
    frames,
    closed: new Promise((resolve) => socket.once('close', (code) => resolve(code))),
    received: async (type) => {
      while (!frames.some((frame) => frame.type === type)) await new Promise((resolve) => socket.once('message', resolve))
    }
  }
}

/** A connect hook that waits for the test; `entered` resolves once a connection is in it. */
function gate (): { entered: Promise<void>, enter: () => void, released: Promise<void>, release: () => void } {
  let enter = (): void => {}
  let release = (): void => {}
  const entered = new Promise<void>((resolve) => { enter = resolve })
  const released = new Promise<void>((resolve) => { release = resolve })
  return { entered, enter, released, release }
}

t.test('a connection a connect hook refuses gets no broadcast sent while the hook ran', async (t) => {
  const hook = gate()
  const { app, url } = await startServer(t, {
    setup: (app) => {
      app.realtime.addHook('connect', async () => {
        hook.enter()
        await hook.released
        return { code: 4403, reason: 'banned' }
      })
    }
  })
  const client = rawClient(url)
  await hook.entered
  await app.broadcast({ secret: 'for members only' })
  hook.release()
  t.equal(await client.closed, 4403)
  t.same(client.frames, [], 'the refused client received nothing')
})

t.test('an accepted connection gets welcome first, and broadcasts only after it', async (t) => {
  const hook = gate()
  const { app, url } = await startServer(t, {
    setup: (app) => {
      app.realtime.addHook('connect', async () => {
        hook.enter()
        await hook.released
      })
    }
  })
  const client = rawClient(url)
  await hook.entered
  await app.broadcast({ n: 1 })
  hook.release()
  await client.received('welcome')
  await app.broadcast({ n: 2 })
  await client.received('broadcast')
  t.equal(client.frames[0]?.type, 'welcome', 'welcome is the first frame')
  const broadcasts = client.frames.filter((frame) => frame.type === 'broadcast').map((frame) => frame.data)
  t.same(broadcasts, [{ n: 2 }], 'only the broadcast sent after the welcome')
  t.equal(app.realtime.connectionCount, 1)
})
