// The contract the type tests share, as an application would keep it in a file that both
// its server and its browser code import.
import Type from 'typebox'
import { defineContract } from '../../lib/index.js'

export const Order = Type.Object({ id: Type.String(), total: Type.Number() })
export const VipOrder = Type.Object({ id: Type.String(), total: Type.Number(), concierge: Type.String() })
export const Alert = Type.Object({ level: Type.Union([Type.Literal('info'), Type.Literal('critical')]), text: Type.String() })

export const contract = defineContract({
  channels: [
    { match: 'orders.vip', schema: VipOrder },
    { match: 'orders.*', schema: Order },
    { match: 'alerts', schema: Alert, publish: 'server' },
    { match: 'chat:*:typing' }
  ],
  messages: {
    addToCart: { request: Type.Object({ sku: Type.String(), quantity: Type.Integer() }), reply: Type.Object({ items: Type.Integer() }) },
    ping2: { request: Type.Object({}) }
  }
})
