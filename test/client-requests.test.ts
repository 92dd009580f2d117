// Per-call control of requests: a timeout per publish/request, an AbortSignal that cancels
// a queued or an in-flight request; and the debug log of states and frames.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode } from '../lib/client/index.js'
import { startServer } from './helpers/server.js'
import { nextEvent, openClient } from './helpers/realtime-client.js'

async function stallingServer (t: Parameters<typeof startServer>[0]) {
  return await startServer(t, {
    setup: (app) => { app.realtime.handle('stall', Type.Object({}), () => new Promise(() => {})) }
  })
}

t.test('a timeout given to one call overrides requestTimeout for that call only', async (t) => {
  const { url } = await stallingServer(t)
  const client = openClient(t, url, { requestTimeout: 60000 })
  await nextEvent(client, 'open')
  await t.rejects(client.request({ type: 'stall' }, { timeout: 30 }), { code: ErrorCode.REQUEST_TIMEOUT, message: /within 30 ms/ })
  await client.publish('news', 1, { timeout: 5000 })
  await t.rejects(client.request({ type: 'stall' }, { timeout: -1 }), { message: /timeout/ }, 'a bad timeout is refused')
})

t.test('aborting an in-flight request rejects it with aborted; the late answer is ignored', async (t) => {
  const { url } = await stallingServer(t)
  const client = openClient(t, url)
  await nextEvent(client, 'open')
  const controller = new AbortController()
  const stalled = client.request({ type: 'stall' }, { signal: controller.signal })
  await client.ping()
  controller.abort(new Error('user left the page'))
  await t.rejects(stalled, { code: ErrorCode.ABORTED, cause: { message: 'user left the page' } })
  t.equal(client.state, 'open')
  await client.publish('news', 1)
})

t.test('aborting a queued request removes its frame: the server never sees it', async (t) => {
  const { app, url } = await startServer(t)
  const client = openClient(t, url, { autoConnect: false })
  const controller = new AbortController()
  const aborted = client.publish('news', 'never', { signal: controller.signal })
  const kept = client.publish('news', 'sent')
  controller.abort()
  await t.rejects(aborted, { code: ErrorCode.ABORTED })
  const received: unknown[] = []
  const watcher = openClient(t, url)
  await watcher.subscribe('news', (data) => received.push(data)).ready
  const delivered = nextEvent(watcher, 'message')
  client.connect()
  await kept
  await delivered
  t.same(received, ['sent'])
  t.equal(app.realtime.stats().messagesIn, 2, 'the watcher subscribe and one publish')
  await t.rejects(client.publish('news', 1, { signal: AbortSignal.abort() }), { code: ErrorCode.ABORTED }, 'an aborted signal fails at once')
})

t.test('debug logs state changes and frames without payloads, unless asked', async (t) => {
  const { url } = await startServer(t)
  const lines: Array<[string, Record<string, unknown>]> = []
  const client = openClient(t, url, { debug: (message, details) => lines.push([message, details]) })
  await nextEvent(client, 'open')
  await client.publish('news', { secret: 'payload' })
  t.match(lines, [
    ['state', { state: 'connecting' }],
    ['connecting', { url }],
    ['receive', { type: 'welcome', bytes: Number }],
    ['state', { state: 'open' }],
    ['send', { type: 'publish', channel: 'news', id: String }],
    ['receive', { type: 'ack', id: String }]
  ])
  t.notMatch(JSON.stringify(lines), /secret/, 'no payload')

  const full: unknown[] = []
  const verbose = openClient(t, url, { debug: (message, details) => full.push([message, details]), debugPayloads: true })
  await nextEvent(verbose, 'open')
  await verbose.publish('news', { secret: 'payload' })
  t.match(JSON.stringify(full), /"secret":"payload"/, 'with debugPayloads the frames are logged whole')
  t.throws(() => openClient(t, url, { debug: 'yes' as never }), { message: /debug/ })
})

t.test('a frame queued before the first welcome is checked against maxPayload when it is written', async (t) => {
  const { url } = await startServer(t, { plugin: { maxPayload: 1024 } })
  const client = openClient(t, url, { autoConnect: false })
  const tooBig = client.publish('news', 'x'.repeat(2000))
  client.send({ type: 'publish', channel: 'news', data: 'y'.repeat(2000) })
  const small = client.publish('news', 'small')
  const error = nextEvent(client, 'error')
  client.connect()
  await t.rejects(tooBig, { code: ErrorCode.PAYLOAD_TOO_LARGE })
  t.match(await error, { code: ErrorCode.PAYLOAD_TOO_LARGE }, 'the send() without a request is reported as an error event')
  await small
  t.equal(client.state, 'open')
})

t.test('a debug logger that throws does not disturb the client', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url, { debug: () => { throw new Error('broken logger') } })
  await nextEvent(client, 'open')
  await client.publish('news', 1)
  t.equal(client.state, 'open')
})
