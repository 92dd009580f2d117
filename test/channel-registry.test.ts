import t from 'tap'
import { ChannelRegistry } from '../lib/channel-registry.js'
import type { Connection } from '../lib/connection.js'

function fakeConnection (id: string): Connection {
  // The registry only touches `channels`; a plain object keeps this a unit test of the maps.
  return { id, channels: new Set<string>() } as unknown as Connection
}

t.test('add, remove and removeAll keep both directions in step', async (t) => {
  const registry = new ChannelRegistry()
  const a = fakeConnection('a')
  const b = fakeConnection('b')
  t.equal(registry.add(a, 'x'), true)
  t.equal(registry.add(a, 'x'), false, 'adding twice is a no-op')
  registry.add(a, 'y')
  registry.add(b, 'x')
  t.equal(registry.subscriberCount('x'), 2)
  t.same([...a.channels].sort(), ['x', 'y'])
  t.same(registry.channels().sort(), ['x', 'y'])
  t.equal(registry.channelCount, 2)

  t.equal(registry.remove(b, 'y'), false, 'removing a non-member is a no-op')
  t.equal(registry.remove(b, 'x'), true)
  t.same([...registry.members('x')!], [a])

  t.same(registry.removeAll(a).sort(), ['x', 'y'])
  t.same(registry.channels(), [], 'empty channels are deleted')
  t.equal(registry.members('x'), undefined)
  t.equal(a.channels.size, 0)
})

t.test('clear empties every channel and every connection', async (t) => {
  const registry = new ChannelRegistry()
  const a = fakeConnection('a')
  registry.add(a, 'x')
  registry.clear()
  t.equal(registry.channelCount, 0)
  t.equal(a.channels.size, 0)
})
