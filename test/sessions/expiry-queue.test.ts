// The one expiry timer, on node:test's mock clock (setTimeout and Date): deadlines fire in
// order, at most one granularity late, never early; cancelled or moved ones do not fire.
import t, { type Test } from 'tap'
import { mock } from 'node:test'
import { ExpiryQueue, type Deadline } from '../../lib/sessions/expiry-queue.js'

interface Item extends Deadline { name: string }

// Node 20's tick() moves Date to the end before running what is due, and skips timers set
// meanwhile: advance in small steps, like a real clock.
function advance (ms: number, step = 10): void {
  for (let elapsed = 0; elapsed < ms; elapsed += step) mock.timers.tick(Math.min(step, ms - elapsed))
}

function item (name: string): Item {
  return { name, at: 0, heapIndex: -1 }
}

function setup (t: Test, granularity = 1000) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 })
  t.teardown(() => mock.timers.reset())
  const fired: Array<[string, number]> = []
  const queue = new ExpiryQueue<Item>((due, now) => fired.push([due.name, now]), { granularity })
  t.teardown(() => queue.clear())
  return { queue, fired }
}

t.test('deadlines fire in order, not before they are due and at most one granularity after', async (t) => {
  const { queue, fired } = setup(t)
  const start = Date.now()
  const offsets = [4500, 100, 2999, 3000, 7000, 1]
  for (const [index, offset] of offsets.entries()) queue.schedule(item(String(index)), start + offset)
  advance(10_000)
  t.same(fired.map(([name]) => name), ['5', '1', '2', '3', '0', '4'], 'earliest first')
  for (const [name, firedAt] of fired) {
    const due = start + offsets[Number(name)]!
    t.ok(firedAt >= due && firedAt - due <= 1000, `${name} fired within a second after its deadline`)
  }
  t.equal(queue.size, 0)
})

t.test('many deadlines within one granularity share a single wake-up', async (t) => {
  const { queue, fired } = setup(t)
  const start = Date.now()
  for (let i = 0; i < 500; i++) queue.schedule(item(String(i)), start + 1 + i)
  advance(1000)
  t.equal(fired.length, 500)
  t.equal(queue.wakeUps, 1, 'one timer wake-up for 500 deadlines')
})

t.test('a cancelled deadline never fires; a moved one fires at its new time only', async (t) => {
  const { queue, fired } = setup(t, 1)
  const start = Date.now()
  const cancelled = item('cancelled')
  const moved = item('moved')
  const kept = item('kept')
  queue.schedule(cancelled, start + 100)
  queue.schedule(moved, start + 200)
  queue.schedule(kept, start + 300)
  queue.cancel(cancelled)
  queue.cancel(cancelled)
  queue.schedule(moved, start + 5000)
  advance(1000)
  t.same(fired.map(([name]) => name), ['kept'])
  queue.schedule(moved, start + 1500)
  advance(600)
  t.same(fired.map(([name]) => name), ['kept', 'moved'], 'moved earlier again, it fires then')
  t.equal(moved.heapIndex, -1, 'a fired item is out of the heap')
})

t.test('the handler may queue the item again (refresh_needed, then the expiry)', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 })
  t.teardown(() => mock.timers.reset())
  const seen: number[] = []
  const queue = new ExpiryQueue<Item>((due, now) => {
    seen.push(now)
    if (seen.length < 3) queue.schedule(due, now + 1000)
  }, { granularity: 1000 })
  t.teardown(() => queue.clear())
  queue.schedule(item('a'), 1000)
  advance(5000)
  t.same(seen, [1000, 2000, 3000])
})

t.test('a deadline weeks away does not fire early (setTimeout caps delays at 24.8 days)', async (t) => {
  const { queue, fired } = setup(t)
  const start = Date.now()
  const month = 30 * 24 * 3600 * 1000
  queue.schedule(item('far'), start + month)
  advance(2 ** 31, 3_600_000)
  t.same(fired, [], 'not fired when the first capped timer wakes up')
  advance(month - 2 ** 31 + 1000, 1000)
  t.same(fired.map(([name]) => name), ['far'])
})

t.test('random schedules and cancels keep heap order', async (t) => {
  const { queue, fired } = setup(t, 1)
  const start = Date.now()
  const items = Array.from({ length: 300 }, (_, i) => item(String(i)))
  let seed = 7
  const random = (): number => { seed = (seed * 48271) % 2147483647; return seed / 2147483647 }
  for (const entry of items) queue.schedule(entry, start + 1 + Math.floor(random() * 10_000))
  for (const entry of items.slice(0, 100)) queue.schedule(entry, start + 1 + Math.floor(random() * 10_000))
  for (const entry of items.slice(100, 150)) queue.cancel(entry)
  advance(20_000)
  t.equal(fired.length, 250)
  const times = fired.map(([name]) => items[Number(name)]!.at)
  t.same(times, [...times].sort((a, b) => a - b), 'fired in deadline order')
})
