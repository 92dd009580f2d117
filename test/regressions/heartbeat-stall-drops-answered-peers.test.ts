// A server whose event loop was blocked past heartbeatTimeout by an I/O callback (a handler
// doing synchronous work) judged the heartbeat before reading the pongs that had arrived in
// the meantime: every peer that answered in time was dropped. The verdict now waits until the
// sockets have been read once.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import Type from 'typebox'
import { startServer } from '../helpers/server.js'
import { runTsxScript } from '../helpers/tsx-script.js'

const client = fileURLToPath(new URL('../fixtures/stalling-heartbeat-client.ts', import.meta.url))

/** Synchronous work that holds the event loop, as a heavy handler would. */
function blockFor (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) { /* busy */ }
}

t.test('a peer whose pong arrived while the server was blocked is not dropped', async (t) => {
  const { app, url } = await startServer(t, {
    plugin: { heartbeatInterval: 1000, heartbeatTimeout: 300 },
    setup: (app) => {
      // Blocks from just after the ping until past the timeout; the other peer's pong arrives meanwhile.
      app.realtime.handle('stall', Type.Object({}), () => { blockFor(800) })
    }
  })
  const { code, output } = await runTsxScript(t, client, [url])
  t.equal(code, 0)
  t.equal(output.trim(), 'late is still connected at the next ping')
  t.equal(app.realtime.stats().heartbeatTerminations, 0)
})
