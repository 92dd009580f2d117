// The contract's rule keys `schema` and `publish`: checked and compiled once at register
// time; at publish time, one validation per publish (never per recipient), before anything
// reaches the broker. Channels without a schema cost one boolean test when no rule has one.
import { IsSchema, type TSchema } from 'typebox'
import { Compile, type Validator } from 'typebox/compile'
import { ErrorCode, RealtimeError } from '../errors.js'
import { describeIssues, type ValidationIssue } from '../validation-issues.js'
import { describeRule, type ChannelRule, type ChannelRules } from './channel-rules.js'

/** One entry of an `invalid_message` error's `details`: where in `data`, and what is wrong. */
export type PayloadIssue = ValidationIssue

const PUBLISH_VALUES: ReadonlySet<unknown> = new Set(['server', 'clients'])

/** True for a schema built with TypeBox: plain JSON Schema objects carry no TypeBox `~kind`. */
export function isTypeBoxSchema (value: unknown): value is TSchema {
  return IsSchema(value) && typeof (value as { '~kind'?: unknown })['~kind'] === 'string'
}

export class ChannelPayloads {
  readonly #rules: ChannelRules
  readonly #validators = new Map<ChannelRule, Validator>()

  /** Checks every rule's `schema` and `publish` and compiles the schemas; throws naming the rule. */
  constructor (rules: ChannelRules) {
    this.#rules = rules
    for (const rule of rules.rules) {
      const name = describeRule(rule.index, rule.match)
      if (rule.publish !== undefined && !PUBLISH_VALUES.has(rule.publish)) {
        throw new TypeError(`fastify-realtime: ${name}: publish must be 'server' or 'clients'`)
      }
      if (rule.schema === undefined) continue
      if (!isTypeBoxSchema(rule.schema)) {
        throw new TypeError(`fastify-realtime: ${name}: schema must be a TypeBox schema (Type.Object(...) and the like)`)
      }
      try {
        this.#validators.set(rule, Compile(rule.schema))
      } catch (err) {
        throw new TypeError(`fastify-realtime: ${name}: schema does not compile: ${(err as Error).message}`)
      }
    }
  }

  /** Throws `invalid_message`, with a path and message per problem, when `data` breaks the channel's schema. */
  check (channel: string, data: unknown): void {
    if (this.#validators.size === 0) return
    const rule = this.#rules.ruleFor(channel)
    const validator = rule === undefined ? undefined : this.#validators.get(rule)
    if (validator === undefined || validator.Check(data)) return
    // At most 10 issues; a large `data` gets one, computing the full list would stall the server.
    const issues = describeIssues(validator, data, 'does not match the channel schema')
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, `data does not match the schema of channel ${channel}`, issues)
  }
}
