// fastify-realtime/client: the browser and Node client. Nothing here may import Node
// modules or anything that pulls in TypeBox at run time; the browser test bundles it.
export { RealtimeClient } from './realtime-client.js'
export type {
  ConnectionState, CloseInfo, OutgoingMessage, IncomingFrame, RealtimeClientEvents, ChannelHandler, Subscription, SubscribeOptions
} from './realtime-client.js'
export type { PresenceEvent, PresenceCounts, PresenceClientEvents } from './presence.js'
export type { GetToken } from './session.js'
export type { StreamPosition, Unrecovered } from './recovery.js'
export { ChannelSubscription } from './subscription.js'
export type { SubscriptionState, SubscriptionEvents } from './subscription.js'
export type { RequestOptions } from './requests.js'
export type { RealtimeClientOptions, WebSocketLike, WebSocketConstructor, UrlSource, DebugLogger } from './options.js'
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js'
export type { BackoffOptions } from './backoff.js'
export type { RealtimeContract, ChannelName, ChannelData, MessageType, RequestFields, ReplyOf } from './contract-types.js'
export { ErrorCode, CloseCode, FINAL_CLOSE_CODES, RealtimeError, errorMessages } from '../errors.js'
export type {
  ServerMessage, WelcomeMessage, PongMessage, ChannelMessage, BroadcastMessage, ChatBroadcastMessage,
  AckMessage, ErrorMessage, ClientMessage, PresenceMember, PresenceUser, PresenceMessage, PresenceStatsMessage,
  PresenceDiffMessage, RefreshNeededMessage
} from '../protocol.js'
