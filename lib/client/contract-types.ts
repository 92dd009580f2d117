// The client's view of a contract (`new RealtimeClient<typeof contract>(url)`): types only,
// imported with `import type`, so neither TypeBox nor the contract reaches the bundle.
export type {
  RealtimeContract, ChannelName, ChannelData, ChannelArgument, DataArgument, MessageType, RequestFields, ReplyOf
} from '../channels/contract-types.js'
