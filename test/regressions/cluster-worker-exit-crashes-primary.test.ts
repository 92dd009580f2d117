// A worker that exits while the primary still has a delivery or an ack to write to it made
// the primary throw an unhandled 'error' (EPIPE, or ERR_IPC_CHANNEL_CLOSED when the write came
// in the next turn, as batched writes do): the primary died and every worker with it.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { runTsxScript } from '../helpers/tsx-script.js'

const fixture = fileURLToPath(new URL('../fixtures/worker-exits-mid-delivery.ts', import.meta.url))

t.test('the cluster primary lives on when a worker exits with writes to it pending', async (t) => {
  for (let run = 0; run < 3; run++) {
    const { code, output } = await runTsxScript(t, fixture)
    t.equal(code, 0, `run ${run + 1}: the primary exits on its own terms`)
    t.match(output, /primary survived/)
    t.notMatch(output, /Unhandled 'error' event/)
  }
})
