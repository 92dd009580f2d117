// A channel rule's `match`: an exact channel name, or a pattern in which `*` stands for one
// or more characters of a channel name. `*` crosses `.`, `:` and `/` (so `orders.*` matches
// `orders.eu` and `orders.eu.north`), which is also what the contract's template literal
// types (`orders.${string}`) accept at compile time: the static types and the runtime agree.
import { MAX_CHANNEL_LENGTH } from '../protocol.js'

/** Characters a `match` may hold: those of channel names, and `*`. */
const MATCH_PATTERN = /^[A-Za-z0-9_.:@/*-]+$/

export type ChannelMatcher = (channel: string) => boolean

/** Why `match` is not a usable pattern, or undefined when it is. */
export function matchProblem (match: unknown): string | undefined {
  if (typeof match !== 'string' || match.length === 0) return 'match must be a non-empty string'
  if (match.length > MAX_CHANNEL_LENGTH) return `match is longer than ${MAX_CHANNEL_LENGTH} characters`
  if (!MATCH_PATTERN.test(match)) return 'match may hold channel characters (letters, digits, _ - . : @ /) and * only'
  if (match.includes('**')) return 'match may not hold ** (one * already stands for one or more characters)'
  return undefined
}

/** Compiles a valid `match` (see `matchProblem`) once, at register time. */
export function compileMatch (match: string): ChannelMatcher {
  if (!match.includes('*')) return (channel) => channel === match
  const [prefix = '', ...rest] = match.split('*')
  if (rest.length === 1 && rest[0] === '') {
    // The common `prefix*` form, without a regular expression.
    return (channel) => channel.length > prefix.length && channel.startsWith(prefix)
  }
  const source = match.split('*').map(escapeRegExp).join('.+')
  const regExp = new RegExp(`^${source}$`)
  return (channel) => regExp.test(channel)
}

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}
