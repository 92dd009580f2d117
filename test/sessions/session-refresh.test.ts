// Sessions over real sockets with tokens signed by @fastify/jwt: refresh_needed, the refresh
// frame, the 4001 close of an unrefreshed session, and what bad refreshes get. Expiries are
// short and real (the server's timer and the sockets share one clock); nothing asserts a timing.
import t, { type Test } from 'tap'
import jwt from '@fastify/jwt'
import { Registry } from 'prom-client'
import type { FastifyRequest } from 'fastify'
import { CloseCode, ErrorCode, type RealtimePluginOptions } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { TestClient } from '../helpers/ws-client.js'
import { tryUpgrade } from '../helpers/handshake.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'

interface User { sub: string, exp?: number }

const nowSeconds = (): number => Math.floor(Date.now() / 1000)

async function startSessionServer (t: Test, plugin: RealtimePluginOptions = {}) {
  const started = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      authenticate: async (request: FastifyRequest) => await request.jwtVerify<User>(),
      ...plugin
    },
    setup: async (app) => {
      await app.register(jwt, { secret: SECRET })
    }
  })
  const sign = (payload: object, options: object = {}): string => started.app.jwt.sign(payload, options)
  const connectAs = async (token: string): Promise<TestClient> => {
    const client = await TestClient.connect(started.url, { headers: { authorization: `Bearer ${token}` } })
    t.teardown(() => client.close())
    return client
  }
  return { ...started, sign, connectAs }
}

t.test('a lead time longer than the token life: refresh_needed right after welcome; a refresh moves the expiry', async (t) => {
  const { app, sign, connectAs } = await startSessionServer(t, { refreshLeadTime: 120_000 })
  const client = await connectAs(sign({ sub: 'ada' }, { expiresIn: 60 }))
  const warning = await client.nextOfType('refresh_needed')
  t.ok(warning.expiresIn > 0 && warning.expiresIn <= 60_000, 'expiresIn counts down the token life')
  t.equal(client.received.findIndex((frame) => frame.type === 'welcome'), 0, 'welcome came first')

  const answer = await client.request({ type: 'refresh', token: sign({ sub: 'ada', role: 'new' }, { expiresIn: 3600 }) })
  t.equal(answer.type, 'ack')
  t.ok(answer.data.expiresIn > 3_000_000, 'the ack carries the new expiry')
  t.match(app.realtime.connection(client.welcome.connectionId)?.user, { sub: 'ada', role: 'new' }, 'connection.user is the refreshed user')
})

t.test('a session that is not refreshed is closed with 4001 (and others stay open)', async (t) => {
  const registry = new Registry()
  const { app, sign, connectAs } = await startSessionServer(t, {
    metrics: { registry },
    // The token says when; here a few hundred ms from the handshake, so the test need not wait for a JWT second.
    sessionExpiry: (user) => (user as User).sub === 'short' ? Date.now() + 300 : undefined
  })
  const short = await connectAs(sign({ sub: 'short' }))
  const long = await connectAs(sign({ sub: 'long' }))
  await short.nextOfType('refresh_needed')
  const closed = await short.closed
  t.equal(closed.code, CloseCode.SESSION_EXPIRED)
  t.equal(closed.reason, 'session expired')
  t.equal(app.realtime.stats().sessionsExpired, 1)
  t.match(await registry.metrics(), /^realtime_sessions_expired_total 1$/m, 'and in the Prometheus metrics')
  long.send({ type: 'ping', ts: 1 })
  t.match(await long.nextOfType('pong'), { ts: 1 }, 'the session without expiry stays open')
})

t.test('the JWT exp claim ends the session: bad refreshes do not extend it, 4001 follows', async (t) => {
  const { sign, connectAs } = await startSessionServer(t)
  const client = await connectAs(sign({ sub: 'ada', exp: nowSeconds() + 2 }))
  await client.nextOfType('refresh_needed')

  const malformed = await client.request({ type: 'refresh', token: 'not-a-jwt' })
  t.match(malformed, { type: 'error', code: ErrorCode.INVALID_TOKEN }, 'malformed token')
  const foreign = await client.request({ type: 'refresh', token: sign({ sub: 'mallory' }, { expiresIn: 3600 }) })
  t.match(foreign, { type: 'error', code: ErrorCode.INVALID_TOKEN, message: 'The token belongs to another user' }, 'another user\'s token')
  const expired = await client.request({ type: 'refresh', token: sign({ sub: 'ada', iat: nowSeconds() - 100, exp: nowSeconds() - 10 }) })
  t.match(expired, { type: 'error', code: ErrorCode.INVALID_TOKEN }, 'expired token')
  const forged = sign({ sub: 'ada' }, { expiresIn: 3600 }).slice(0, -4) + 'AAAA'
  t.match(await client.request({ type: 'refresh', token: forged }), { type: 'error', code: ErrorCode.INVALID_TOKEN }, 'bad signature')
  t.match(await client.request({ type: 'refresh', token: '' }), { type: 'error', code: ErrorCode.INVALID_MESSAGE }, 'empty token')
  t.match(await client.request({ type: 'refresh', token: 'x'.repeat(9000) }), { type: 'error', code: ErrorCode.INVALID_MESSAGE }, 'oversized token')

  t.equal((await client.closed).code, CloseCode.SESSION_EXPIRED, 'the session ended at its original expiry')
})

t.test('a token accepted by authenticate but already past its expiry is refused', async (t) => {
  // An authenticate that does not check exp itself (decode only): the plugin checks it.
  const { app, url, sign, connectAs } = await startSessionServer(t, {
    authenticate: (request: FastifyRequest) => request.server.jwt.decode<User>(new URL(request.url, 'http://x').searchParams.get('token') ?? request.headers.authorization?.slice(7) ?? '')
  })
  const stale = sign({ sub: 'ada', iat: nowSeconds() - 100, exp: nowSeconds() - 10 })
  const refused = await tryUpgrade(`${url}?token=${stale}`)
  t.equal(refused.status, 401, 'expired at the handshake: 401, no upgrade')
  t.equal(app.realtime.connectionCount, 0)

  const client = await connectAs(sign({ sub: 'ada' }, { expiresIn: 3600 }))
  t.match(await client.request({ type: 'refresh', token: stale }), { type: 'error', code: ErrorCode.INVALID_TOKEN, message: 'The token has expired' })
})

t.test('sessionExpiry decides for other token formats; an expired one is refused with 401', async (t) => {
  const { url, sign } = await startSessionServer(t, { sessionExpiry: () => Date.now() - 1 })
  const result = await tryUpgrade(url, { headers: { authorization: `Bearer ${sign({ sub: 'ada' })}` } })
  t.equal(result.status, 401)
})

t.test('refresh floods: one check at a time per connection, and the frame rate limit applies', async (t) => {
  let release: (() => void) | undefined
  const { sign, connectAs } = await startSessionServer(t, {
    rateLimit: { messagesPerSecond: 1, burst: 5, closeAfterRefused: 1000 },
    authenticate: async (request: FastifyRequest) => {
      const user = await request.jwtVerify<User & { slow?: boolean }>()
      if (user.slow === true) await new Promise<void>((resolve) => { release = resolve })
      return user
    }
  })
  const client = await connectAs(sign({ sub: 'ada' }, { expiresIn: 3600 }))
  const slow = client.request({ type: 'refresh', token: sign({ sub: 'ada', slow: true }, { expiresIn: 3600 }) }, 'slow')
  const second = await client.request({ type: 'refresh', token: sign({ sub: 'ada' }, { expiresIn: 3600 }) }, 'second')
  t.match(second, { type: 'error', code: ErrorCode.RATE_LIMITED }, 'a refresh while one is checked is refused')
  release!()
  t.match(await slow, { type: 'ack', id: 'slow' })

  // The burst (5) is nearly spent: of six more refreshes, some are refused before any check.
  for (let i = 0; i < 6; i++) client.send({ type: 'refresh', token: sign({ sub: 'ada' }, { expiresIn: 3600 }), id: `flood-${i}` })
  const limited = await client.next((frame) => frame.type === 'error' && frame.code === ErrorCode.RATE_LIMITED && frame.id !== 'slow' && frame.id !== 'second')
  t.equal(limited.code, ErrorCode.RATE_LIMITED, 'past the burst, refreshes are rate limited like any frame')
})

t.test('without authenticate there is no session: refresh answers invalid_token', async (t) => {
  const { connect } = await startServer(t, { plugin: { heartbeatInterval: 60_000 } })
  const client = await connect()
  t.match(await client.request({ type: 'refresh', token: 'abc' }), { type: 'error', code: ErrorCode.INVALID_TOKEN })
  t.notOk(client.seen((frame) => frame.type === 'refresh_needed').length, 'no refresh_needed either')
})

t.test('a session whose user has no id cannot be refreshed (nothing to compare the token with)', async (t) => {
  const { sign, connectAs } = await startSessionServer(t, { userId: () => undefined })
  const client = await connectAs(sign({ sub: 'ada' }, { expiresIn: 3600 }))
  t.match(await client.request({ type: 'refresh', token: sign({ sub: 'ada' }, { expiresIn: 7200 }) }), {
    type: 'error', code: ErrorCode.INVALID_TOKEN, message: /no user id/
  })
})

t.test('with a slow connect hook, refresh_needed still follows the welcome', async (t) => {
  const started = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      refreshLeadTime: 120_000,
      authenticate: async (request: FastifyRequest) => await request.jwtVerify<User>()
    },
    setup: async (app) => {
      await app.register(jwt, { secret: SECRET })
      app.realtime.addHook('connect', async () => { await new Promise((resolve) => setTimeout(resolve, 20)) })
    }
  })
  const client = await TestClient.connect(started.url, { headers: { authorization: `Bearer ${started.app.jwt.sign({ sub: 'ada' }, { expiresIn: 60 })}` } })
  t.teardown(() => client.close())
  await client.nextOfType('refresh_needed')
  t.same(client.received.map((frame) => frame.type).slice(0, 2), ['welcome', 'refresh_needed'])
})
