// Lifecycle hooks (app.realtime.addHook): what each hook receives, a connect hook refusing,
// frames held while connect hooks run, and hooks that throw or never settle.
import { Writable } from 'node:stream'
import t from 'tap'
import WebSocket from 'ws'
import type { Connection, DisconnectInfo, ValidatedFrame } from '../lib/index.js'
import { MAX_FRAMES_BEFORE_WELCOME } from '../lib/hooks/lifecycle-hooks.js'
import { startServer } from './helpers/server.js'
import type { Closed, Frame } from './helpers/ws-client.js'

/** A Fastify logger whose error lines a test can read. */
function logCollector (): { logger: object, errors: Array<Record<string, any>> } {
  const errors: Array<Record<string, any>> = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() === '') continue
        const entry = JSON.parse(line)
        if (entry.level >= 50) errors.push(entry)
      }
      done()
    }
  })
  return { logger: { level: 'error', stream }, errors }
}

/** A raw socket that records frames and the close, without waiting for a welcome. */
function rawSocket (url: string): { socket: WebSocket, frames: Frame[], closed: Promise<Closed>, opened: Promise<void> } {
  const socket = new WebSocket(url)
  const frames: Frame[] = []
  socket.on('message', (data) => frames.push(JSON.parse(String(data))))
  const closed = new Promise<Closed>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
  const opened = new Promise<void>((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) })
  return { socket, frames, closed, opened }
}

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((_resolve) => { resolve = _resolve })
  return { promise, resolve }
}

t.test('subscribe, unsubscribe, message and disconnect hooks receive the connection and what happened', async (t) => {
  const events: string[] = []
  const frames: ValidatedFrame[] = []
  let disconnected: DisconnectInfo | undefined
  const gone = deferred()
  const { connect, app } = await startServer(t, {
    setup: (app) => {
      app.realtime
        .addHook('subscribe', (connection, channel) => { events.push(`subscribe ${channel} ${connection.id}`) })
        .addHook('unsubscribe', async (connection, channel) => { events.push(`unsubscribe ${channel} ${connection.id}`) })
        .addHook('message', (_connection, frame) => { frames.push(frame) })
        .addHook('disconnect', (_connection, info) => { disconnected = info; gone.resolve() })
    }
  })
  const client = await connect()
  const id = client.welcome.connectionId
  await client.subscribe('news')
  await client.request({ type: 'unsubscribe', channel: 'news' })
  client.send('not json')
  client.send({ type: 'subscribe', channel: 'bad channel!' })
  await client.nextOfType('error')
  await client.nextOfType('error')
  t.same(events, [`subscribe news ${id}`, `unsubscribe news ${id}`])
  t.same(frames.map((frame) => frame.type), ['subscribe', 'unsubscribe'], 'only frames that passed validation reach the message hook')
  t.equal(frames[0]!.channel, 'news')

  client.socket.close(4321, 'bye now')
  await gone.promise
  t.equal(disconnected!.code, 4321)
  t.equal(disconnected!.reason, 'bye now')
  t.ok(disconnected!.lifetimeMs >= 0)
  t.equal(app.realtime.connectionCount, 0)
})

t.test('the subscribe hook also sees subscriptions the application makes', async (t) => {
  const channels: string[] = []
  const { connect, app } = await startServer(t, {
    setup: (app) => { app.realtime.addHook('subscribe', (_connection, channel) => { channels.push(channel) }) }
  })
  const client = await connect()
  await app.realtime.subscribe(app.realtime.connection(client.welcome.connectionId)!, 'server-side')
  t.same(channels, ['server-side'])
})

t.test('a connect hook refuses with its close code and reason; the client never gets a welcome', async (t) => {
  const gone = deferred()
  const { url, app } = await startServer(t, {
    setup: (app) => {
      app.realtime.addHook('connect', async (_connection, request) => {
        if (request.headers['x-banned'] === 'yes') return { code: 4403, reason: 'banned' }
      })
      app.realtime.addHook('disconnect', () => gone.resolve())
    }
  })
  const banned = new WebSocket(url, { headers: { 'x-banned': 'yes' } })
  const frames: Frame[] = []
  banned.on('message', (data) => frames.push(JSON.parse(String(data))))
  const closed = await new Promise<Closed>((resolve) => banned.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
  t.same(closed, { code: 4403, reason: 'banned' })
  t.same(frames, [])
  await gone.promise
  t.equal(app.realtime.connectionCount, 0)
})

t.test('a refusal with a code that cannot be sent closes with 1008 and is logged', async (t) => {
  const { logger, errors } = logCollector()
  const { url } = await startServer(t, {
    fastify: { logger },
    setup: (app) => { app.realtime.addHook('connect', () => ({ code: 1006 })) }
  })
  const { closed } = rawSocket(url)
  t.equal((await closed).code, 1008)
  t.ok(errors.some((entry) => entry.msg.includes('cannot be sent')))
})

t.test('frames sent while an async connect hook runs wait, then run in order after the welcome', async (t) => {
  const release = deferred()
  const { url } = await startServer(t, {
    setup: (app) => { app.realtime.addHook('connect', async () => { await release.promise }) }
  })
  const { socket, frames, opened } = rawSocket(url)
  await opened
  socket.send(JSON.stringify({ type: 'ping', ts: 1 }))
  socket.send(JSON.stringify({ type: 'ping', ts: 2 }))
  // A round trip through a second connection proves the server has read both frames by now.
  const other = rawSocket(url)
  await other.opened
  t.same(frames, [], 'nothing is answered before the connect hooks decide')
  const answered = new Promise<void>((resolve) => socket.on('message', () => { if (frames.length === 3) resolve() }))
  release.resolve()
  await answered
  t.same(frames.map((frame) => frame.type), ['welcome', 'pong', 'pong'])
  t.same(frames.slice(1).map((frame) => frame.ts), [1, 2])
  socket.close()
  other.socket.close()
})

t.test('a client that floods frames before its welcome is closed with 1008', async (t) => {
  const never = deferred()
  const { url } = await startServer(t, {
    plugin: { rateLimit: false },
    setup: (app) => { app.realtime.addHook('connect', async () => { await never.promise }) }
  })
  const { socket, closed, opened } = rawSocket(url)
  await opened
  for (let i = 0; i <= MAX_FRAMES_BEFORE_WELCOME; i++) socket.send(JSON.stringify({ type: 'ping' }))
  t.equal((await closed).code, 1008)
  never.resolve()
})

t.test('hooks that throw are logged and change nothing for the client or the others', async (t) => {
  const { logger, errors } = logCollector()
  const { connect, app } = await startServer(t, {
    fastify: { logger },
    setup: (app) => {
      for (const name of ['subscribe', 'unsubscribe', 'message', 'disconnect'] as const) {
        app.realtime.addHook(name, () => { throw new Error(`${name} hook bug`) })
      }
      app.realtime.addHook('message', async () => { throw new Error('async message hook bug') })
      app.realtime.addHook('connect', () => { throw new Error('connect hook bug') })
    }
  })
  const [a, b] = await Promise.all([connect(), connect()])
  t.equal((await a.subscribe('room')).type, 'subscribed')
  await b.subscribe('room')
  await app.publish('room', { n: 1 })
  t.same((await a.nextOfType('message')).data, { n: 1 })
  t.same((await b.nextOfType('message')).data, { n: 1 })
  await a.request({ type: 'unsubscribe', channel: 'room' })
  await a.close()
  b.send({ type: 'ping' })
  await b.nextOfType('pong')
  const messages = errors.map((entry) => entry.err?.message)
  for (const expected of ['connect hook bug', 'subscribe hook bug', 'unsubscribe hook bug', 'message hook bug', 'async message hook bug']) {
    t.ok(messages.includes(expected), `${expected} was logged`)
  }
  t.equal(app.realtime.connectionCount, 1)
})

t.test('hooks that never settle hold up nothing: fan-out and answers go on', async (t) => {
  const never = new Promise<void>(() => {})
  const { connect, app } = await startServer(t, {
    setup: (app) => {
      app.realtime
        .addHook('message', () => never)
        .addHook('subscribe', () => never)
        .addHook('disconnect', () => never)
    }
  })
  const clients = await Promise.all([connect(), connect(), connect()])
  for (const client of clients) await client.subscribe('live')
  await app.publish('live', 'hello')
  for (const client of clients) t.equal((await client.nextOfType('message')).data, 'hello')
  await clients[0]!.close()
  clients[1]!.send({ type: 'ping' })
  t.equal((await clients[1]!.nextOfType('pong')).type, 'pong')
})

t.test('addHook refuses an unknown hook name and a handler that is not a function', async (t) => {
  const { app } = await startServer(t)
  t.throws(() => app.realtime.addHook('onConnect' as 'connect', () => {}), /unknown hook "onConnect"/)
  t.throws(() => app.realtime.addHook('message', 'nope' as unknown as (c: Connection) => void), /must be a function/)
})
