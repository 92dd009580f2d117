// Serialization of the frames that fan out: built by concatenation, so a publish costs one
// JSON.stringify of the payload and no intermediate object.
import { ErrorCode, RealtimeError } from './errors.js'

function stringifyData (data: unknown): string {
  let json: string | undefined
  try {
    json = JSON.stringify(data)
  } catch (err) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, `Data cannot be serialized to JSON: ${(err as Error).message}`)
  }
  // JSON.stringify(undefined) and of functions is undefined: send null, never broken JSON.
  return json ?? 'null'
}

/** `{type:'message', channel, data, ts}` */
export function channelFrame (channel: string, data: unknown, ts: number): string {
  return '{"type":"message","channel":' + JSON.stringify(channel) + ',"data":' + stringifyData(data) + ',"ts":' + ts + '}'
}

/**
 * The same frame for a history channel, without its closing `}`: the broker appends
 * `,"offset":N,"epoch":"E"}` once the offset is known (brokers/history-frame.ts).
 */
export function channelFrameHead (channel: string, data: unknown, ts: number): string {
  return '{"type":"message","channel":' + JSON.stringify(channel) + ',"data":' + stringifyData(data) + ',"ts":' + ts
}

/** `{type:'broadcast', data, ts}` */
export function broadcastFrame (data: unknown, ts: number): string {
  return '{"type":"broadcast","data":' + stringifyData(data) + ',"ts":' + ts + '}'
}

/** `{type:'chat', from, content, ts}` */
export function chatFrame (from: string, content: string, ts: number): string {
  return '{"type":"chat","from":' + JSON.stringify(from) + ',"content":' + JSON.stringify(content) + ',"ts":' + ts + '}'
}
