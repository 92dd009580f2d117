// Issue 10: a typo in an option name (`heartbeatIntervall`, `maxconnections`) was ignored in
// silence and the default applied. Unknown names now fail register, naming the closest option.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import realtime, { type RealtimePluginOptions } from '../../lib/index.js'

async function registerWith (t: Test, options: Record<string, unknown>): Promise<unknown> {
  const app = Fastify()
  t.teardown(() => app.close())
  return await app.register(realtime, options as RealtimePluginOptions)
}

t.test('a misspelt option fails register and names the closest known option', async (t) => {
  await t.rejects(registerWith(t, { heartbeatIntervall: 5000 }), { message: 'fastify-realtime: unknown option "heartbeatIntervall" (did you mean "heartbeatInterval"?)' })
  await t.rejects(registerWith(t, { maxconnections: 5 }), { message: /unknown option "maxconnections" \(did you mean "maxConnections"\?\)/ })
  await t.rejects(registerWith(t, { autorize: () => true }), { message: /"autorize" \(did you mean "authorize"\?\)/ }, 'non-data options are known names too')
})

t.test('several unknown options are all named; one far from every name gets no suggestion', async (t) => {
  await t.rejects(registerWith(t, { pathh: '/x', somethingElseEntirely: true }), { message: 'fastify-realtime: unknown options "pathh" (did you mean "path"?), "somethingElseEntirely"' })
})

t.test('what Fastify passes to every plugin is accepted', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtime, { prefix: '/api', logLevel: 'warn', logSerializers: { req: () => ({}) } } as RealtimePluginOptions)
  await app.ready()
  t.ok(app.realtime)
})
