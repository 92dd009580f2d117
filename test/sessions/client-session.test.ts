// The client with getToken(): a fresh token in the query of every attempt, refresh_needed
// answered by itself, a 4001 close followed by a reconnect with a new token, and logging out.
import t, { type Test } from 'tap'
import jwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { CloseCode, ErrorCode, RealtimeError, tokenFromRequest, type RealtimePluginOptions } from '../../lib/index.js'
import type { RealtimeClient } from '../../lib/client/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient, record } from '../helpers/realtime-client.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'

interface User { sub: string, n: number }

const FAST = { initialDelay: 10, maxDelay: 50 }

async function startSessionServer (t: Test, plugin: RealtimePluginOptions = {}) {
  const started = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      authenticate: (request: FastifyRequest) => request.server.jwt.verify<User>(tokenFromRequest(request) ?? ''),
      ...plugin
    },
    setup: async (app) => { await app.register(jwt, { secret: SECRET }) }
  })
  const issued: string[] = []
  /** Token number n of user `sub` (the counter shows which one the server holds). */
  const tokenFor = (sub: string, options: object = { expiresIn: 3600 }): string => {
    const token = started.app.jwt.sign({ sub, n: issued.length + 1 }, options)
    issued.push(token)
    return token
  }
  const userOf = (client: RealtimeClient): User | undefined =>
    started.app.realtime.connection(client.connectionId ?? '')?.user as User | undefined
  return { ...started, tokenFor, userOf, issued }
}

t.test('every connect attempt asks getToken() and sends the token in the query', async (t) => {
  const { app, url, tokenFor, userOf } = await startSessionServer(t)
  const client = openClient(t, url, { ...FAST, getToken: async () => tokenFor('ada') })
  await nextEvent(client, 'welcome')
  t.match(userOf(client), { sub: 'ada', n: 1 })
  const reopened = nextEvent(client, 'open')
  const welcomed = nextEvent(client, 'welcome')
  for (const connection of app.realtime.connections()) connection.socket.terminate()
  t.same(await reopened, { reconnected: true })
  await welcomed
  t.match(userOf(client), { sub: 'ada', n: 2 }, 'the reconnect carried a new token')
})

t.test('refresh_needed is answered with a refresh from getToken(); the server holds the new user', async (t) => {
  const { url, tokenFor, userOf } = await startSessionServer(t, { refreshLeadTime: 120_000 })
  // The first token lives less than the lead time: the server asks at once.
  let calls = 0
  const client = openClient(t, url, { getToken: () => tokenFor('ada', { expiresIn: calls++ === 0 ? 60 : 3600 }) })
  const refreshed = await nextEvent(client, 'refreshed')
  t.ok(refreshed.expiresIn! > 3_000_000, 'the new expiry is reported')
  t.match(userOf(client), { sub: 'ada', n: 2 })
  t.equal(client.state, 'open')
})

t.test('a refused refresh is reported; the 4001 close that follows reconnects with a new token', async (t) => {
  const { url, tokenFor, userOf } = await startSessionServer(t, {
    sessionExpiry: (user) => (user as User).n === 1 ? Date.now() + 300 : undefined
  })
  const tokens = [() => tokenFor('ada'), () => tokenFor('mallory'), () => tokenFor('ada')]
  let calls = 0
  const client = openClient(t, url, { ...FAST, getToken: () => tokens[Math.min(calls++, 2)]!() })
  const refused = await nextEvent(client, 'error')
  t.match(refused, { code: ErrorCode.INVALID_TOKEN }, 'another user\'s token is refused')
  const closed = await nextEvent(client, 'close')
  t.match(closed, { code: CloseCode.SESSION_EXPIRED, willReconnect: true }, '4001 is not final')
  await nextEvent(client, 'welcome')
  t.match(userOf(client), { sub: 'ada', n: 3 }, 'reconnected with the next token')
})

t.test('getToken() returning null on refresh_needed logs out: closed for good', async (t) => {
  const { app, url, tokenFor } = await startSessionServer(t, { refreshLeadTime: 120_000 })
  let calls = 0
  const client = openClient(t, url, { getToken: () => calls++ === 0 ? tokenFor('ada', { expiresIn: 60 }) : null })
  const errors = record(client, 'error')
  await nextEvent(client, 'state', (state) => state === 'closed')
  t.match(errors, [{ code: ErrorCode.LOGGED_OUT }])
  await t.resolves(new Promise<void>((resolve) => {
    const poll = (): void => { if (app.realtime.connectionCount === 0) resolve(); else setImmediate(poll) }
    poll()
  }), 'the server saw the socket close')
})

t.test('getToken() throwing logged_out before connecting: no socket, closed', async (t) => {
  const { app, url } = await startSessionServer(t)
  const client = openClient(t, url, { getToken: () => { throw new RealtimeError(ErrorCode.LOGGED_OUT) } })
  const errors = record(client, 'error')
  await nextEvent(client, 'state', (state) => state === 'closed')
  t.match(errors, [{ code: ErrorCode.LOGGED_OUT }])
  t.equal(app.realtime.connectionCount, 0)
})

t.test('getToken() failing for another reason is retried with the backoff', async (t) => {
  const { url, tokenFor, userOf } = await startSessionServer(t)
  let calls = 0
  const client = openClient(t, url, {
    ...FAST,
    getToken: async () => {
      if (calls++ === 0) throw new Error('token service down')
      return tokenFor('ada')
    }
  })
  const errors = record(client, 'error')
  await nextEvent(client, 'welcome')
  t.match(errors, [{ message: 'token service down' }])
  t.match(userOf(client), { sub: 'ada' })
  t.throws(() => openClient(t, url, { getToken: 'nope' as never }), /getToken must be a function/)
})

t.test('a bad return from getToken() is an error, not a token', async (t) => {
  const { url } = await startSessionServer(t)
  const client = openClient(t, url, { ...FAST, maxAttempts: 0, getToken: () => 42 as unknown as string })
  const error = await nextEvent(client, 'error')
  t.match(error.message, /non-empty string/)
})

t.test('a getToken() that never answers is given up after connectTimeout and asked again', async (t) => {
  const { url, tokenFor, userOf } = await startSessionServer(t)
  let calls = 0
  const client = openClient(t, url, {
    ...FAST,
    connectTimeout: 100,
    getToken: () => calls++ === 0 ? new Promise<string>(() => {}) : tokenFor('ada')
  })
  const closes = record(client, 'close')
  await nextEvent(client, 'welcome')
  t.match(closes, [{ code: CloseCode.ABNORMAL, willReconnect: true }], 'the first attempt was given up and retried')
  t.equal(calls, 2, 'getToken() was asked again for the retry')
  t.match(userOf(client), { sub: 'ada' })
})
