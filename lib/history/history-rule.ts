// The `history` key of a channel rule: checked at register time, turned into the limits the
// broker applies. Issue 12 owns this key; channel-rules.ts only finds the rule.
import type { HistoryLimits } from '../brokers/broker.js'
import { describeRule, type ChannelRule } from '../channels/channel-rules.js'

/** Most messages one channel may keep: history is for catching up, not an archive. */
export const MAX_HISTORY_SIZE = 100_000

/**
 * How much longer a channel's position (epoch, top offset) is kept than its messages: a
 * channel quiet for longer than `ttl` continues its offsets in the same epoch, so a client
 * that missed nothing is still told `recovered: true`.
 */
export const POSITION_TTL = 24 * 60 * 60 * 1000

const KEYS = new Set(['size', 'ttl'])

/** The limits of every rule with history, by rule; throws a plain message naming a bad rule. */
export function historyLimitsOf (rules: readonly ChannelRule[]): Map<ChannelRule, HistoryLimits> {
  const limits = new Map<ChannelRule, HistoryLimits>()
  for (const rule of rules) {
    if (rule.history === undefined) continue
    const name = describeRule(rule.index, rule.match)
    const history: unknown = rule.history
    if (history === null || typeof history !== 'object' || Array.isArray(history)) {
      throw new TypeError(`fastify-realtime: ${name}: history must be an object ({ size, ttl })`)
    }
    for (const key of Object.keys(history)) {
      if (!KEYS.has(key)) throw new TypeError(`fastify-realtime: ${name}: history has an unknown key "${key}" (known: size, ttl)`)
    }
    const { size, ttl } = history as { size?: unknown, ttl?: unknown }
    if (!Number.isInteger(size) || (size as number) < 1 || (size as number) > MAX_HISTORY_SIZE) {
      throw new TypeError(`fastify-realtime: ${name}: history.size must be an integer from 1 to ${MAX_HISTORY_SIZE} (messages kept)`)
    }
    if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > 2 ** 31 - 1) {
      throw new TypeError(`fastify-realtime: ${name}: history.ttl must be a positive integer (milliseconds without a publish before the messages are dropped)`)
    }
    limits.set(rule, { size: size as number, ttl: ttl as number, positionTtl: POSITION_TTL })
  }
  return limits
}
