// The `presence` key of channel rules: checked and compiled once at register time, then
// looked up per channel through the rule the channel matches.
import { Compile, type Validator } from 'typebox/compile'
import { describeRule, type ChannelRule, type ChannelRules } from '../channels/channel-rules.js'

/** What a channel's rule asks of presence. */
export interface PresenceRule {
  /** Subscribers receive `presence_diff` frames of joins and leaves. */
  events: boolean
  /** Validates the info a client sends with its subscribe; without it, clients may send none. */
  info: Validator | undefined
}

const PRESENCE_KEYS: ReadonlySet<string> = new Set(['info', 'events'])

export class PresenceRules {
  readonly #compiled = new Map<ChannelRule, PresenceRule>()
  readonly #rules: ChannelRules

  /** Throws a plain message naming the rule whose `presence` is not usable. */
  constructor (rules: ChannelRules) {
    this.#rules = rules
    for (const rule of rules.rules) {
      const compiled = compile(rule)
      if (compiled !== undefined) this.#compiled.set(rule, compiled)
    }
  }

  /** True when at least one rule enables presence. */
  get used (): boolean {
    return this.#compiled.size > 0
  }

  /** The presence settings of `channel`, or undefined when its rule (if any) does not enable presence. */
  ruleFor (channel: string): PresenceRule | undefined {
    if (this.#compiled.size === 0) return undefined
    const rule = this.#rules.ruleFor(channel)
    return rule === undefined ? undefined : this.#compiled.get(rule)
  }
}

function compile (rule: ChannelRule): PresenceRule | undefined {
  const { presence } = rule
  const name = `fastify-realtime: ${describeRule(rule.index, rule.match)}`
  if (presence === undefined || presence === false) return undefined
  if (presence === true) return { events: true, info: undefined }
  if (presence === null || typeof presence !== 'object' || Array.isArray(presence)) {
    throw new TypeError(`${name}: presence must be true, false or { info?, events? }`)
  }
  for (const key of Object.keys(presence)) {
    if (!PRESENCE_KEYS.has(key)) throw new TypeError(`${name}: presence has an unknown key "${key}" (known: info, events)`)
  }
  const { info, events } = presence
  if (events !== undefined && typeof events !== 'boolean') throw new TypeError(`${name}: presence.events must be a boolean`)
  if (info === undefined) return { events: events ?? true, info: undefined }
  if (info === null || typeof info !== 'object' || Array.isArray(info)) throw new TypeError(`${name}: presence.info must be a TypeBox schema`)
  let validator: Validator
  try {
    validator = Compile(info)
  } catch (err) {
    throw new TypeError(`${name}: presence.info is not a usable TypeBox schema: ${(err as Error).message}`)
  }
  return { events: events ?? true, info: validator }
}
