// once(event, fn) then off(event, fn) left the listener in place: only the remover that
// once() returned worked, because once() registered a wrapper under another identity.
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

t.test('off() removes a listener added with once()', async (t) => {
  const { url } = await startServer(t)
  const client = openClient(t, url)
  const heard: unknown[] = []
  const listener = (welcome: unknown): void => { heard.push(welcome) }
  client.once('welcome', listener)
  client.off('welcome', listener)
  await nextEvent(client, 'welcome')
  t.same(heard, [], 'the removed listener never ran')
})
