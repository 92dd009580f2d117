// Server-side static types with a registered contract. Compiled on its own (tsconfig.json
// here) because `Register` is augmented for the whole program it is part of; `npm run
// typecheck` runs it. Each @ts-expect-error fails the build if the line stops erroring.
import Fastify from 'fastify'
import realtime from '../../lib/index.js'
import { contract, Order } from './contract.js'

declare module '../../lib/index.js' {
  interface Register { contract: typeof contract }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

export async function server (): Promise<unknown> {
  const app = Fastify()
  await app.register(realtime, { contract })

  // Correct code compiles: names from the patterns, data of the first matching rule.
  await app.publish('orders.eu', { id: 'o1', total: 12 })
  await app.publish('orders.eu.north', { id: 'o2', total: 1 })
  await app.publish('orders.vip', { id: 'o3', total: 1, concierge: 'Ann' })
  await app.publish('alerts', { level: 'critical', text: 'disk' })
  await app.publish('chat:room1:typing', { anything: true })
  const region: string = 'eu'
  await app.publish(`orders.${region}`, { id: 'o4', total: 2 })

  // @ts-expect-error wrong payload: total is a number
  await app.publish('orders.eu', { id: 'o1', total: '12' })
  // @ts-expect-error wrong payload: a missing field
  await app.publish('orders.eu', { id: 'o1' })
  // @ts-expect-error wrong payload: orders.vip's own rule comes first and needs concierge
  await app.publish('orders.vip', { id: 'o3', total: 1 })
  // @ts-expect-error wrong channel pattern: no rule matches "order.eu"
  await app.publish('order.eu', { id: 'o1', total: 12 })
  // @ts-expect-error a channel name that is any string cannot be checked against the rules
  await app.publish(region, { id: 'o1', total: 12 })

  // Handlers of contract message types must return the reply type.
  app.realtime.handle('addToCart', contract.messages.addToCart.request, (message) => {
    expectType<Equal<typeof message.sku, string>>(true)
    return { items: message.quantity }
  })
  // @ts-expect-error the reply of addToCart is { items: number }
  app.realtime.handle('addToCart', contract.messages.addToCart.request, () => ({ items: 'many' }))
  app.realtime.handle('other', Order, async () => 'anything goes for types outside the contract')

  // inject() gives a client typed by the registered contract.
  const client = await app.realtime.inject({ headers: { authorization: 'Bearer x' } })
  client.subscribe('orders.eu', (data) => { expectType<Equal<typeof data, { id: string, total: number }>>(true) })
  const reply = await client.request('addToCart', { sku: 'a', quantity: 1 })
  expectType<Equal<typeof reply, { items: number }>>(true)
  // @ts-expect-error wrong request field
  await client.request('addToCart', { sku: 'a', qty: 1 })
  return reply
}
