// Issue 10: a user id containing `:` broke the `user:` namespace. The owner of
// `user:acme:bob` was read as `acme`, so user `acme` could read the private channel of user
// `acme:bob`, and `acme:bob` was refused its own. Channels are now named by `userChannel()`,
// which escapes every character outside the safe set, and ownership is an exact match.
import t from 'tap'
import { userChannel } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'

async function usersServer (t: Parameters<typeof startServer>[0]) {
  // The id travels as a URI-encoded header so that unicode ids survive HTTP.
  return await startServer(t, {
    plugin: { authenticate: (request) => ({ id: decodeURIComponent(String(request.headers['x-user'])) }) }
  })
}

t.test('acme may not read the channel of acme:bob, and acme:bob gets its own', async (t) => {
  const { app, connect } = await usersServer(t)
  const acme = await connect({ headers: { 'x-user': 'acme' } })
  const acmeBob = await connect({ headers: { 'x-user': encodeURIComponent('acme:bob') } })

  t.match(await acme.subscribe(userChannel('acme:bob')), { type: 'error', code: 'forbidden' }, 'acme is refused the channel of acme:bob')
  t.match(await acmeBob.subscribe(userChannel('acme:bob')), { type: 'subscribed' }, 'acme:bob gets its own channel')
  t.match(await acmeBob.subscribe(userChannel('acme')), { type: 'error', code: 'forbidden' }, 'acme:bob is refused the channel of acme')
  t.match(await acmeBob.subscribe('user:acme:bob'), { type: 'error', code: 'forbidden' }, 'the hand-built name is a sub-channel of acme, not acme:bob\'s')
  t.match(await acme.subscribe(userChannel('acme')), { type: 'subscribed' })

  await app.publish(userChannel('acme:bob'), 'for acme:bob')
  t.equal((await acmeBob.nextOfType('message')).data, 'for acme:bob')
  await app.publish(userChannel('acme'), 'for acme')
  t.equal((await acme.nextOfType('message')).data, 'for acme')
  t.same(acme.seen((frame) => frame.type === 'message').map((frame) => frame.data), ['for acme'], 'acme never saw acme:bob\'s message')
})

t.test('ids with / . @ unicode and characters outside channel names own exactly their channel', async (t) => {
  const { connect } = await usersServer(t)
  const ids = ['org/team', 'a.b', 'bob@example.com', 'Jürgen', '田中', 'space and%percent', 'acme', 'acme/3Abob', 'x-y_z']
  const clients = new Map<string, Awaited<ReturnType<typeof connect>>>()
  for (const id of ids) clients.set(id, await connect({ headers: { 'x-user': encodeURIComponent(id) } }))
  for (const [id, client] of clients) {
    t.match(await client.subscribe(userChannel(id)), { type: 'subscribed' }, `${id} subscribes to its own channel`)
    t.match(await client.subscribe(userChannel(id, 'inbox')), { type: 'subscribed' }, `${id} subscribes to its own sub-channel`)
    for (const other of ids) {
      if (other === id) continue
      t.match(await client.subscribe(userChannel(other)), { type: 'error', code: 'forbidden' }, `${id} is refused the channel of ${other}`)
      t.match(await client.subscribe(userChannel(other, 'inbox')), { type: 'error', code: 'forbidden' }, `${id} is refused the sub-channel of ${other}`)
    }
  }
})
