// maxSubscriptionsPerConnection was not enforced for history channels: the limit was checked
// before the awaits of a history join and the registry add came after them, so pipelined
// subscribes all passed the check.
import t from 'tap'
import { ErrorCode } from '../../lib/errors.js'
import { startServer } from '../helpers/server.js'

const LIMIT = 3

t.test('pipelined subscribes to history channels stop at maxSubscriptionsPerConnection', async (t) => {
  const { app, connect } = await startServer(t, {
    plugin: {
      maxSubscriptionsPerConnection: LIMIT,
      channels: [{ match: 'h:*', history: { size: 10, ttl: 60_000 } }, { match: '*' }]
    }
  })
  const client = await connect()
  // Sent back to back, none waits for the answer of the one before.
  const answers = await Promise.all(Array.from({ length: 10 }, async (_, i) => await client.request({ type: 'subscribe', channel: `h:${i}` })))
  const subscribed = answers.filter((frame) => frame.type === 'subscribed').map((frame) => frame.channel as string)
  const refused = answers.filter((frame) => frame.type === 'error' && frame.code === ErrorCode.TOO_MANY_SUBSCRIPTIONS)
  t.equal(subscribed.length, LIMIT, `subscribed to ${subscribed.length}`)
  t.equal(refused.length, 10 - LIMIT, 'the rest are refused with too_many_subscriptions')
  t.same(app.realtime.channels().sort(), subscribed.sort(), 'the server holds only those')

  // A slot freed by an unsubscribe can be used again, by a history or a plain channel.
  t.equal((await client.request({ type: 'unsubscribe', channel: subscribed[0] })).type, 'unsubscribed')
  t.equal((await client.request({ type: 'subscribe', channel: 'h:again' })).type, 'subscribed')
  const over = await client.request({ type: 'subscribe', channel: 'plain' })
  t.equal(over.code, ErrorCode.TOO_MANY_SUBSCRIPTIONS, 'and the limit still holds afterwards')
})

t.test('mixed pipelined history and plain subscribes stop at the limit too', async (t) => {
  const { app, connect } = await startServer(t, {
    plugin: {
      maxSubscriptionsPerConnection: LIMIT,
      channels: [{ match: 'h:*', history: { size: 10, ttl: 60_000 } }, { match: '*' }]
    }
  })
  const client = await connect()
  const channels = Array.from({ length: 8 }, (_, i) => i % 2 === 0 ? `h:${i}` : `p:${i}`)
  const answers = await Promise.all(channels.map(async (channel) => await client.request({ type: 'subscribe', channel })))
  t.equal(answers.filter((frame) => frame.type === 'subscribed').length, LIMIT)
  t.equal(app.realtime.channels().length, LIMIT)
})
