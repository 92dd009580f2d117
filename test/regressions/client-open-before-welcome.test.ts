// `open` fired when the socket opened, before the server's `welcome` was read, so
// connectionId and nodeId were undefined inside an `open` listener (the README logs them there).
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

t.test('inside an open listener, connectionId and nodeId are those of the new connection', async (t) => {
  const { app, url } = await startServer(t, { plugin: { nodeId: 'node-a' } })
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 20 })
  const seen: Array<[string | undefined, string | undefined]> = []
  client.on('open', () => { seen.push([client.connectionId, client.nodeId]) })
  await nextEvent(client, 'open')
  const first = client.connectionId
  app.realtime.connection(first!)!.socket.terminate()
  await nextEvent(client, 'open')
  t.equal(seen.length, 2)
  t.same(seen[0], [first, 'node-a'])
  t.equal(seen[1]![1], 'node-a')
  t.ok(seen[1]![0] !== undefined && seen[1]![0] !== first, 'the reconnected id, known in the listener')
  t.ok(app.realtime.connection(seen[1]![0]!), 'and the server knows it')
})
