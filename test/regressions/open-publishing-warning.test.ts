// Issue 10: the defaults let any anonymous client publish everywhere and chat to everyone,
// and nothing said so. Listening beyond loopback with those defaults now logs one warning.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import realtime, { type RealtimePluginOptions } from '../../lib/index.js'

async function warningsWhenListening (t: Test, host: string, options: RealtimePluginOptions = {}): Promise<string[]> {
  const warnings: string[] = []
  const stream = { write: (line: string) => { const entry = JSON.parse(line); if (entry.level === 40) warnings.push(entry.msg) } }
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(realtime, options)
  await app.listen({ port: 0, host })
  return warnings.filter((message) => message.includes('allowClientPublish'))
}

t.test('listening on 0.0.0.0 with open publishing and no authorize logs one warning', async (t) => {
  const warnings = await warningsWhenListening(t, '0.0.0.0')
  t.equal(warnings.length, 1)
  t.match(warnings[0], /any client can publish to any channel/)
})

t.test('no warning on loopback, with authorize, or with allowClientPublish: false', async (t) => {
  t.same(await warningsWhenListening(t, '127.0.0.1'), [])
  t.same(await warningsWhenListening(t, '0.0.0.0', { authorize: () => true }), [])
  t.same(await warningsWhenListening(t, '0.0.0.0', { allowClientPublish: false }), [])
})
