// Client-side static types: the contract as a type parameter only.
import { RealtimeClient } from '../../lib/client/index.js'
import type { contract } from './contract.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true> (_: T): void {}

export async function typedClient (): Promise<unknown[]> {
  const client = new RealtimeClient<typeof contract>('ws://localhost/ws')

  client.subscribe('orders.eu', (data, message) => {
    expectType<Equal<typeof data, { id: string, total: number }>>(true)
    expectType<Equal<typeof message.channel, string>>(true)
  })
  client.subscribe('orders.vip', (data) => { expectType<Equal<typeof data.concierge, string>>(true) })
  client.subscribe('alerts', (data) => { expectType<Equal<typeof data.level, 'info' | 'critical'>>(true) })
  client.subscribe('chat:r:typing', (data) => { expectType<Equal<typeof data, unknown>>(true) })
  await client.publish('orders.eu', { id: 'o1', total: 3 })
  const items = await client.request('addToCart', { sku: 'a', quantity: 2 })
  expectType<Equal<typeof items, { items: number }>>(true)
  const nothing = await client.request('ping2', {})
  expectType<Equal<typeof nothing, unknown>>(true)

  // @ts-expect-error wrong channel pattern
  client.subscribe('order.eu', () => {})
  // @ts-expect-error wrong handler type: data is an Order
  client.subscribe('orders.eu', (data: { id: number }) => data)
  // @ts-expect-error wrong payload
  await client.publish('orders.eu', { id: 1, total: 3 })
  // @ts-expect-error wrong request field
  await client.request('addToCart', { sku: 'a', quantity: 'two' })
  // @ts-expect-error a message type the contract does not list
  await client.request('removeFromCart', { sku: 'a' })

  // Without a contract everything stays as before.
  const plain = new RealtimeClient('ws://localhost/ws')
  plain.subscribe('anything', (data) => { expectType<Equal<typeof data, unknown>>(true) })
  plain.subscribe<{ id: string }>('orders', (data) => { expectType<Equal<typeof data.id, string>>(true) })
  await plain.publish('anything', 42)
  const sum = await plain.request<number>({ type: 'add', a: 1 })
  expectType<Equal<typeof sum, number>>(true)
  const free = await plain.request('add', { a: 1 })
  expectType<Equal<typeof free, unknown>>(true)
  return [items, nothing, sum, free]
}
