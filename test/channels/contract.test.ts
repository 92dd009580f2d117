// The contract's rule keys over real sockets: `schema` validated once per publish on the
// server path and the client path, nothing invalid reaching the broker or a subscriber;
// `publish: 'server' | 'clients'` overriding allowClientPublish; first match; register errors.
import t from 'tap'
import Fastify from 'fastify'
import Type from 'typebox'
import realtime, { defineContract, ErrorCode, MemoryBroker, RealtimeError } from '../../lib/index.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startServer } from '../helpers/server.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const Order = Type.Object({ id: Type.String(), total: Type.Number({ minimum: 0 }) }, { additionalProperties: false })
const VipOrder = Type.Object({ id: Type.String(), concierge: Type.String() })

const contract = defineContract({
  channels: [
    { match: 'orders.vip', schema: VipOrder },
    { match: 'orders.*', schema: Order },
    { match: 'alerts', publish: 'server' },
    { match: 'open.*', publish: 'clients' }
  ]
})

/** A real MemoryBroker that counts what it is given: proves nothing invalid got that far. */
class CountingBroker extends MemoryBroker {
  published: string[] = []
  override async publish (channel: string, frame: string): Promise<void> {
    this.published.push(channel)
    await super.publish(channel, frame)
  }
}

t.test('app.publish: valid data is delivered; invalid data rejects invalid_message with details and never reaches the broker', async (t) => {
  const broker = new CountingBroker()
  const { app, connect } = await startServer(t, { plugin: { contract, broker } })
  const subscriber = await connect()
  await subscriber.subscribe('orders.eu')
  broker.published.length = 0

  const error = await app.publish('orders.eu', { id: 'o1', total: -3, extra: true }).then(() => undefined, (err: unknown) => err)
  t.ok(error instanceof RealtimeError)
  t.match(error, { code: ErrorCode.INVALID_MESSAGE })
  const details = (error as RealtimeError).details as Array<{ path: string, message: string }>
  t.ok(details.some((issue) => issue.path === '/total' && typeof issue.message === 'string'), 'a path and message per problem')
  t.ok(details.length >= 2, 'every problem is listed (total and the extra property)')
  t.same(broker.published, [], 'nothing reached the broker')

  await app.publish('orders.eu', { id: 'o2', total: 5 })
  const frame = await subscriber.nextOfType('message')
  t.same(frame.data, { id: 'o2', total: 5 }, 'the first frame the subscriber gets is the valid one')
  t.same(broker.published, ['orders.eu'])
  await t.rejects(app.publish('orders.eu', 'not an object'), { code: ErrorCode.INVALID_MESSAGE, details: [{ path: '' }] })
})

t.test('a client publish with invalid data gets the same error frame, with its id; subscribers see nothing', async (t) => {
  const broker = new CountingBroker()
  const { connect } = await startServer(t, { plugin: { contract, broker } })
  const subscriber = await connect()
  await subscriber.subscribe('orders.eu')
  const publisher = await connect()
  broker.published.length = 0

  const refused = await publisher.request({ type: 'publish', channel: 'orders.eu', data: { id: 7, total: 1 } }, 'p1')
  t.match(refused, { type: 'error', code: ErrorCode.INVALID_MESSAGE, id: 'p1', details: [{ path: '/id' }] })
  t.same(broker.published, [])

  t.same(await publisher.request({ type: 'publish', channel: 'orders.eu', data: { id: 'ok', total: 1 } }, 'p2'), { type: 'ack', id: 'p2' })
  t.same((await subscriber.nextOfType('message')).data, { id: 'ok', total: 1 })
  t.equal(subscriber.seen((f) => f.type === 'message').length, 1, 'the invalid publish was never fanned out')
})

t.test('the first rule that matches decides which schema applies', async (t) => {
  const { app } = await startServer(t, { plugin: { contract } })
  await app.publish('orders.vip', { id: 'v', concierge: 'Ann' })
  await t.rejects(app.publish('orders.vip', { id: 'v', total: 1 }), { code: ErrorCode.INVALID_MESSAGE }, 'orders.vip uses its own rule, listed first')
  await t.rejects(app.publish('orders.eu', { id: 'v', concierge: 'Ann' }), { code: ErrorCode.INVALID_MESSAGE }, 'other orders.* use the Order rule')
  await app.publish('unruled', { anything: [1, 2] })
  await app.publish('orders', 'no rule matches: any data')
})

t.test("publish: 'server' refuses client publishes with forbidden; 'clients' allows them even when allowClientPublish is false", async (t) => {
  const { app, connect } = await startServer(t, { plugin: { contract, allowClientPublish: false } })
  const subscriber = await connect()
  await subscriber.subscribe('alerts')
  await subscriber.subscribe('open.room')
  const client = await connect()

  t.match(await client.request({ type: 'publish', channel: 'alerts', data: 'x' }, 'a'), { type: 'error', code: ErrorCode.FORBIDDEN, id: 'a' })
  t.same(await client.request({ type: 'publish', channel: 'open.room', data: 'hi' }, 'b'), { type: 'ack', id: 'b' })
  t.same((await subscriber.nextOfType('message')).channel, 'open.room')
  t.match(await client.request({ type: 'publish', channel: 'news', data: 'x' }, 'c'), { code: ErrorCode.FORBIDDEN }, 'unruled channels follow allowClientPublish')
  await app.publish('alerts', 'from the server')
  t.same((await subscriber.next((f) => f.type === 'message' && f.channel === 'alerts')).data, 'from the server', 'the server still publishes there')
})

t.test("publish: 'server' wins over allowClientPublish: true, and authorize still decides the 'clients' channels", async (t) => {
  const asked: string[] = []
  const { connect } = await startServer(t, {
    plugin: {
      contract,
      authorize: ({ channel, action }) => { asked.push(`${action} ${channel}`); return channel !== 'open.secret' }
    }
  })
  const client = await connect()
  t.match(await client.request({ type: 'publish', channel: 'alerts', data: 1 }, 'a'), { code: ErrorCode.FORBIDDEN })
  t.match(await client.request({ type: 'publish', channel: 'open.secret', data: 1 }, 'b'), { code: ErrorCode.FORBIDDEN })
  t.same(await client.request({ type: 'publish', channel: 'open.room', data: 1 }, 'c'), { type: 'ack', id: 'c' })
  t.same(asked, ['publish open.secret', 'publish open.room'], 'a server-only channel is refused before authorize is asked')
})

t.test('the rule cache stays bounded while a client publishes on many distinct channel names', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { contract, rateLimit: false } })
  const client = await connect()
  const padding = 'x'.repeat(150)
  const publishMany = async (from: number, count: number): Promise<void> => {
    for (let i = from; i < from + count; i++) client.send({ type: 'publish', channel: `orders.${padding}${i}`, data: { id: String(i), total: i } })
    // Frames are handled in order: the pong comes after every publish above.
    client.send({ type: 'ping', ts: from })
    await client.next((frame) => frame.type === 'pong' && frame.ts === from, 30_000)
  }
  // Past the cache size (10 000 names) first, so later names only replace evicted ones.
  await publishMany(0, 20_000)
  gc()
  const before = process.memoryUsage().heapUsed
  await publishMany(20_000, 40_000)
  gc()
  const growth = process.memoryUsage().heapUsed - before
  t.comment(`heap growth over 40 000 more channel names: ${(growth / 1024 / 1024).toFixed(1)} MiB`)
  // Unbounded, 40 000 names of ~160 characters would keep well over 6 MiB alive.
  t.ok(growth < 6 * 1024 * 1024, 'memory does not grow with the number of names')
  t.equal(client.seen((frame) => frame.type === 'error').length, 0, 'every publish was valid')
  await t.rejects(app.publish(`orders.${padding}5`, { id: 5 }), { code: ErrorCode.INVALID_MESSAGE }, 'an evicted name is looked up again and still validated')
})

const badContracts: Array<[string, unknown, RegExp]> = [
  ['a schema that is plain JSON Schema, not TypeBox', { channels: [{ match: 'a' }, { match: 'b.*', schema: { type: 'object' } }] }, /channels\[1\] \("b\.\*"\): schema must be a TypeBox schema/],
  ['a schema that is not a schema at all', { channels: [{ match: 'a', schema: 'Order' }] }, /channels\[0\] \("a"\): schema must be a TypeBox schema/],
  ['an unknown publish value', { channels: [{ match: 'a', publish: 'everyone' }] }, /channels\[0\] \("a"\): publish must be 'server' or 'clients'/],
  ['an unknown contract key', { channels: [], rules: [] }, /contract has an unknown key "rules"/],
  ['a message type with a reserved name', { messages: { publish: { request: Type.Object({}) } } }, /contract.messages\["publish"\]: not a name/],
  ['a message type whose request is not a Type.Object', { messages: { add: { request: Type.String() } } }, /contract.messages\["add"\]: request must be a TypeBox Type.Object/],
  ['a message type whose reply is not TypeBox', { messages: { add: { request: Type.Object({}), reply: { type: 'number' } } } }, /contract.messages\["add"\]: reply must be a TypeBox schema/]
]

for (const [name, badContract, message] of badContracts) {
  t.test(`register fails on ${name}, naming it`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(realtime, { contract: badContract } as never)
    await t.rejects(async () => { await app.ready() }, message)
  })
}

t.test('register fails when rules come both from contract.channels and channels', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(realtime, { contract, channels: [{ match: 'x' }] })
  await t.rejects(async () => { await app.ready() }, /either in contract.channels or in channels/)
})

t.test('schema and publish also work from the plain channels option', async (t) => {
  const { app, connect } = await startServer(t, { plugin: { channels: [{ match: 'n.*', schema: Type.Number(), publish: 'server' }] } })
  await app.publish('n.1', 1)
  await t.rejects(app.publish('n.1', '1'), { code: ErrorCode.INVALID_MESSAGE })
  const client = await connect()
  t.match(await client.request({ type: 'publish', channel: 'n.1', data: 1 }, 'x'), { code: ErrorCode.FORBIDDEN })
})

t.test('a contract message type without a handler is logged at ready', async (t) => {
  const logs: string[] = []
  const withMessages = defineContract({ messages: { 'cart.add': { request: Type.Object({ sku: Type.String() }) }, 'cart.clear': { request: Type.Object({}) } } })
  await startServer(t, {
    plugin: { contract: withMessages },
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } },
    setup: (app) => { app.realtime.handle('cart.add', withMessages.messages['cart.add'].request, () => undefined) }
  })
  const warnings = logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg.includes('no app.realtime.handle()'))
  t.same(warnings.map((entry) => entry.messageType), ['cart.clear'])
})

t.test('a handler registered with another schema than the contract\'s request is logged at ready; the same schema rebuilt is not', async (t) => {
  const logs: string[] = []
  const withMessages = defineContract({
    messages: {
      move: { request: Type.Object({ x: Type.Number(), y: Type.Number() }) },
      rename: { request: Type.Object({ name: Type.String({ minLength: 1, maxLength: 40 }) }) }
    }
  })
  await startServer(t, {
    plugin: { contract: withMessages },
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } },
    setup: (app) => {
      // Not the contract's schema: x is a string here.
      app.realtime.handle('move', Type.Object({ x: Type.String(), y: Type.Number() }), () => undefined)
      // The contract's schema written again, options in another order: the same schema.
      app.realtime.handle('rename', Type.Object({ name: Type.String({ maxLength: 40, minLength: 1 }) }), () => undefined)
    }
  })
  const warnings = logs.map((line) => JSON.parse(line)).filter((entry) => entry.msg.includes('another schema'))
  t.same(warnings.map((entry) => entry.messageType), ['move'])
})
