// Static types derived from a channel contract: which channel names exist, what `data` each
// carries, which message types the server handles and what they answer. Types only: the
// browser client imports this file with `import type`, so no TypeBox reaches its bundle.
//
// A rule's `match` becomes a template literal type (`orders.*` -> `orders.${string}`); the
// first rule whose pattern a channel name fits gives its data type, as at run time. One
// difference: `${string}` also accepts an empty string where `*` needs one character.
import type { Static, TObject, TSchema } from 'typebox'
import type { ChannelRuleOptions } from './channel-rules.js'

/** A message type the server registers with `app.realtime.handle()`, as the contract lists it. */
export interface MessageContract {
  /** The message's own fields (without `type` and `id`): the schema given to `handle()`. */
  readonly request: TObject
  /** What the handler returns, carried by the `ack`'s `data`. */
  readonly reply?: TSchema
  readonly description?: string
}

/** Channels and message types of one application, shared by server and client code. */
export interface RealtimeContract {
  /** The channel rules, in order: the first whose `match` fits a channel decides for it. */
  readonly channels?: readonly ChannelRuleOptions[]
  readonly messages?: { readonly [type: string]: MessageContract }
}

/**
 * Applications that pass a contract to the plugin augment this interface, so that
 * `app.publish()` and `app.realtime.inject()` check channel names and data at compile time:
 *
 *     declare module 'fastify-realtime' { interface Register { contract: typeof contract } }
 */
export interface Register {}

/** The contract an application registered (see `Register`), or undefined without one. */
export type RegisteredContract = Register extends { contract: infer Contract extends RealtimeContract } ? Contract : undefined

/** `orders.*` -> `orders.${string}`: the channel names a `match` accepts, as a type. */
export type PatternType<Match extends string> =
  Match extends `${infer Head}*${infer Tail}` ? `${Head}${string}${PatternType<Tail>}` : Match

type RulesOf<Contract> = Contract extends { readonly channels: infer Rules extends readonly unknown[] } ? Rules : []

type MessagesOf<Contract> = Contract extends { readonly messages: infer Messages extends { readonly [type: string]: MessageContract } }
  ? Messages
  : Record<never, never>

/** Every channel name the contract's rules accept; any string without a contract. */
export type ChannelName<Contract> = Contract extends RealtimeContract
  ? RulesOf<Contract>[number] extends infer Rule ? Rule extends { match: infer Match extends string } ? PatternType<Match> : never : never
  : string

type FirstRule<Rules extends readonly unknown[], Name extends string> =
  Rules extends readonly [infer Rule, ...infer Rest]
    ? Rule extends { match: infer Match extends string }
      ? Name extends PatternType<Match> ? Rule : FirstRule<Rest, Name>
      : FirstRule<Rest, Name>
    : never

/** The `data` of channel `Name`: its first matching rule's schema, or unknown without one. */
export type ChannelData<Contract, Name extends string> = Contract extends RealtimeContract
  ? FirstRule<RulesOf<Contract>, Name> extends { schema: infer Schema extends TSchema } ? Static<Schema> : unknown
  : unknown

// `publish` and `subscribe` take one type parameter whose meaning depends on the contract:
// with one, it is the channel name (inferred from the argument, checked against the
// patterns); without one, it is the data type, so `subscribe<Order>('orders', ...)` and
// untyped code keep compiling unchanged.

/** The channel parameter: any string without a contract, a name the contract accepts with one. */
export type ChannelArgument<Contract, Argument> = Contract extends RealtimeContract ? Argument & ChannelName<Contract> : string

/** The data parameter: the channel's data with a contract, the caller's type parameter without. */
export type DataArgument<Contract, Argument> = Contract extends RealtimeContract ? ChannelData<Contract, Argument & string> : Argument

/** Message types a client may `request()`: the contract's, or any string without a contract. */
export type MessageType<Contract> = Contract extends RealtimeContract ? keyof MessagesOf<Contract> & string : string

/** The fields of a request of `Type` (without `type` and `id`). */
export type RequestFields<Contract, Type extends string> = Type extends keyof MessagesOf<Contract>
  ? MessagesOf<Contract>[Type] extends { request: infer Schema extends TSchema } ? Static<Schema> : never
  : Record<string, unknown>

/** What a request of `Type` resolves with: the contract's reply type, or unknown. */
export type ReplyOf<Contract, Type extends string> = Type extends keyof MessagesOf<Contract>
  ? MessagesOf<Contract>[Type] extends { reply: infer Schema extends TSchema } ? Static<Schema> : unknown
  : unknown
