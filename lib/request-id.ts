// Reads a frame's request id without the full parse, for answers given before a frame is
// processed (a `rate_limited` refusal): refusing must stay cheaper than serving, so only
// small frames are parsed, and a larger one only when its `id` comes first.
import { MAX_REQUEST_ID_LENGTH } from './protocol.js'

/** Frames up to this many bytes are parsed to find their id. */
export const PEEK_PARSE_LIMIT = 1024

const LEADING_ID = /^\{\s*"id"\s*:\s*"([^"\\]{1,64})"/

/** The frame's `id` when it can be read cheaply and safely, else undefined. */
export function peekRequestId (data: Buffer): string | undefined {
  if (data.length > PEEK_PARSE_LIMIT) {
    // `{"id":"…"` within the first bytes: a bounded regex on a bounded prefix.
    return LEADING_ID.exec(data.toString('utf8', 0, 16 + MAX_REQUEST_ID_LENGTH))?.[1]
  }
  let frame: unknown
  try {
    // Plain JSON.parse is safe here: nothing is merged, only one own property is read.
    frame = JSON.parse(data.toString())
  } catch {
    return undefined
  }
  if (frame === null || typeof frame !== 'object') return undefined
  const id = (frame as { id?: unknown }).id
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH ? id : undefined
}
