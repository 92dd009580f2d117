import t from 'tap'
import Fastify from 'fastify'
import realtime from '../../lib/index.js'
import { ChannelRules } from '../../lib/channels/channel-rules.js'

t.test('an exact match fits only its own name', async (t) => {
  const rules = new ChannelRules([{ match: 'news' }])
  t.equal(rules.ruleFor('news')?.match, 'news')
  t.equal(rules.ruleFor('news2'), undefined)
  t.equal(rules.ruleFor('new'), undefined)
})

t.test('* stands for one or more characters and crosses . : and /', async (t) => {
  const rules = new ChannelRules([{ match: 'orders.*' }, { match: 'chat:*:typing' }])
  t.equal(rules.ruleFor('orders.eu')?.match, 'orders.*')
  t.equal(rules.ruleFor('orders.eu.north')?.match, 'orders.*', 'crosses .')
  t.equal(rules.ruleFor('orders.eu:x/y')?.match, 'orders.*', 'crosses : and /')
  t.equal(rules.ruleFor('orders.'), undefined, 'needs at least one character')
  t.equal(rules.ruleFor('ordersXeu'), undefined, 'the . before * is literal')
  t.equal(rules.ruleFor('chat:room1:typing')?.match, 'chat:*:typing')
  t.equal(rules.ruleFor('chat:a/b:typing')?.match, 'chat:*:typing')
  t.equal(rules.ruleFor('chat::typing'), undefined)
  t.equal(rules.ruleFor('chat:room1:typingX'), undefined, 'anchored at the end')
})

t.test('the first rule that matches decides', async (t) => {
  const rules = new ChannelRules([{ match: 'orders.vip', publish: 'server' }, { match: 'orders.*', publish: 'clients' }])
  t.equal(rules.ruleFor('orders.vip')?.publish, 'server')
  t.equal(rules.ruleFor('orders.eu')?.publish, 'clients')
  const reversed = new ChannelRules([{ match: 'orders.*', publish: 'clients' }, { match: 'orders.vip', publish: 'server' }])
  t.equal(reversed.ruleFor('orders.vip')?.publish, 'clients')
})

t.test('the per-name cache stays bounded however many names are looked up', async (t) => {
  const rules = new ChannelRules([{ match: 'room.*' }], 1000)
  for (let i = 0; i < 100_000; i++) rules.ruleFor(`room.${i}`)
  for (let i = 0; i < 100_000; i++) rules.ruleFor(`other.${i}`)
  t.equal(rules.cachedChannels, 1000)
  t.equal(rules.ruleFor('room.5')?.match, 'room.*', 'an evicted name is looked up again')
  t.equal(rules.ruleFor('other.5'), undefined)
})

const badRules: Array<[string, unknown, RegExp]> = [
  ['not an array', { match: 'x' }, /channels must be an array/],
  ['a rule that is not an object', ['x'], /channels\[0\] must be an object/],
  ['an unknown key', [{ match: 'a' }, { match: 'b', histroy: {} }], /channels\[1\] \("b"\) has an unknown key "histroy"/],
  ['an empty match', [{ match: '' }], /channels\[0\] \(""\): match must be a non-empty string/],
  ['no match', [{ publish: 'server' }], /channels\[0\]: match must be a non-empty string/],
  ['a match with a space', [{ match: 'a b' }], /match may hold channel characters/],
  ['a match with **', [{ match: 'a.**' }], /match may not hold \*\*/],
  ['two rules with the same match', [{ match: 'a.*' }, { match: 'a.*' }], /channels\[1\] \("a\.\*"\) repeats the match/]
]

for (const [name, channels, message] of badRules) {
  t.test(`register fails on ${name}, naming the rule`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(realtime, { channels } as never)
    await t.rejects(async () => { await app.ready() }, message)
  })
}
