// userChannel() names: safe ids unchanged, everything else escaped reversibly, one spelling per id.
import t from 'tap'
import { ErrorCode, userChannel, userIdOfChannel, isValidChannel } from '../../lib/index.js'

t.test('common ids keep their readable name', async (t) => {
  t.equal(userChannel(42), 'user:42')
  t.equal(userChannel('bob@example.com'), 'user:bob@example.com')
  t.equal(userChannel('3f1c2a9e-9c1d-4c0a-8f57-2b1f4e3d6a10'), 'user:3f1c2a9e-9c1d-4c0a-8f57-2b1f4e3d6a10')
  t.equal(userChannel('ada', 'inbox:unread'), 'user:ada:inbox:unread')
})

t.test('other characters are escaped as / and two hex digits per UTF-8 byte, and decode back', async (t) => {
  t.equal(userChannel('acme:bob'), 'user:acme/3Abob')
  t.equal(userChannel('org/team'), 'user:org/2Fteam')
  t.equal(userChannel('Jürgen'), 'user:J/C3/BCrgen')
  for (const id of ['acme:bob', 'org/team', 'Jürgen', '田中', 'a b%c', '👩‍🚀', 'plain']) {
    const channel = userChannel(id, 'sub:x')
    t.ok(isValidChannel(channel), `${id} gives a valid channel name`)
    t.equal(userIdOfChannel(channel), id, `${id} decodes back`)
    t.equal(userIdOfChannel(userChannel(id)), id)
  }
})

t.test('names no id is escaped to have no owner', async (t) => {
  t.equal(userIdOfChannel('orders'), undefined, 'not a user channel')
  t.equal(userIdOfChannel('user:'), undefined, 'empty id')
  t.equal(userIdOfChannel('user:a/b'), undefined, 'an escape without hex digits')
  t.equal(userIdOfChannel('user:/41'), undefined, 'a kept character escaped is not the canonical spelling')
  t.equal(userIdOfChannel('user:/3a'), undefined, 'lowercase hex is not the canonical spelling')
  t.equal(userIdOfChannel('user:/C3'), undefined, 'broken UTF-8')
})

t.test('ids that cannot make a channel name throw invalid_channel', async (t) => {
  t.throws(() => userChannel(''), { code: ErrorCode.INVALID_CHANNEL })
  t.throws(() => userChannel('田'.repeat(30)), { code: ErrorCode.INVALID_CHANNEL }, 'over 200 characters once escaped')
  t.throws(() => userChannel('ada', 'bad sub'), { code: ErrorCode.INVALID_CHANNEL }, 'a sub-channel with a space')
})
