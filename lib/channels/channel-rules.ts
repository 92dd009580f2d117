// Per-channel rules: the plugin option `channels`, a list of `{ match, ... }` in which the
// first rule whose `match` fits a channel decides for it. Channels no rule matches keep the
// plugin-wide behaviour. Each capability owns its own key of a rule (`schema` and `publish`
// for the contract, `history`, `presence`); this file only finds the rule.
import type { TSchema } from 'typebox'
import { compileMatch, matchProblem, type ChannelMatcher } from './channel-pattern.js'
import { BoundedCache } from './bounded-cache.js'

/** One rule as the application writes it. */
export interface ChannelRuleOptions {
  /** An exact channel name, or a pattern with `*` for one or more characters (crossing `.` `:` `/`). */
  match: string
  /** TypeBox schema of the channel's `data`. */
  schema?: TSchema
  /** Who may publish: `server` refuses client publishes with `forbidden`; `clients` allows them. */
  publish?: 'server' | 'clients'
  /** Keep the channel's recent messages for recovery and `history()`. */
  history?: { size: number, ttl: number }
  /** Track who is subscribed. */
  presence?: boolean | { info?: TSchema, events?: boolean }
}

/** The keys a rule may have; anything else fails `register`, naming the rule. */
export const RULE_KEYS: ReadonlySet<string> = new Set(['match', 'schema', 'publish', 'history', 'presence'])

/** A checked rule, ready for lookups. */
export interface ChannelRule extends ChannelRuleOptions {
  /** Position in the `channels` option, for messages. */
  readonly index: number
  readonly matches: ChannelMatcher
}

/** Channel names whose rule is remembered; a client cycling through names cannot grow it further. */
export const RULE_CACHE_SIZE = 10_000

/** A rule (or the absence of one) as remembered per channel name. */
const NO_RULE = null

export class ChannelRules {
  readonly rules: readonly ChannelRule[]
  readonly #cache: BoundedCache<string, ChannelRule | typeof NO_RULE>

  constructor (rules: readonly ChannelRuleOptions[] = [], cacheSize = RULE_CACHE_SIZE) {
    this.rules = checkRules(rules)
    this.#cache = new BoundedCache(cacheSize)
  }

  /** True when the application gave at least one rule. */
  get active (): boolean {
    return this.rules.length > 0
  }

  /** Number of channel names whose lookup is remembered. */
  get cachedChannels (): number {
    return this.#cache.size
  }

  /** The first rule whose `match` fits `channel`, or undefined. */
  ruleFor (channel: string): ChannelRule | undefined {
    if (this.rules.length === 0) return undefined
    const cached = this.#cache.get(channel)
    if (cached !== undefined) return cached ?? undefined
    const rule = this.rules.find((candidate) => candidate.matches(channel)) ?? NO_RULE
    this.#cache.set(channel, rule)
    return rule ?? undefined
  }
}

/** Names a rule in messages: its position and its `match`. */
export function describeRule (index: number, match: unknown): string {
  return typeof match === 'string' ? `channels[${index}] ("${match}")` : `channels[${index}]`
}

function checkRules (rules: unknown): ChannelRule[] {
  if (!Array.isArray(rules)) throw new TypeError('fastify-realtime: channels must be an array of rules ({ match, ... })')
  const seen = new Set<string>()
  return rules.map((rule: unknown, index) => {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) {
      throw new TypeError(`fastify-realtime: ${describeRule(index, undefined)} must be an object ({ match, ... })`)
    }
    const { match } = rule as { match?: unknown }
    const name = describeRule(index, match)
    for (const key of Object.keys(rule)) {
      if (!RULE_KEYS.has(key)) throw new TypeError(`fastify-realtime: ${name} has an unknown key "${key}" (known: ${[...RULE_KEYS].join(', ')})`)
    }
    const problem = matchProblem(match)
    if (problem !== undefined) throw new TypeError(`fastify-realtime: ${name}: ${problem}`)
    const pattern = match as string
    if (seen.has(pattern)) throw new TypeError(`fastify-realtime: ${name} repeats the match of an earlier rule`)
    seen.add(pattern)
    return { ...(rule as ChannelRuleOptions), index, matches: compileMatch(pattern) }
  })
}
