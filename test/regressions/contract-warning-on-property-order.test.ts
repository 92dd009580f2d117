// The warning at ready for a handle() schema that is not the contract's request compared the
// schemas with object keys sorted but `required` as written: the contract's schema rebuilt
// with its properties in another order (which validates alike) was reported as another schema.
import t from 'tap'
import Type from 'typebox'
import { defineContract } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'

t.test('the contract\'s request rebuilt with its properties in another order is not reported', async (t) => {
  const logs: string[] = []
  const contract = defineContract({
    messages: {
      move: { request: Type.Object({ x: Type.Number(), y: Type.Number() }) },
      place: { request: Type.Object({ x: Type.Number(), y: Type.Number() }) }
    }
  })
  await startServer(t, {
    plugin: { contract },
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } },
    setup: (app) => {
      // The same fields, written y first.
      app.realtime.handle('move', Type.Object({ y: Type.Number(), x: Type.Number() }), () => undefined)
      // Really another schema: still reported.
      app.realtime.handle('place', Type.Object({ x: Type.Number(), y: Type.Number(), z: Type.Number() }), () => undefined)
    }
  })
  const warnings = logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg.includes('another schema'))
  t.same(warnings.map((entry) => entry.messageType), ['place'])
})
