// Two and three Fastify nodes sharing one real redis-server: what a client sees when the
// app runs on many nodes.
import t from 'tap'
import type { Frame } from './helpers/ws-client.js'
import { startNodes } from './helpers/nodes.js'
import { eventually, startRedis } from './helpers/redis-server.js'
import { ErrorCode, errorMessages } from '../lib/errors.js'

const redis = await startRedis(t)
let prefixes = 0
const options = (): { url: string, keyPrefix: string } => ({ url: redis.url, keyPrefix: `multi-${++prefixes}:` })

const isMessage = (channel: string) => (frame: Frame): boolean => frame.type === 'message' && frame.channel === channel

t.test('a client on node A gets a message published through an HTTP route on node B exactly once, and so does one on B (no local double delivery)', async (t) => {
  const [a, b] = await startNodes(t, 2, options())
  const onA = await a!.connect()
  const onB = await b!.connect()
  t.equal(onA.welcome.nodeId, 'node-a')
  t.equal(onB.welcome.nodeId, 'node-b')
  t.equal((await onA.subscribe('orders')).type, 'subscribed')
  t.equal((await onB.subscribe('orders')).type, 'subscribed')

  const response = await b!.app.inject({ method: 'POST', url: '/publish/orders', payload: { id: 42 } })
  t.equal(response.statusCode, 200)
  t.same((await onA.next(isMessage('orders'))).data, { id: 42 })
  t.same((await onB.next(isMessage('orders'))).data, { id: 42 }, 'the publishing node delivers too')

  // A later message proves nothing more of the first one was on its way.
  await b!.app.inject({ method: 'POST', url: '/publish/orders', payload: { id: 43 } })
  for (const client of [onA, onB]) {
    await client.next((frame) => isMessage('orders')(frame) && frame.data.id === 43)
    t.same(client.seen(isMessage('orders')).map((frame) => frame.data.id), [42, 43])
  }
})

t.test('a broadcast reaches every client on every node once', async (t) => {
  const nodes = await startNodes(t, 3, options())
  const clients = await Promise.all(nodes.flatMap((node) => [node.connect(), node.connect()]))
  const response = await nodes[1]!.app.inject({ method: 'POST', url: '/broadcast', payload: { text: 'deploy finished' } })
  t.equal(response.statusCode, 200)
  await nodes[2]!.app.broadcast('end')
  for (const client of clients) {
    await client.next((frame) => frame.type === 'broadcast' && frame.data === 'end')
    t.same(client.seen((frame) => frame.type === 'broadcast').map((frame) => frame.data), [{ text: 'deploy finished' }, 'end'])
  }
})

t.test('1,000 messages from concurrent publishers on three nodes arrive in the same order at every subscriber', async (t) => {
  const nodes = await startNodes(t, 3, options())
  const clients = await Promise.all(nodes.flatMap((node) => [node.connect(), node.connect()]))
  for (const client of clients) await client.subscribe('race')

  const perNode = [334, 333, 333]
  await Promise.all(nodes.map((node, n) => Promise.all(
    Array.from({ length: perNode[n]! }, (_, i) => node.app.publish('race', { node: node.nodeId, i }))
  )))
  // Every publish above was taken by Redis before this one is sent, so it arrives last.
  await nodes[0]!.app.publish('race', 'end')

  const orders: string[][] = []
  for (const client of clients) {
    await client.next((frame) => isMessage('race')(frame) && frame.data === 'end')
    const received = client.seen(isMessage('race')).slice(0, -1).map((frame) => `${frame.data.node as string}/${frame.data.i as number}`)
    orders.push(received)
  }
  t.equal(orders[0]!.length, 1000, 'every message arrived')
  t.equal(new Set(orders[0]).size, 1000, 'none twice')
  for (const order of orders.slice(1)) t.same(order, orders[0], 'same order as the first subscriber')
  for (const [n, node] of nodes.entries()) {
    const own = orders[0]!.filter((id) => id.startsWith(node.nodeId + '/')).map((id) => Number(id.split('/')[1]))
    t.same(own, Array.from({ length: perNode[n]! }, (_, i) => i), `${node.nodeId}'s messages keep their publish order`)
  }
})

t.test('a node without subscribers of a channel receives none of its traffic', async (t) => {
  const keys = options()
  const [a, b, c] = await startNodes(t, 3, keys)
  const onA = await a!.connect()
  const onB = await b!.connect()
  const onC = await c!.connect()
  await onA.subscribe('busy')
  await onB.subscribe('busy')

  const channel = keys.keyPrefix + 'busy'
  t.same(await redis.admin.call('PUBSUB', 'NUMSUB', channel), [channel, 2], 'nodes A and B, not C')
  // Besides the channel: broadcasts, and the cluster commands' control channel and per-node reply channels.
  const internal = ['!broadcast', '!control', '!reply:node-a', '!reply:node-b', '!reply:node-c'].map((name) => keys.keyPrefix + name)
  t.same((await redis.admin.call('PUBSUB', 'CHANNELS', keys.keyPrefix + '*') as string[]).sort(), [...internal, channel].sort())

  await c!.app.publish('busy', 'from c')
  await onA.next((frame) => isMessage('busy')(frame) && frame.data === 'from c')
  await onB.next((frame) => isMessage('busy')(frame) && frame.data === 'from c')
  await c!.app.broadcast('marker')
  await onC.nextOfType('broadcast')
  t.same(onC.seen((frame) => frame.type === 'message'), [], 'the client on C got nothing of the channel')
  t.equal(c!.app.realtime.stats().messagesOut, 2, 'node C sent its clients only the welcome and the broadcast')

  t.equal((await onB.request({ type: 'unsubscribe', channel: 'busy' })).type, 'unsubscribed')
  t.same(await redis.admin.call('PUBSUB', 'NUMSUB', channel), [channel, 1], 'B unsubscribed once its last client left')
  await onA.close()
  // The disconnect releases the channel in the background; Redis has no event to await.
  await eventually(async () => (await redis.admin.call('PUBSUB', 'NUMSUB', channel) as [string, number])[1] === 0, 'the channel is released')
  t.same(await redis.admin.call('PUBSUB', 'NUMSUB', channel), [channel, 0], 'no node subscribed once the last subscriber left')
})

t.test('client publish and chat travel across nodes', async (t) => {
  const [a, b] = await startNodes(t, 2, options())
  const onA = await a!.connect()
  const onB = await b!.connect()
  await onA.subscribe('room')
  t.equal((await onB.request({ type: 'publish', channel: 'room', data: 'hi' })).type, 'ack')
  t.equal((await onA.next(isMessage('room'))).data, 'hi')
  t.equal((await onB.request({ type: 'chat', content: 'hello all' })).type, 'ack')
  const chat = await onA.nextOfType('chat')
  t.equal(chat.content, 'hello all')
  t.equal(chat.from, onB.welcome.connectionId)
})

t.test('stats report the broker state', async (t) => {
  const [a] = await startNodes(t, 1, options())
  t.equal(a!.app.realtime.stats().broker, 'ready')
  t.equal(a!.app.realtime.stats().nodeId, 'node-a')
})

t.test('app.close() leaves no Redis connection the plugin opened', async (t) => {
  const [a, b] = await startNodes(t, 2, options())
  const names = async (): Promise<string[]> => {
    const list = await redis.admin.call('CLIENT', 'LIST') as string
    return list.split('\n').map((line) => /\bname=(fastify-realtime:\S+)/.exec(line)?.[1]).filter((name) => name !== undefined)
  }
  t.same((await names()).sort(), ['fastify-realtime:node-a:pub', 'fastify-realtime:node-a:sub', 'fastify-realtime:node-b:pub', 'fastify-realtime:node-b:sub'])
  const client = await a!.connect()
  await client.subscribe('x')
  await a!.app.close()
  await b!.app.close()
  // QUIT is answered before the server drops the connection; poll CLIENT LIST briefly.
  await eventually(async () => (await names()).length === 0, 'every connection is gone')
  t.same(await names(), [])
})

t.test('publishes fail loudly while Redis is down, and delivery resumes when it returns on the same port', async (t) => {
  const server = await startRedis(t)
  const [a, b] = await startNodes(t, 2, { url: server.url })
  const onA = await a!.connect()
  const onB = await b!.connect()
  await onA.subscribe('live')
  await onB.subscribe('live')

  // A stream of publishes from B, one after the other, running while Redis dies; it ends on its 20th failure.
  const outcomes: Array<{ i: number, ok: boolean, code?: string }> = []
  const stream = (async () => {
    for (let i = 0; ; i++) {
      try {
        await b!.app.publish('live', i)
        outcomes.push({ i, ok: true })
      } catch (err) {
        outcomes.push({ i, ok: false, code: (err as { code?: string }).code })
        if (outcomes.filter((o) => !o.ok).length >= 20) break
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  await onA.next((frame) => isMessage('live')(frame) && frame.data >= 10)
  await server.kill()
  await stream
  const failures = outcomes.filter((o) => !o.ok)
  t.ok(failures.length >= 20, 'publishes during the outage failed (the stream ends on its 20th failure)')
  t.same(new Set(failures.map((o) => o.code)), new Set([ErrorCode.BROKER_UNAVAILABLE]), 'with broker_unavailable')

  for (const node of [a!, b!]) {
    await eventually(() => node.app.realtime.stats().broker === 'unavailable', `${node.nodeId} is unavailable`)
    t.equal(node.app.realtime.stats().broker, 'unavailable', `${node.nodeId} reports the broker unavailable`)
  }
  await t.rejects(a!.app.publish('live', 'during'), { code: ErrorCode.BROKER_UNAVAILABLE })
  const refused = await onB.request({ type: 'publish', channel: 'live', data: 'during' }, 'req-7')
  t.match(refused, { type: 'error', code: ErrorCode.BROKER_UNAVAILABLE, id: 'req-7' })
  t.equal(refused.message, errorMessages.broker_unavailable, 'the client does not learn where Redis is')
  const response = await b!.app.inject({ method: 'POST', url: '/publish/live', payload: { during: true } })
  t.equal(response.statusCode, 500, 'an HTTP route that publishes fails instead of pretending')

  await server.restart()
  for (const node of [a!, b!]) {
    await eventually(() => node.app.realtime.stats().broker === 'ready', `${node.nodeId} is ready`)
    t.equal(node.app.realtime.stats().broker, 'ready', `${node.nodeId} is ready again`)
  }
  t.equal(a!.app.realtime.subscriberCount('live'), 1, 'no subscriber lost on A')
  t.equal(b!.app.realtime.subscriberCount('live'), 1, 'no subscriber lost on B')
  await b!.app.publish('live', 'after')
  await a!.app.publish('live', 'after from a')
  for (const client of [onA, onB]) {
    await client.next((frame) => isMessage('live')(frame) && frame.data === 'after from a')
    const data = client.seen(isMessage('live')).map((frame) => frame.data)
    t.same(data.slice(-2), ['after', 'after from a'], 'delivery resumed, without a new subscribe')
    const numbers = data.filter((value): value is number => typeof value === 'number')
    t.same(numbers, [...numbers].sort((x, y) => x - y), 'what arrived before the outage arrived in order')
    t.equal(new Set(numbers).size, numbers.length, 'and never twice')
    t.equal(data.filter((value) => value === 'during').length, 0, 'refused publishes were not delivered later')
  }
})
