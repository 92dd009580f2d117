// authenticate runs before the upgrade: real tokens signed by @fastify/jwt, taken from the
// Authorization header, a cookie or the `token` query parameter.
import t from 'tap'
import jwt from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { CloseCode, tokenFromRequest } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { TestClient } from '../helpers/ws-client.js'
import { tryUpgrade } from '../helpers/handshake.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'

interface User { sub: string, name: string }

async function startAuthServer (t: Parameters<typeof startServer>[0]) {
  const started = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      authenticate: async (request) => {
        const token = tokenFromRequest(request, { cookie: 'session' })
        if (token === undefined) return undefined
        return request.server.jwt.verify<User>(token)
      }
    },
    setup: async (app) => {
      await app.register(jwt, { secret: SECRET })
      app.realtime.handle('whoami', Type.Object({}), (_message, connection) => (connection.user as User).name)
    }
  })
  const sign = (payload: object, options: object = {}): string => started.app.jwt.sign(payload, options)
  return { ...started, sign }
}

t.test('a valid token in the Authorization header opens the connection and becomes connection.user', async (t) => {
  const { app, url, sign } = await startAuthServer(t)
  const client = await TestClient.connect(url, { headers: { authorization: `Bearer ${sign({ sub: 'u1', name: 'Ada' })}` } })
  t.teardown(() => client.close())
  const connection = app.realtime.connection(client.welcome.connectionId)
  t.match(connection?.user, { sub: 'u1', name: 'Ada' }, 'the verified token payload is the connection user')
  t.match(await client.request({ type: 'whoami' }), { type: 'ack', data: 'Ada' }, 'handlers see the user')
})

t.test('a token in a cookie or in the token query parameter works too', async (t) => {
  const { app, url, sign } = await startAuthServer(t)
  const fromCookie = await TestClient.connect(url, { headers: { cookie: `other=1; session=${sign({ sub: 'c', name: 'Cookie' })}` } })
  t.teardown(() => fromCookie.close())
  t.match(app.realtime.connection(fromCookie.welcome.connectionId)?.user, { sub: 'c' })
  const fromQuery = await TestClient.connect(`${url}?token=${sign({ sub: 'q', name: 'Query' })}`)
  t.teardown(() => fromQuery.close())
  t.match(app.realtime.connection(fromQuery.welcome.connectionId)?.user, { sub: 'q' })
})

t.test('no token, a forged token, an expired token: 401 and no upgrade', async (t) => {
  const { app, url, sign } = await startAuthServer(t)
  const forged = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url') + '.' +
    Buffer.from(JSON.stringify({ sub: 'admin', name: 'Mallory' })).toString('base64url') + '.c2lnbmF0dXJl'
  const expired = sign({ sub: 'u1', name: 'Ada', iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 })
  const otherKey = (await import('node:crypto')).createHmac('sha256', 'wrong').update('x').digest('base64url')
  const cases: Array<[string, Parameters<typeof tryUpgrade>[1], string]> = [
    ['no token', {}, ''],
    ['forged signature', { headers: { authorization: `Bearer ${forged}` } }, ''],
    ['expired', { headers: { authorization: `Bearer ${expired}` } }, ''],
    ['garbage in the query', {}, `?token=${otherKey}`],
    ['not a bearer header', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }, '']
  ]
  for (const [name, options, query] of cases) {
    const result = await tryUpgrade(url + query, options)
    t.equal(result.status, 401, name)
    t.notOk(result.socket, `${name}: no socket opened`)
  }
  t.equal(app.realtime.connectionCount, 0, 'no connection was accepted')
})

t.test('disconnectUser closes every connection of that user with 1008 and no one else', async (t) => {
  const { app, url, sign } = await startAuthServer(t)
  const ada = sign({ sub: 'ada', name: 'Ada' })
  const first = await TestClient.connect(url, { headers: { authorization: `Bearer ${ada}` } })
  const second = await TestClient.connect(`${url}?token=${ada}`)
  const bob = await TestClient.connect(url, { headers: { authorization: `Bearer ${sign({ sub: 'bob', name: 'Bob' })}` } })
  t.teardown(() => Promise.all([first.close(), second.close(), bob.close()]))
  t.equal(app.realtime.disconnectUser('ada', 'session revoked'), 2)
  t.same(await first.closed, { code: CloseCode.POLICY_VIOLATION, reason: 'session revoked' })
  t.same(await second.closed, { code: CloseCode.POLICY_VIOLATION, reason: 'session revoked' })
  bob.send({ type: 'ping', ts: 1 })
  t.equal((await bob.nextOfType('pong')).ts, 1, 'the other user stays connected')
  t.equal(app.realtime.disconnectUser('nobody'), 0)
  t.equal(app.realtime.disconnectUser('bob', 'x'.repeat(500)), 1, 'a reason longer than a close frame allows is cut, not thrown')
  t.equal((await bob.closed).code, CloseCode.POLICY_VIOLATION)
})

t.test('cookies in use, authenticate on and no allowedOrigins: a warning at startup', async (t) => {
  const cookie = (await import('@fastify/cookie')).default
  const warnings: string[] = []
  const stream = { write: (line: string) => { const entry = JSON.parse(line); if (entry.level === 40) warnings.push(entry.msg) } }
  const start = async (allowedOrigins?: string[]): Promise<FastifyInstance> => {
    const { app } = await startServer(t, {
      fastify: { logger: { level: 'warn', stream } },
      plugin: { authenticate: () => ({ sub: 'x' }), ...(allowedOrigins === undefined ? {} : { allowedOrigins }) },
      setup: async (app) => { await app.register(cookie) }
    })
    return app
  }
  await start()
  t.equal(warnings.filter((message) => message.includes('allowedOrigins')).length, 1, 'warned once')
  await start(['https://app.example.com'])
  t.equal(warnings.filter((message) => message.includes('allowedOrigins')).length, 1, 'no warning with an origin list')
})
