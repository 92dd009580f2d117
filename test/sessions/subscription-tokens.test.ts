// Subscription tokens: an HTTP route of the app issues a grant for one user and one channel;
// a subscribe carrying it is let in without `authorize` being asked, and any other token
// (another user's, another channel's, expired, tampered) answers invalid_token.
import t, { type Test } from 'tap'
import jwt from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import realtime, { ErrorCode, type AuthorizeRequest } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { TestClient } from '../helpers/ws-client.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
const GRANT_SECRET = 'another-secret-of-at-least-32-bytes!'

interface User { sub: string }

async function startGrantServer (t: Test, { withSecret = true } = {}) {
  const asked: AuthorizeRequest[] = []
  const started = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      subscriptionTokenSecret: withSecret ? GRANT_SECRET : undefined,
      authenticate: async (request: FastifyRequest) => await request.jwtVerify<User>(),
      // Private channels only with a token: authorize refuses them all.
      authorize: (request) => {
        asked.push(request)
        return !request.channel.startsWith('private:')
      }
    },
    setup: async (app) => {
      await app.register(jwt, { secret: SECRET })
      app.get<{ Querystring: { channel: string, ttl?: string } }>('/subscription-token', {
        onRequest: async (request) => { await request.jwtVerify() }
      }, async (request) => {
        const ttl = request.query.ttl === undefined ? undefined : Number(request.query.ttl)
        return { token: app.realtime.subscriptionToken(request.user, request.query.channel, { expiresIn: ttl }) }
      })
    }
  })
  const bearer = (sub: string): string => `Bearer ${started.app.jwt.sign({ sub })}`
  const connectAs = async (sub: string): Promise<TestClient> => {
    const client = await TestClient.connect(started.url, { headers: { authorization: bearer(sub) } })
    t.teardown(() => client.close())
    return client
  }
  const grant = async (sub: string, channel: string, ttl?: number): Promise<string> => {
    const response = await started.app.inject({
      url: `/subscription-token?channel=${channel}${ttl === undefined ? '' : `&ttl=${ttl}`}`,
      headers: { authorization: bearer(sub) }
    })
    return response.json<{ token: string }>().token
  }
  return { ...started, asked, connectAs, grant }
}

t.test('a token from the app\'s route lets its user into a private channel without asking authorize', async (t) => {
  const { app, asked, connectAs, grant } = await startGrantServer(t)
  const ada = await connectAs('ada')
  t.match(await ada.subscribe('private:room-1'), { type: 'error', code: ErrorCode.FORBIDDEN }, 'without a token authorize decides (and refuses)')
  asked.length = 0
  const token = await grant('ada', 'private:room-1')
  t.match(await ada.request({ type: 'subscribe', channel: 'private:room-1', token }), { type: 'subscribed', channel: 'private:room-1' })
  t.equal(asked.length, 0, 'authorize was not asked')
  t.equal(app.realtime.subscriberCount('private:room-1'), 1)
  t.match(await ada.request({ type: 'subscribe', channel: 'private:room-1', token }), { type: 'subscribed' }, 'usable again until it expires (a resubscribe after a reconnect)')
})

t.test('another user\'s, another channel\'s, an expired, a tampered or a garbage token: invalid_token, not subscribed', async (t) => {
  const { app, connectAs, grant } = await startGrantServer(t)
  const ada = await connectAs('ada')
  const forBob = await grant('bob', 'private:room-1')
  const forOther = await grant('ada', 'private:room-2')
  const expired = await grant('ada', 'private:room-1', 1)
  // Expired for sure: the grant holds ms, and we wait until the clock has passed it.
  const issuedAt = Date.now()
  await new Promise<void>((resolve) => {
    const poll = (): void => { if (Date.now() > issuedAt + 1) resolve(); else setImmediate(poll) }
    poll()
  })
  const valid = await grant('ada', 'private:room-1')
  const [payload, signature] = valid.split('.')
  const tampered = Buffer.from(JSON.stringify({ u: 'ada', c: 'private:room-1', e: Date.now() + 1e9 })).toString('base64url') + '.' + signature
  const cases: Array<[string, string, string]> = [
    ['another user', forBob, 'subscription token is for another user'],
    ['another channel', forOther, 'subscription token is for another channel'],
    ['expired', expired, 'subscription token has expired'],
    ['tampered payload', tampered, 'subscription token signature is invalid'],
    ['truncated signature', `${payload}.${signature!.slice(0, 10)}`, 'subscription token signature is invalid'],
    ['no dot', 'garbage', 'malformed subscription token']
  ]
  for (const [name, token, message] of cases) {
    t.match(await ada.request({ type: 'subscribe', channel: 'private:room-1', token }), { type: 'error', code: ErrorCode.INVALID_TOKEN, message }, name)
  }
  t.match(await ada.request({ type: 'subscribe', channel: 'private:room-1', token: 'x'.repeat(2000) }), { type: 'error', code: ErrorCode.INVALID_MESSAGE }, 'oversized')
  t.equal(app.realtime.subscriberCount('private:room-1'), 0)
})

t.test('a token does not lift the namespace rules: user:<id> stays its owner\'s', async (t) => {
  const { connectAs, grant } = await startGrantServer(t)
  const ada = await connectAs('ada')
  const token = await grant('ada', 'user:bob')
  t.match(await ada.request({ type: 'subscribe', channel: 'user:bob', token }), { type: 'error', code: ErrorCode.FORBIDDEN })
})

t.test('without subscriptionTokenSecret: a token in subscribe is refused and none can be issued', async (t) => {
  const { app, connectAs } = await startGrantServer(t, { withSecret: false })
  const ada = await connectAs('ada')
  t.match(await ada.request({ type: 'subscribe', channel: 'news', token: 'a.b' }), { type: 'error', code: ErrorCode.INVALID_TOKEN })
  t.throws(() => app.realtime.subscriptionToken({ sub: 'ada' }, 'news'), /subscriptionTokenSecret/)
})

t.test('issuing checks its input; a short secret fails register', async (t) => {
  const { app } = await startGrantServer(t)
  t.throws(() => app.realtime.subscriptionToken({ name: 'no id' }, 'news'), /needs a user with an id/)
  t.throws(() => app.realtime.subscriptionToken({ sub: 'ada' }, 'bad channel'), { code: ErrorCode.INVALID_CHANNEL })
  t.throws(() => app.realtime.subscriptionToken({ sub: 'ada' }, 'news', { expiresIn: -1 }), /positive/)
  const short = Fastify()
  t.teardown(() => short.close())
  await t.rejects(async () => { await short.register(realtime, { subscriptionTokenSecret: 'short' }).ready() }, /at least 32 bytes/)
})
