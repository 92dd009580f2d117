// The cluster broker sends what one turn publishes as one IPC message of at most 1,024
// messages, but counted no bytes: 600 publishes of a 1 MB frame made one JSON string longer
// than V8 allows, and the worker died of 'RangeError: Invalid string length'.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runTsxScript } from '../helpers/tsx-script.js'

const fixture = fileURLToPath(new URL('../fixtures/cluster-large-frames.ts', import.meta.url))

t.test('600 publishes of 1 MB in one turn on a cluster worker are all acknowledged and delivered', { timeout: 180_000 }, async (t) => {
  const { code, output } = await runTsxScript(t, fixture)
  t.equal(code, 0, 'the worker (and so the primary) exits on its own terms')
  t.notMatch(output, /Invalid string length/)
  t.match(output, /\{"acknowledged":600,"delivered":600\}/)
})
