// The example's channel contract, shared by the server (app.ts: rules, validation, the
// AsyncAPI document) and the page (main.ts: `RealtimeClient<typeof contract>`, a type-only
// import, so TypeBox stays out of the page bundle).
import Type from 'typebox'
import { defineContract } from '../lib/index.js'

/** What the chat page shows for a message: who sent it and its text. */
export const ChatText = Type.Object({
  text: Type.String({ minLength: 1, maxLength: 2000 }),
  from: Type.Optional(Type.String({ minLength: 1, maxLength: 40 }))
}, { additionalProperties: false })

/** A chat line on a channel: `cid` is the sending page's id of the line, to match its echo. */
export const ChatLine = Type.Object({
  ...ChatText.properties,
  cid: Type.Optional(Type.String({ minLength: 1, maxLength: 64 }))
}, { additionalProperties: false })

export const contract = defineContract({
  channels: [
    // Server-only notices (POST /api/channels/announcements/messages); clients get `forbidden`.
    { match: 'announcements', schema: ChatText, publish: 'server' },
    // Every other channel is a chat room: any name, chat lines only, the last 100 lines kept an
    // hour for pages that reload (GET /api/channels/:channel/history) or reconnect (recovery).
    { match: '*', schema: ChatLine, history: { size: 100, ttl: 3_600_000 } }
  ],
  messages: {
    /** How many connections of the answering node are in a channel. */
    'channel.count': {
      request: Type.Object({ channel: Type.String({ minLength: 1, maxLength: 200 }) }),
      reply: Type.Object({ subscribers: Type.Integer() })
    }
  }
})
