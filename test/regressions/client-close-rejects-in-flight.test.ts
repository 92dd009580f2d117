// After close(), a request already on the wire rejected with the message of a lost
// connection ("Connection lost before the server answered"), as if the network had failed.
import t from 'tap'
import Type from 'typebox'
import { ErrorCode } from '../../lib/client/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

t.test('close() rejects requests in flight saying the client was closed', async (t) => {
  const { url } = await startServer(t, {
    setup: (app) => { app.realtime.handle('stall', Type.Object({}), () => new Promise(() => {})) }
  })
  const client = openClient(t, url)
  await nextEvent(client, 'open')
  const stalled = client.request({ type: 'stall' })
  await client.ping() // the stall frame has reached the server
  client.close()
  await t.rejects(stalled, { code: ErrorCode.DISCONNECTED, message: 'Client is closed' })
})
