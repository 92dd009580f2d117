// authorize and the built-in namespaces decide every client subscribe and publish: a refusal
// answers `forbidden` with the request id, and nothing is subscribed or delivered.
import t from 'tap'
import { ErrorCode, RealtimeError, type AuthorizeRequest } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import type { TestClient } from '../helpers/ws-client.js'

/** Sends a ping and waits for its pong: every frame sent before it has been handled. */
async function settle (client: TestClient): Promise<void> {
  const ts = Math.random()
  client.send({ type: 'ping', ts })
  await client.next((frame) => frame.type === 'pong' && frame.ts === ts)
}

t.test('authorize refuses: forbidden with the request id, nothing subscribed, nothing delivered', async (t) => {
  const asked: Array<Omit<AuthorizeRequest, 'connection'>> = []
  const { app, connect } = await startServer(t, {
    plugin: {
      authenticate: (request) => ({ id: request.headers['x-user'] }),
      authorize: async ({ user, channel, action }) => {
        asked.push({ user, channel, action })
        await new Promise((resolve) => setImmediate(resolve))
        if (channel === 'boom') throw new Error('database down')
        if (channel === 'teapot') throw new RealtimeError(ErrorCode.FORBIDDEN, 'no tea for you')
        return channel.startsWith('public.') || (user as { id: string }).id === 'admin'
      }
    }
  })
  const guest = await connect({ headers: { 'x-user': 'guest' } })
  const admin = await connect({ headers: { 'x-user': 'admin' } })

  t.match(await guest.subscribe('secret'), { type: 'error', code: ErrorCode.FORBIDDEN }, 'subscribe refused')
  const refused = await guest.request({ type: 'subscribe', channel: 'secret' }, 'req-7')
  t.same(refused, { type: 'error', code: 'forbidden', message: 'Forbidden', id: 'req-7' }, 'the refusal carries the request id')
  t.equal(app.realtime.subscriberCount('secret'), 0, 'nothing subscribed')
  t.match(await guest.subscribe('boom'), { type: 'error', code: 'forbidden' }, 'a throwing authorize refuses (fails closed)')
  t.match(await guest.subscribe('teapot'), { type: 'error', code: 'forbidden', message: 'no tea for you' })
  t.match(await guest.subscribe('public.news'), { type: 'subscribed' })

  t.match(await admin.subscribe('secret'), { type: 'subscribed' })
  t.match(await guest.request({ type: 'publish', channel: 'secret', data: 'spoofed' }, 'pub-1'), { type: 'error', code: 'forbidden', id: 'pub-1' }, 'publish refused')
  await app.publish('secret', 'real')
  t.equal((await admin.nextOfType('message')).data, 'real')
  await settle(admin)
  t.same(admin.seen((frame) => frame.type === 'message').map((frame) => frame.data), ['real'], 'the refused publish was never delivered')
  t.match(asked, [
    { user: { id: 'guest' }, channel: 'secret', action: 'subscribe' }
  ], 'authorize gets the user, the channel and the action')
  t.ok(asked.some((entry) => entry.action === 'publish' && entry.channel === 'secret'))
})

t.test('user:<id> channels: only their user subscribes, no client publishes', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { authenticate: (request) => ({ sub: request.headers['x-user'] }) } })
  const ada = await connect({ headers: { 'x-user': 'ada' } })
  const bob = await connect({ headers: { 'x-user': 'bob' } })
  t.match(await ada.subscribe('user:ada'), { type: 'subscribed' })
  t.match(await ada.subscribe('user:ada:inbox'), { type: 'subscribed' })
  t.match(await bob.subscribe('user:ada'), { type: 'error', code: 'forbidden' })
  t.match(await bob.subscribe('user:ada:inbox'), { type: 'error', code: 'forbidden' })
  t.match(await bob.subscribe('user:adam'), { type: 'error', code: 'forbidden' }, 'no prefix tricks')
  t.match(await ada.request({ type: 'publish', channel: 'user:ada', data: 1 }), { type: 'error', code: 'forbidden' }, 'not even the owner publishes')
  await app.publish('user:ada', 'for ada')
  t.equal((await ada.nextOfType('message')).data, 'for ada')
  await settle(bob)
  t.same(bob.seen((frame) => frame.type === 'message'), [])
})

t.test('private: channels need an authenticated connection; without authenticate nobody gets in', async (t) => {
  const { connect } = await startServer(t)
  const anonymous = await connect()
  t.match(await anonymous.subscribe('private:room'), { type: 'error', code: 'forbidden' })
  t.match(await anonymous.subscribe('user:anyone'), { type: 'error', code: 'forbidden' })
  t.match(await anonymous.subscribe('room'), { type: 'subscribed' })
})

t.test('allowClientPublish: false refuses every client publish and chat', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { allowClientPublish: false } })
  const client = await connect()
  t.match(await client.subscribe('room'), { type: 'subscribed' })
  t.match(await client.request({ type: 'publish', channel: 'room', data: 'x' }), { type: 'error', code: 'forbidden' })
  t.match(await client.request({ type: 'chat', content: 'hi' }), { type: 'error', code: 'forbidden' })
  await app.publish('room', 'from the server')
  t.equal((await client.nextOfType('message')).data, 'from the server', 'the server still publishes')
  await settle(client)
  t.same(client.seen((frame) => frame.type === 'message' || frame.type === 'chat').length, 1)
})

t.test('a slow authorize does not let a pipelined unsubscribe overtake its subscribe', async (t) => {
  const { app, connect } = await startServer(t, {
    plugin: { authorize: async () => { await new Promise((resolve) => setTimeout(resolve, 20)); return true } }
  })
  const client = await connect()
  client.send({ type: 'subscribe', channel: 'room', id: 'sub' })
  client.send({ type: 'unsubscribe', channel: 'room', id: 'unsub' })
  t.match(await client.next((frame) => frame.id === 'sub'), { type: 'subscribed' })
  t.match(await client.next((frame) => frame.id === 'unsub'), { type: 'unsubscribed' })
  t.equal(app.realtime.subscriberCount('room'), 0, 'the last request wins: not subscribed')
  t.same(client.seen((frame) => frame.id === 'sub' || frame.id === 'unsub').map((frame) => frame.id), ['sub', 'unsub'], 'answered in order')
})

t.test('chat asks authorize too (action chat, channel !broadcast): a refused chat reaches no one', async (t) => {
  const asked: Array<{ channel: string, action: string }> = []
  const { connect } = await startServer(t, {
    plugin: {
      authenticate: (request) => ({ id: request.headers['x-user'] }),
      authorize: ({ user, channel, action }) => {
        asked.push({ channel, action })
        return action !== 'chat' || (user as { id: string }).id === 'moderator'
      }
    }
  })
  const guest = await connect({ headers: { 'x-user': 'guest' } })
  const moderator = await connect({ headers: { 'x-user': 'moderator' } })
  t.match(await guest.request({ type: 'chat', content: 'spam' }, 'c1'), { type: 'error', code: 'forbidden', id: 'c1' })
  t.same(await moderator.request({ type: 'chat', content: 'welcome' }, 'c2'), { type: 'ack', id: 'c2' })
  t.equal((await guest.nextOfType('chat')).content, 'welcome')
  await settle(guest)
  t.same(guest.seen((frame) => frame.type === 'chat').map((frame) => frame.content), ['welcome'], 'the refused line was never delivered')
  t.same(asked.filter((entry) => entry.action === 'chat'), [{ channel: '!broadcast', action: 'chat' }, { channel: '!broadcast', action: 'chat' }])
})
