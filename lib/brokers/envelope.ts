// What travels through Redis: a short header naming the publishing node, then the frame
// string exactly as the publisher serialized it. The receiving node never re-parses or
// re-encodes the frame; it checks the header and the frame's outline and forwards it.
//
//   1|<length of node id>|<node id><frame>      e.g. 1|3|n-a{"type":"message",...}

const VERSION = '1|'
const MAX_NODE_ID_LENGTH = 64
// Every frame the plugin fans out is a JSON object whose first key is `type`.
const FRAME_START = '{"type":"'

export interface Envelope {
  nodeId: string
  frame: string
}

/** The header is the same for every publish of a node: built once, prepended by concatenation. */
export function envelopeHeader (nodeId: string): string {
  return VERSION + nodeId.length + '|' + nodeId
}

/** The envelope's parts, or undefined when it was not written by this plugin (or is damaged). */
export function parseEnvelope (message: string): Envelope | undefined {
  if (!message.startsWith(VERSION)) return undefined
  const bar = message.indexOf('|', VERSION.length)
  if (bar === -1) return undefined
  const digits = message.slice(VERSION.length, bar)
  const length = Number(digits)
  if (digits.length === 0 || !Number.isInteger(length) || length < 1 || length > MAX_NODE_ID_LENGTH) return undefined
  const frameStart = bar + 1 + length
  const frame = message.slice(frameStart)
  if (!frame.startsWith(FRAME_START) || !frame.endsWith('}')) return undefined
  return { nodeId: message.slice(bar + 1, frameStart), frame }
}
