import t from 'tap'
import { startServer } from './helpers/server.js'

t.test('smoke', async (t) => {
  const { connect, app } = await startServer(t)
  const a = await connect()
  t.equal((await a.subscribe('news')).type, 'subscribed')
  await app.publish('news', { x: 1 })
  t.same((await a.nextOfType('message')).data, { x: 1 })
})
