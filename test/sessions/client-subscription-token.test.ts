// The client sends a subscription token with every subscribe of its channel (resubscribes
// after a reconnect included); a refused token ends the channel with invalid_token.
import t from 'tap'
import jwt from '@fastify/jwt'
import Type from 'typebox'
import type { FastifyRequest } from 'fastify'
import { ErrorCode, tokenFromRequest } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'
import { nextEvent, openClient } from '../helpers/realtime-client.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
const GRANT_SECRET = 'another-secret-of-at-least-32-bytes!'

t.test('subscribe(channel, handler, { token }): let in without authorize, again after a reconnect', async (t) => {
  let asked = 0
  const { app, url } = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      subscriptionTokenSecret: GRANT_SECRET,
      authenticate: (request: FastifyRequest) => request.server.jwt.verify(tokenFromRequest(request) ?? ''),
      authorize: () => { asked++; return false }
    },
    setup: async (app) => { await app.register(jwt, { secret: SECRET }) }
  })
  const user = { sub: 'ada' }
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 50, getToken: () => app.jwt.sign(user) })
  const received: unknown[] = []
  const room = client.subscribe('private:room', (data) => received.push(data), { token: app.realtime.subscriptionToken(user, 'private:room') })
  await room.ready
  t.equal(asked, 0, 'authorize was not asked')

  const resubscribed = nextEvent(client, 'subscribed')
  for (const connection of app.realtime.connections()) connection.socket.terminate()
  await resubscribed
  await app.publish('private:room', { n: 1 })
  await nextEvent(client, 'message')
  t.same(received, [{ n: 1 }], 'the resubscribe carried the token too')
  t.equal(asked, 0)

  const refused = client.subscribe('private:other', () => {}, { token: app.realtime.subscriptionToken(user, 'private:room') })
  await t.rejects(refused.ready, { code: ErrorCode.INVALID_TOKEN }, 'a token for another channel is refused')
  t.same(client.channels, ['private:room'])
  t.throws(() => client.subscribe('private:x', () => {}, { token: '' }), /non-empty string/)
})

t.test('subscribe(channel, handler, { token, info }): a presence channel granted by token lists the info, again after a reconnect', async (t) => {
  let asked = 0
  const { app, url } = await startServer(t, {
    plugin: {
      heartbeatInterval: 60_000,
      subscriptionTokenSecret: GRANT_SECRET,
      channels: [{ match: 'private:team.*', presence: { info: Type.Object({ name: Type.String({ maxLength: 30 }) }) } }],
      authenticate: (request: FastifyRequest) => request.server.jwt.verify(tokenFromRequest(request) ?? ''),
      authorize: () => { asked++; return false }
    },
    setup: async (app) => { await app.register(jwt, { secret: SECRET }) }
  })
  const user = { sub: 'ada' }
  const client = openClient(t, url, { initialDelay: 10, maxDelay: 50, getToken: () => app.jwt.sign(user) })
  const team = client.subscribe('private:team.1', () => {}, { info: { name: 'Ada' }, token: app.realtime.subscriptionToken(user, 'private:team.1') })
  await team.ready
  t.same(await app.realtime.presence('private:team.1'), [{ userId: 'ada', connections: [{ connectionId: client.connectionId, nodeId: app.realtime.nodeId, info: { name: 'Ada' } }] }])

  const resubscribed = nextEvent(client, 'subscribed')
  for (const connection of app.realtime.connections()) connection.socket.terminate()
  await resubscribed
  const connections = (await app.realtime.presence('private:team.1')).flatMap((member) => member.connections)
  t.same(connections.find((connection) => connection.connectionId === client.connectionId)?.info, { name: 'Ada' }, 'the resubscribe carried the token and the info')
  t.equal(asked, 0, 'authorize was never asked')
})
