// The device bridge of the MQTT broker: plain MQTT messages that devices publish reach the
// subscribers of a channel, and publishes on a channel reach devices. Rules are checked at
// construction; what a device sends is parsed here and validated by the plugin (through the
// broker context's `ingest`), never trusted.
import sjson from 'secure-json-parse'
import { compileMatch, matchProblem, type ChannelMatcher } from '../../channels/channel-pattern.js'
import { fillTemplate, filterProblem, matchTopic } from './topics.js'

export interface InboundBridgeRule {
  /** MQTT topic filter devices publish to, e.g. `sensors/+/temperature`. */
  topic: string
  /** The channel: a name with `{1}`, `{2}`... for the levels `+` and `#` matched, or a function of the topic. */
  channel: string | ((topic: string, levels: readonly string[]) => string)
}

export interface OutboundBridgeRule {
  /** Channels whose publishes go to devices: an exact name or a pattern with `*`, as channel rules. */
  channel: string
  /** The topic: a name with `{1}`... for what the `*`s matched, or a function of the channel. */
  topic: string | ((channel: string) => string)
}

export interface BridgeOptions {
  inbound?: readonly InboundBridgeRule[]
  outbound?: readonly OutboundBridgeRule[]
}

interface OutboundRule {
  matches: ChannelMatcher
  capture: (channel: string) => string[]
  topic: OutboundBridgeRule['topic']
}

const FORBIDDEN_KEYS = { protoAction: 'error', constructorAction: 'error' } as const

/** A device's payload: JSON when it parses as JSON (safely), else its text. */
export function parseDevicePayload (payload: Buffer): unknown {
  const text = payload.toString('utf8')
  try {
    return sjson.parse(text, undefined, FORBIDDEN_KEYS)
  } catch {
    return text
  }
}

export class Bridge {
  readonly inbound: readonly InboundBridgeRule[]
  readonly #outbound: readonly OutboundRule[]

  constructor (options: BridgeOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('fastify-realtime: mqtt.bridge must be an object ({ inbound, outbound })')
    const { inbound = [], outbound = [] } = options
    if (!Array.isArray(inbound) || !Array.isArray(outbound)) throw new TypeError('fastify-realtime: mqtt.bridge.inbound and .outbound must be arrays')
    for (const [index, rule] of inbound.entries()) {
      const problem = filterProblem(rule?.topic)
      if (problem !== undefined) throw new TypeError(`fastify-realtime: mqtt.bridge.inbound[${index}].topic ${problem}`)
      if (typeof rule.channel !== 'string' && typeof rule.channel !== 'function') {
        throw new TypeError(`fastify-realtime: mqtt.bridge.inbound[${index}].channel must be a string or a function`)
      }
    }
    this.inbound = inbound
    this.#outbound = outbound.map((rule, index) => {
      const problem = matchProblem(rule?.channel)
      if (problem !== undefined) throw new TypeError(`fastify-realtime: mqtt.bridge.outbound[${index}].channel: ${problem}`)
      if (typeof rule.topic === 'string' ? /[+#]/.test(rule.topic) || rule.topic === '' : typeof rule.topic !== 'function') {
        throw new TypeError(`fastify-realtime: mqtt.bridge.outbound[${index}].topic must be a topic without wildcards, or a function`)
      }
      const source = rule.channel.split('*').map((part: string) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('(.+)')
      const pattern = new RegExp(`^${source}$`)
      return { matches: compileMatch(rule.channel), capture: (channel) => pattern.exec(channel)?.slice(1) ?? [], topic: rule.topic }
    })
  }

  get hasOutbound (): boolean {
    return this.#outbound.length > 0
  }

  /** The channel a device message on `topic` goes to, or undefined when no rule takes it. */
  channelFor (topic: string): string | undefined {
    for (const rule of this.inbound) {
      const levels = matchTopic(rule.topic, topic)
      if (levels === undefined) continue
      return typeof rule.channel === 'function' ? rule.channel(topic, levels) : fillTemplate(rule.channel, levels)
    }
    return undefined
  }

  /** The device topic a publish on `channel` also goes to, or undefined. */
  topicFor (channel: string): string | undefined {
    for (const rule of this.#outbound) {
      if (!rule.matches(channel)) continue
      return typeof rule.topic === 'function' ? rule.topic(channel) : fillTemplate(rule.topic, rule.capture(channel))
    }
    return undefined
  }
}
