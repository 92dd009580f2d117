// Handlers of the protocol's own client messages. They go through the same dispatcher as
// application types, so validation and error answers are the same for both.
import type { Dispatcher } from './dispatcher.js'
import type { Connection } from './connection.js'
import {
  PingMessage, SubscribeMessage, UnsubscribeMessage, PublishMessage, ChatMessage
} from './protocol.js'
import type { Realtime } from './realtime.js'

export function registerBuiltInHandlers (dispatcher: Dispatcher, realtime: Realtime): void {
  dispatcher.register('ping', PingMessage, (message: PingMessage, connection: Connection) => {
    connection.send(message.ts === undefined
      ? { type: 'pong', serverTs: Date.now() }
      : { type: 'pong', ts: message.ts, serverTs: Date.now() })
  })

  dispatcher.register('subscribe', SubscribeMessage, async (message: SubscribeMessage, connection: Connection) => {
    // Answered from inside the join: a replay of missed messages must follow `subscribed`.
    await realtime.subscribeFrom(connection, message.channel, message.since, (outcome) => {
      connection.send({ ...withId({ type: 'subscribed', channel: message.channel }, message.id), ...outcome })
    }, message.info, message.token)
  })

  dispatcher.register('unsubscribe', UnsubscribeMessage, async (message: UnsubscribeMessage, connection: Connection) => {
    // Unsubscribing a channel the connection is not in is answered the same way: the
    // client's wish (not receiving the channel) holds either way.
    await realtime.unsubscribe(connection, message.channel)
    connection.send(withId({ type: 'unsubscribed', channel: message.channel }, message.id))
  })

  dispatcher.register('publish', PublishMessage, async (message: PublishMessage, connection: Connection) => {
    await realtime.publishFrom(connection, message.channel, message.data)
    if (message.id !== undefined) connection.send({ type: 'ack', id: message.id })
  })

  dispatcher.register('chat', ChatMessage, async (message: ChatMessage, connection: Connection) => {
    await realtime.chat(connection, message.content)
    if (message.id !== undefined) connection.send({ type: 'ack', id: message.id })
  })
}

function withId<T extends object> (frame: T, id: string | undefined): T & { id?: string } {
  return id === undefined ? frame : { ...frame, id }
}
