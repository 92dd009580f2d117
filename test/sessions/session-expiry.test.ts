// Reading a session's expiry: the JWT exp claim in seconds, or the sessionExpiry option in
// ms; an option that throws or answers nonsense ends the session at once (fail closed).
import t from 'tap'
import { createSessionExpiry, expiryFromClaim } from '../../lib/sessions/session-expiry.js'

t.test('the exp claim is read in seconds and returned in ms; no claim, no expiry', async (t) => {
  t.equal(expiryFromClaim({ sub: 'a', exp: 1_700_000_000 }), 1_700_000_000_000)
  t.equal(expiryFromClaim({ sub: 'a' }), undefined)
  t.equal(expiryFromClaim({ exp: '1700000000' }), undefined, 'a string claim is not a number')
  t.equal(expiryFromClaim('user'), undefined)
  t.equal(expiryFromClaim(null), undefined)
  t.equal(createSessionExpiry(undefined)({ exp: 10 }), 10_000, 'without the option, the claim decides')
})

t.test('sessionExpiry: ms as given, undefined or Infinity for never, anything else expires at once', async (t) => {
  const user = { sub: 'a', exp: 10 }
  t.equal(createSessionExpiry(() => 123_456)(user), 123_456, 'the option wins over the claim')
  t.equal(createSessionExpiry(() => undefined)(user), undefined)
  t.equal(createSessionExpiry(() => null as unknown as undefined)(user), undefined)
  t.equal(createSessionExpiry(() => Infinity)(user), undefined)
  t.equal(createSessionExpiry(() => Number.NaN)(user), 0)
  t.equal(createSessionExpiry(() => '2030-01-01' as unknown as number)(user), 0)
  t.equal(createSessionExpiry(() => { throw new Error('db down') })(user), 0)
})
