// app.realtime.asyncapi(): an AsyncAPI 3.0 document that the official parser accepts
// without any error diagnostic, listing frames, channel rules, message types and error codes.
import t from 'tap'
import Type from 'typebox'
import { Parser } from '@asyncapi/parser'
import { defineContract, ErrorCode } from '../../lib/index.js'
import { startServer } from '../helpers/server.js'

const Order = Type.Object({ id: Type.String(), total: Type.Number() })
const contract = defineContract({
  channels: [
    { match: 'orders.*', schema: Order },
    { match: 'chat:*:typing', publish: 'server' },
    { match: 'news' }
  ],
  messages: {
    'cart.add': { request: Type.Object({ sku: Type.String() }), reply: Type.Object({ items: Type.Integer() }), description: 'Adds an item' }
  }
})

const ERROR_SEVERITY = 0

t.test('the document parses with @asyncapi/parser without error diagnostics', async (t) => {
  const { app } = await startServer(t, {
    plugin: { contract },
    setup: (app) => {
      app.realtime.handle('cart.add', contract.messages['cart.add'].request, () => ({ items: 1 }))
      app.realtime.handle('noReply', Type.Object({ n: Type.Number() }), () => undefined)
    }
  })
  const document = app.realtime.asyncapi({ title: 'Shop', version: '2.1.0', host: 'shop.example.com', protocol: 'wss' })
  const parser = new Parser()
  const { document: parsed, diagnostics } = await parser.parse(JSON.stringify(document))
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === ERROR_SEVERITY)
  t.same(errors.map((error) => `${error.path.join('.')}: ${error.message}`), [], 'no error diagnostics')
  t.ok(parsed, 'parsed')
  if (parsed === undefined) return

  t.equal(parsed.version(), '3.0.0')
  t.equal(parsed.info().title(), 'Shop')
  t.equal(parsed.servers().get('realtime')?.protocol(), 'wss')

  const channels = parsed.channels()
  const socket = channels.get('socket')
  t.equal(socket?.address(), '/ws')
  const socketMessages = socket?.messages().all().map((message) => message.id()) ?? []
  for (const frame of ['ping', 'subscribe', 'unsubscribe', 'publish', 'chat', 'welcome', 'message', 'ack', 'error', 'request_cart_add', 'reply_cart_add', 'request_noReply']) {
    t.ok(socketMessages.includes(frame), `the socket channel lists ${frame}`)
  }

  const orders = channels.get('channel_orders__')
  t.equal(orders?.address(), 'orders.{wildcard1}')
  t.same(orders?.messages().all().map((message) => message.id()).sort(), ['message', 'publish'])
  const data = orders?.messages().get('message')?.payload()?.properties()?.data
  t.same(data?.required(), ['id', 'total'], "the channel's payload schema is the rule's schema")
  const typing = channels.get('channel_chat___typing')
  t.same(typing?.messages().all().map((message) => message.id()), ['message'], "a publish: 'server' channel has no client publish")
  t.equal(channels.get('channel_news')?.address(), 'news')

  const handle = parsed.operations().get('handle_cart_add')
  t.equal(handle?.action(), 'receive')
  t.equal(handle?.reply()?.messages().all()[0]?.payload()?.properties()?.data?.properties()?.items?.type(), 'integer', 'the reply schema comes from the contract')

  const codes = socket?.messages().get('error')?.payload()?.properties()?.code?.enum()
  t.ok(codes?.includes(ErrorCode.INVALID_MESSAGE) && codes.includes(ErrorCode.FORBIDDEN), 'error codes are listed')
  t.notOk(codes?.includes(ErrorCode.REQUEST_TIMEOUT), 'codes the client raises itself are not')
})

t.test('an app without rules or message types still gets a valid document', async (t) => {
  const { app } = await startServer(t, { plugin: { path: '/live' } })
  const { diagnostics, document } = await new Parser().parse(JSON.stringify(app.realtime.asyncapi()))
  t.same(diagnostics.filter((diagnostic) => diagnostic.severity === ERROR_SEVERITY).map((d) => d.message), [])
  t.equal(document?.channels().get('socket')?.address(), '/live')
})
