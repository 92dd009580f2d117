// Reading a refused frame's request id without the full parse (rate_limited answers).
import t from 'tap'
import { PEEK_PARSE_LIMIT, peekRequestId } from '../lib/request-id.js'

const peek = (text: string): string | undefined => peekRequestId(Buffer.from(text))
const padding = 'x'.repeat(PEEK_PARSE_LIMIT)

t.test('small frames are parsed: the id is found wherever it is', async (t) => {
  t.equal(peek('{"type":"publish","channel":"a","data":1,"id":"7"}'), '7')
  t.equal(peek('{"id":"a-1","type":"ping"}'), 'a-1')
})

t.test('no usable id: none is echoed', async (t) => {
  t.equal(peek('not json'), undefined)
  t.equal(peek('null'), undefined)
  t.equal(peek('[1,2]'), undefined)
  t.equal(peek('{"type":"ping"}'), undefined)
  t.equal(peek('{"id":7}'), undefined, 'not a string')
  t.equal(peek('{"id":""}'), undefined, 'empty')
  t.equal(peek(JSON.stringify({ id: 'i'.repeat(65) })), undefined, 'too long')
  t.equal(peek('{"__proto__":{"id":"x"}}'), undefined, 'never read through a prototype')
})

t.test('large frames: only an id that comes first is read, from a bounded prefix', async (t) => {
  t.equal(peek(`{"id":"12","type":"publish","data":"${padding}"}`), '12')
  t.equal(peek(`{ "id" : "12", "data":"${padding}"}`), '12', 'JSON whitespace allowed')
  t.equal(peek(`{"type":"publish","data":"${padding}","id":"12"}`), undefined, 'an id at the end is not looked for')
  t.equal(peek(`{"id":"a\\"b","data":"${padding}"}`), undefined, 'no escapes')
})
