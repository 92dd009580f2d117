// Names of `user:` channels. A user id may hold any character (`:`, `/`, unicode...), but a
// channel name may not, and `:` also separates the owner from a sub-channel. So the id is
// escaped the same way everywhere: the characters `A-Z a-z 0-9 _ . @ -` stay as they are,
// every other UTF-8 byte becomes `/` and two uppercase hex digits (URL percent-encoding
// with `/` for `%`). An escaped id holds no `:`, so `user:<escaped id>[:<sub>]` names its
// owner exactly, and two different ids never share a name.
import { ErrorCode, RealtimeError } from '../errors.js'
import { isValidChannel } from '../protocol.js'

export const USER_NAMESPACE = 'user:'

const KEPT = /^[A-Za-z0-9_.@-]$/

/** The id as it appears in a channel name; reversible with `decodeUserId`. */
export function encodeUserId (userId: string): string {
  let encoded = ''
  for (const character of userId) {
    if (KEPT.test(character)) {
      encoded += character
      continue
    }
    for (const byte of Buffer.from(character, 'utf8')) encoded += '/' + byte.toString(16).toUpperCase().padStart(2, '0')
  }
  return encoded
}

/** The id an escaped segment stands for, or undefined when no id is escaped that way. */
export function decodeUserId (segment: string): string | undefined {
  if (segment === '' || !/^(?:[A-Za-z0-9_.@-]|\/[0-9A-F]{2})+$/.test(segment)) return undefined
  const bytes: number[] = []
  for (let index = 0; index < segment.length; index++) {
    if (segment[index] === '/') {
      bytes.push(Number.parseInt(segment.slice(index + 1, index + 3), 16))
      index += 2
    } else {
      bytes.push(segment.charCodeAt(index))
    }
  }
  const decoded = Buffer.from(bytes).toString('utf8')
  // Only the one canonical spelling of an id names it (no `/41` for `A`, no broken UTF-8).
  return encodeUserId(decoded) === segment ? decoded : undefined
}

/**
 * The channel of a user, `user:<escaped id>`, or one of its sub-channels,
 * `user:<escaped id>:<sub>`. Only connections of that user may subscribe to them; build the
 * names with this function rather than by hand. Throws `invalid_channel` when the name would
 * exceed 200 characters or `sub` holds characters channel names do not allow.
 */
export function userChannel (userId: string | number, sub?: string): string {
  const id = String(userId)
  if (id === '') throw new RealtimeError(ErrorCode.INVALID_CHANNEL, 'A user id may not be empty')
  const channel = USER_NAMESPACE + encodeUserId(id) + (sub === undefined ? '' : ':' + sub)
  if (!isValidChannel(channel)) throw new RealtimeError(ErrorCode.INVALID_CHANNEL, `Invalid user channel ${JSON.stringify(channel)}`)
  return channel
}

/** The user id owning a `user:` channel (sub-channels included), or undefined for other channels. */
export function userIdOfChannel (channel: string): string | undefined {
  if (!channel.startsWith(USER_NAMESPACE)) return undefined
  const rest = channel.slice(USER_NAMESPACE.length)
  const end = rest.indexOf(':')
  return decodeUserId(end === -1 ? rest : rest.slice(0, end))
}

/** Whether `channel` is the channel of `userId` or one of its sub-channels; never a prefix match. */
export function isOwnUserChannel (channel: string, userId: string): boolean {
  const own = USER_NAMESPACE + encodeUserId(userId)
  return channel === own || (channel.startsWith(own) && channel.charCodeAt(own.length) === 0x3a /* : */)
}
