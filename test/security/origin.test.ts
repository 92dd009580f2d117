// Cross-site WebSocket hijacking: only listed origins get an upgrade; everything else gets
// 403 before any socket opens.
import t from 'tap'
import Fastify from 'fastify'
import realtime from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { tryUpgrade } from '../helpers/handshake.js'

async function statusFor (url: string, origin: string | undefined): Promise<number> {
  const result = await tryUpgrade(url, origin === undefined ? {} : { origin })
  result.socket?.close()
  return result.status
}

const ATTACKS = [
  'https://app.example.com.evil.com',
  'https://evil-app.example.com',
  'https://app.example.com:8443',
  'http://app.example.com',
  'https://app.example.co',
  'null',
  'https://evil.com/https://app.example.com'
]

t.test('exact strings: the listed origin passes, look-alikes get 403', async (t) => {
  const { url } = await startServer(t, { plugin: { allowedOrigins: ['https://app.example.com', 'https://admin.example.com'] } })
  t.equal(await statusFor(url, 'https://app.example.com'), 101)
  t.equal(await statusFor(url, 'https://admin.example.com'), 101)
  for (const origin of ATTACKS) t.equal(await statusFor(url, origin), 403, origin)
})

t.test('anchored regexes match whole origins only', async (t) => {
  const { url } = await startServer(t, { plugin: { allowedOrigins: [/^https:\/\/[a-z]+\.example\.com$/g] } })
  t.equal(await statusFor(url, 'https://app.example.com'), 101)
  t.equal(await statusFor(url, 'https://app.example.com'), 101, 'a global flag does not make the second test fail (lastIndex)')
  for (const origin of ATTACKS) t.equal(await statusFor(url, origin), 403, origin)
})

t.test('an alternation anchored only at its two ends still matches whole origins only', async (t) => {
  // Read naively, ^a|b$ is "^a" or "b$": a prefix match for one side, a suffix match for the other.
  const { url } = await startServer(t, { plugin: { allowedOrigins: [/^https:\/\/app\.example\.com|https:\/\/admin\.example\.com$/] } })
  t.equal(await statusFor(url, 'https://app.example.com'), 101)
  t.equal(await statusFor(url, 'https://admin.example.com'), 101)
  t.equal(await statusFor(url, 'https://app.example.com.evil.net'), 403)
  t.equal(await statusFor(url, 'https://evil.net/x/https://admin.example.com'), 403)
  for (const origin of ATTACKS) t.equal(await statusFor(url, origin), 403, origin)
})

t.test('a function decides; one that throws refuses', async (t) => {
  const { url } = await startServer(t, {
    plugin: {
      allowedOrigins: (origin) => {
        if (origin === 'https://boom.example.com') throw new Error('lookup failed')
        return new URL(origin).hostname === 'app.example.com'
      }
    }
  })
  t.equal(await statusFor(url, 'https://app.example.com'), 101)
  t.equal(await statusFor(url, 'https://app.example.com.evil.com'), 403)
  t.equal(await statusFor(url, 'https://boom.example.com'), 403)
})

t.test('requests without Origin (non-browser clients) pass unless requireOrigin is set', async (t) => {
  const lenient = await startServer(t, { plugin: { allowedOrigins: ['https://app.example.com'] } })
  t.equal(await statusFor(lenient.url, undefined), 101)
  const strict = await startServer(t, { plugin: { allowedOrigins: ['https://app.example.com'], requireOrigin: true } })
  t.equal(await statusFor(strict.url, undefined), 403)
  t.equal(await statusFor(strict.url, 'https://app.example.com'), 101)
})

t.test('bad allowedOrigins fail at register time', async (t) => {
  for (const [allowedOrigins, message] of [
    [[/example\.com/], /must be anchored/],
    [[/^https:\/\/example\.com/], /must be anchored/],
    ['https://example.com', /must be an array/],
    [[42], /must be an array/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(realtime, { allowedOrigins: allowedOrigins as never }) }, message)
  }
})
