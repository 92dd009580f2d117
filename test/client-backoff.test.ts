import t from 'tap'
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../lib/client/backoff.js'

const defaults: BackoffOptions = { ...DEFAULT_BACKOFF }

t.test('defaults are the recipe: 1 s first, factor 1.5, cap 30 s, 50 attempts', async (t) => {
  t.same(defaults, { initialDelay: 1000, factor: 1.5, maxDelay: 30000, maxAttempts: 50 })
})

t.test('the delay bound grows by the factor per attempt', async (t) => {
  const top = (): number => 0.9999999999
  const bounds = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, defaults, top))
  t.same(bounds, [999, 1499, 2249, 3374, 5062])
})

t.test('the bound stops growing at maxDelay', async (t) => {
  const top = (): number => 0.9999999999
  t.equal(backoffDelay(12, defaults, top), 29999, 'attempt 12 would be 86497 ms uncapped')
  t.equal(backoffDelay(50, defaults, top), 29999)
  t.equal(backoffDelay(3, { ...defaults, maxDelay: 1200 }, top), 1199)
})

t.test('full jitter: the delay is random() times the bound, anywhere from 0 up', async (t) => {
  t.equal(backoffDelay(1, defaults, () => 0), 0, 'random 0 reconnects at once')
  t.equal(backoffDelay(3, defaults, () => 0.5), 1125)
  t.equal(backoffDelay(40, defaults, () => 0.25), 7500)
  let fewest = Infinity
  let most = -Infinity
  for (let i = 0; i < 2000; i++) {
    const delay = backoffDelay(4, defaults)!
    fewest = Math.min(fewest, delay)
    most = Math.max(most, delay)
  }
  t.ok(fewest >= 0, 'never negative')
  t.ok(most < 3375, 'never above the bound of attempt 4 (3375 ms)')
  t.ok(most - fewest > 1000, 'Math.random spreads the delays over the window')
})

t.test('no delay past maxAttempts, nor for attempt 0', async (t) => {
  t.type(backoffDelay(50, defaults, () => 0.5), 'number')
  t.equal(backoffDelay(51, defaults, () => 0.5), undefined)
  t.equal(backoffDelay(1, { ...defaults, maxAttempts: 0 }, () => 0.5), undefined)
  t.equal(backoffDelay(0, defaults, () => 0.5), undefined)
})
