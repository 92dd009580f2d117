// The example app's HTTP routes, called with fastify.inject while a real WebSocket client is
// connected to the same app, so each test checks what reaches the client.
import t, { type Test } from 'tap'
import { buildApp, type ExampleApp } from '../../example-app/app.js'
import { ErrorCode } from '../../lib/index.js'
import { freePort } from '../helpers/example-cluster.js'
import { TestClient } from '../helpers/ws-client.js'

async function startExample (t: Test): Promise<{ app: ExampleApp, client: TestClient }> {
  const app = await buildApp({ nodeId: 'api-node' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const client = await TestClient.connect(`ws://127.0.0.1:${address.port}/ws`)
  t.teardown(() => client.close())
  return { app, client }
}

t.test('POST /api/broadcast reaches every connection', async (t) => {
  const { app, client } = await startExample(t)
  const response = await app.inject({ method: 'POST', url: '/api/broadcast', payload: { text: 'deploy finished', from: 'ci' } })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { ok: true })
  const frame = await client.nextOfType('broadcast')
  t.same(frame.data, { text: 'deploy finished', from: 'ci' })
})

t.test('POST /api/broadcast without a sender says it came from the server', async (t) => {
  const { app, client } = await startExample(t)
  await app.inject({ method: 'POST', url: '/api/broadcast', payload: { text: 'hello' } })
  t.same((await client.nextOfType('broadcast')).data, { text: 'hello', from: 'server' })
})

t.test('POST /api/channels/:channel/messages reaches the channel\'s subscribers only', async (t) => {
  const { app, client } = await startExample(t)
  await client.subscribe('news')
  const response = await app.inject({ method: 'POST', url: '/api/channels/other/messages', payload: { text: 'not for you' } })
  t.equal(response.statusCode, 200)
  await app.inject({ method: 'POST', url: '/api/channels/news/messages', payload: { text: 'extra!', from: 'desk' } })
  const frame = await client.nextOfType('message')
  t.same({ channel: frame.channel, data: frame.data }, { channel: 'news', data: { text: 'extra!', from: 'desk' } })
  t.same(client.seen((f) => f.type === 'message' && f.channel === 'other'), [], 'no frame of a channel it did not join')
})

t.test('a channel with a slash is addressed percent-encoded', async (t) => {
  const { app, client } = await startExample(t)
  await client.subscribe('team/eu')
  const response = await app.inject({ method: 'POST', url: '/api/channels/team%2Feu/messages', payload: { text: 'hi team' } })
  t.equal(response.statusCode, 200)
  t.equal((await client.nextOfType('message')).channel, 'team/eu')
})

t.test('bad input is answered 400 and sends nothing', async (t) => {
  const { app, client } = await startExample(t)
  await client.subscribe('news')
  const cases: Array<{ name: string, url: string, payload?: unknown, body?: string }> = [
    { name: 'missing text', url: '/api/broadcast', payload: { from: 'x' } },
    { name: 'empty text', url: '/api/broadcast', payload: { text: '' } },
    { name: 'text too long', url: '/api/broadcast', payload: { text: 'x'.repeat(2001) } },
    { name: 'unknown field', url: '/api/broadcast', payload: { text: 'x', admin: true } },
    { name: 'sender not a string', url: '/api/channels/news/messages', payload: { text: 'x', from: 42 } },
    { name: 'channel with a space', url: '/api/channels/bad%20name/messages', payload: { text: 'x' } },
    { name: 'channel with a glob character', url: '/api/channels/news*/messages', payload: { text: 'x' } },
    { name: 'channel too long', url: `/api/channels/${'a'.repeat(201)}/messages`, payload: { text: 'x' } },
    { name: 'body is not JSON', url: '/api/broadcast', body: '{"text":' },
    { name: 'body is not an object', url: '/api/broadcast', body: '"text"' }
  ]
  for (const { name, url, payload, body } of cases) {
    const response = await app.inject({
      method: 'POST',
      url,
      ...(body === undefined ? { payload: payload as object } : { body, headers: { 'content-type': 'application/json' } })
    })
    t.equal(response.statusCode, 400, name)
    t.equal(response.json().statusCode, 400, `${name}: error body`)
  }
  // A publish after the bad ones arrives first: none of them reached the client.
  await app.inject({ method: 'POST', url: '/api/channels/news/messages', payload: { text: 'valid' } })
  t.same((await client.next((f) => f.type === 'message' || f.type === 'broadcast')).data, { text: 'valid', from: 'server' })
})

t.test('a channel name of the longest allowed length is accepted', async (t) => {
  const { app, client } = await startExample(t)
  const channel = 'c'.repeat(200)
  await client.subscribe(channel)
  const response = await app.inject({ method: 'POST', url: `/api/channels/${channel}/messages`, payload: { text: 'long' } })
  t.equal(response.statusCode, 200)
  t.equal((await client.nextOfType('message')).channel, channel)
})

t.test('GET /api/stats shows the node and its live counts', async (t) => {
  const { app, client } = await startExample(t)
  await client.subscribe('news')
  const response = await app.inject({ method: 'GET', url: '/api/stats' })
  t.equal(response.statusCode, 200)
  const stats = response.json()
  t.equal(stats.nodeId, 'api-node')
  t.equal(stats.connections, 1)
  t.equal(stats.channels, 1)
  t.equal(stats.broker, 'ready')
  t.ok(stats.messagesIn >= 1, 'counts the subscribe frame')
})

t.test('with Redis out of reach the routes answer 503 broker_unavailable', async (t) => {
  // Nothing listens on that port; startDegraded lets the node start and serve anyway.
  const app = await buildApp({ redis: { url: `redis://127.0.0.1:${await freePort()}`, startDegraded: true } })
  t.teardown(() => app.close())
  for (const url of ['/api/broadcast', '/api/channels/news/messages']) {
    const response = await app.inject({ method: 'POST', url, payload: { text: 'lost?' } })
    t.equal(response.statusCode, 503, url)
    t.match(response.json(), { statusCode: 503, code: ErrorCode.BROKER_UNAVAILABLE, error: 'Service Unavailable' }, url)
  }
  t.equal((await app.inject({ method: 'GET', url: '/api/stats' })).json().broker, 'unavailable')
})

t.test('GET / serves the chat page', async (t) => {
  const { app } = await startExample(t)
  const response = await app.inject({ method: 'GET', url: '/' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/html/)
  t.match(response.body, /<ol id="messages"/)
  t.match(response.body, /src="\/build\/chat\.js"/)
})

t.test('GET /api/channels/:channel/history gives a room\'s latest lines, oldest first, with the position to resume from', async (t) => {
  const { app } = await startExample(t)
  for (let i = 1; i <= 5; i++) await app.inject({ method: 'POST', url: '/api/channels/room/messages', payload: { text: `line ${i}` } })
  const response = await app.inject({ method: 'GET', url: '/api/channels/room/history?limit=3' })
  t.equal(response.statusCode, 200)
  const page = response.json() as { offset: number, epoch: string, messages: Array<{ data: { text: string }, offset: number }> }
  t.same(page.messages.map((message) => message.data.text), ['line 3', 'line 4', 'line 5'])
  t.same(page.messages.map((message) => message.offset), [3, 4, 5])
  t.equal(page.offset, 5)
  t.type(page.epoch, 'string')

  const none = await app.inject({ method: 'GET', url: '/api/channels/announcements/history' })
  t.equal(none.statusCode, 404, 'a channel whose rule keeps no history')
  t.equal(none.json().code, ErrorCode.NO_HISTORY)
  t.equal((await app.inject({ method: 'GET', url: '/api/channels/room/history?limit=500' })).statusCode, 400, 'limit is bounded')
})
