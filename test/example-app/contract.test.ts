// The example app tested the way docs/testing.md shows: no port, a typed client over
// app.realtime.inject(), HTTP through app.inject(), the frame awaited on the client.
import t, { type Test } from 'tap'
import { Parser } from '@asyncapi/parser'
import { buildApp } from '../../example-app/app.js'
import type { contract } from '../../example-app/contract.js'
import { ErrorCode, RealtimeError } from '../../lib/index.js'

async function example (t: Test) {
  const app = await buildApp({ nodeId: 'inject-node' })
  t.teardown(() => app.close())
  await app.ready()
  const client = await app.realtime.inject<typeof contract>()
  t.teardown(() => client.close())
  return { app, client }
}

t.test('a message posted over HTTP reaches a typed client connected without a port', async (t) => {
  const { app, client } = await example(t)
  t.equal(client.nodeId, 'inject-node', 'the welcome has arrived when inject() resolves')
  let subscription: { ready: Promise<void> } | undefined
  const received = new Promise<{ text: string, from?: string }>((resolve) => {
    subscription = client.subscribe('news', (data) => resolve(data))
  })
  await subscription?.ready
  await client.request('channel.count', { channel: 'news' }).then((reply) => t.same(reply, { subscribers: 1 }, 'subscribed before the count'))
  const response = await app.inject({ method: 'POST', url: '/api/channels/news/messages', payload: { text: 'extra!', from: 'desk' } })
  t.equal(response.statusCode, 200)
  t.same(await received, { text: 'extra!', from: 'desk' })
})

t.test('the contract refuses what the page must not send', async (t) => {
  const { client } = await example(t)
  await t.rejects(client.publish('announcements', { text: 'I am the admin' }), { code: ErrorCode.FORBIDDEN }, 'announcements are server-only')
  // A client built without the contract's types (or plain JavaScript) can still send anything: the server checks.
  const untyped = client as unknown as { publish: (channel: string, data: unknown) => Promise<void> }
  const error = await untyped.publish('general', { text: '' }).then(() => undefined, (err: unknown) => err)
  t.ok(error instanceof RealtimeError)
  t.match(error, { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '/text' }] })
  await client.publish('general', { text: 'fine', from: 'me' })
})

t.test('an HTTP publish breaking the channel schema is answered 400 invalid_message', async (t) => {
  const { app } = await example(t)
  const response = await app.inject({ method: 'POST', url: '/api/channels/news/messages', payload: { text: 'x', from: 'y'.repeat(41) } })
  t.equal(response.statusCode, 400, 'the route schema refuses it first')
})

t.test('GET /asyncapi.json serves a document the AsyncAPI parser accepts', async (t) => {
  const { app } = await example(t)
  const response = await app.inject({ method: 'GET', url: '/asyncapi.json' })
  t.equal(response.statusCode, 200)
  const { document, diagnostics } = await new Parser().parse(response.body)
  t.same(diagnostics.filter((diagnostic) => diagnostic.severity === 0).map((d) => d.message), [])
  t.ok(document?.channels().get('channel_announcements'))
  t.ok(document?.operations().get('handle_channel_count'))
})

t.test('inject() rejects when authenticate refuses the upgrade, and passes headers to it', async (t) => {
  const Fastify = (await import('fastify')).default
  const realtime = (await import('../../lib/index.js')).default
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { authenticate: (request) => request.headers.authorization === 'Bearer good' ? { id: 'u1' } : undefined })
  await app.ready()
  await t.rejects(app.realtime.inject({ headers: { authorization: 'Bearer bad' } }), /401/)
  const client = await app.realtime.inject({ headers: { authorization: 'Bearer good' } })
  t.teardown(() => client.close())
  t.equal(app.realtime.connection(client.connectionId!)?.user && (app.realtime.connection(client.connectionId!)?.user as { id: string }).id, 'u1')
})
