// Cross-node fan-out through an MQTT server (Mosquitto, EMQX, HiveMQ...). Each node holds one
// MQTT connection, publishes every frame to `<prefix><channel>` and subscribes to the topics
// of the channels it has subscribers for. As with Redis, a node delivers only what comes back
// from the MQTT server, never its own publish on the side: each subscriber gets each frame
// once, and every node sees a channel's frames in the order the server gave them. MQTT
// delivers each subscription's messages in order; QoS is an option (see docs/scaling.md).
// Devices' plain MQTT messages reach channels, and channels reach devices, through the
// optional bridge (mqtt/bridge.ts).
import type { FastifyBaseLogger } from 'fastify'
import type { IClientOptions, MqttClient } from 'mqtt'
import { ErrorCode, RealtimeError } from '../errors.js'
import { channelFrame } from '../frames.js'
import { isValidChannel } from '../protocol.js'
import type { Broker, BrokerContext, BrokerState } from './broker.js'
import { ChannelInterest } from './channel-interest.js'
import { KeyedQueue } from './keyed-queue.js'
import { envelopeHeader, parseEnvelope } from './envelope.js'
import { Bridge, parseDevicePayload, type BridgeOptions } from './mqtt/bridge.js'
import { EnvelopeSignature, MIN_SECRET_LENGTH } from './mqtt/envelope-signature.js'
import { DEFAULT_TOPIC_PREFIX, channelOf, prefixProblem, topicOf } from './mqtt/topics.js'

export type MqttQoS = 0 | 1 | 2

export interface MqttBrokerOptions {
  /** `mqtt://host:port` (or `mqtts://`, `ws://`, `wss://`). */
  url?: string
  /** MQTT.js options for the connection the broker opens (merged over `url`). */
  options?: IClientOptions
  /** A connected or connecting MQTT.js client you own; the broker never ends it. */
  client?: MqttClient
  /** Topic prefix of the channels, ending with `/`; `realtime/` by default. */
  prefix?: string
  /** QoS of the broker's publishes and subscriptions; 0 by default (see docs/scaling.md). */
  qos?: MqttQoS
  /** Milliseconds a publish, subscribe or unsubscribe may take before it fails with `broker_unavailable`; 5000 by default. */
  requestTimeout?: number
  /** Start even when the MQTT server is unreachable: publishes fail with `broker_unavailable` until it is reached. */
  startDegraded?: boolean
  /** Devices' topics to channels, and channels to devices' topics. */
  bridge?: BridgeOptions
  /**
   * Shared by every node: envelopes are signed with it (HMAC-SHA256) and unsigned or badly
   * signed ones are dropped, so whoever else can publish under the prefix cannot forge frames
   * or cluster commands. At least 16 characters. See docs/scaling.md.
   */
  secret?: string
}

/** What the bridge refused: device messages dropped for a bad channel or a payload the channel's rule refuses. */
export interface MqttBridgeStats {
  delivered: number
  dropped: number
}

const END_TIMEOUT = 2000

export class MqttBroker implements Broker {
  readonly #options: MqttBrokerOptions
  readonly #prefix: string
  readonly #qos: MqttQoS
  readonly #requestTimeout: number
  readonly #bridge: Bridge
  readonly #signature: EnvelopeSignature | undefined
  readonly #interest = new ChannelInterest()
  /** Topics the MQTT server acknowledged on the current connection. */
  readonly #subscribed = new Set<string>()
  /** Tail of each topic's queue of SUBSCRIBE/UNSUBSCRIBE operations. */
  readonly #queue = new KeyedQueue()
  #state: BrokerState = 'starting'
  #client: MqttClient | undefined
  #ownsClient = false
  #header = ''
  #log: FastifyBaseLogger | undefined
  #context: BrokerContext | undefined
  #restoring = 0
  #lastError: Error | undefined
  readonly bridgeStats: MqttBridgeStats = { delivered: 0, dropped: 0 }

  constructor (options: MqttBrokerOptions = {}) {
    checkOptions(options)
    this.#options = options
    this.#prefix = options.prefix ?? DEFAULT_TOPIC_PREFIX
    this.#qos = options.qos ?? 0
    this.#requestTimeout = options.requestTimeout ?? 5000
    this.#bridge = new Bridge(options.bridge)
    this.#signature = options.secret === undefined ? undefined : new EnvelopeSignature(options.secret)
  }

  get state (): BrokerState {
    return this.#state
  }

  async start (context: BrokerContext): Promise<void> {
    this.#context = context
    this.#log = context.log
    this.#header = envelopeHeader(context.nodeId)
    const client = this.#options.client ?? await this.#createClient(context.nodeId)
    this.#client = client
    client.on('connect', this.#onConnect)
    client.on('close', this.#onClose)
    client.on('message', this.#onMqttMessage)
    if (this.#ownsClient) client.on('error', this.#onError)
    try {
      await this.#firstConnect(client)
    } catch (err) {
      if (this.#options.startDegraded !== true) {
        await this.close()
        throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, `fastify-realtime: cannot reach the MQTT server: ${(this.#lastError ?? err as Error).message}`)
      }
      this.#state = 'unavailable'
      this.#log.warn({ err }, 'MQTT server unreachable at start; starting degraded, publishes fail until it is reached')
      return
    }
    await this.#restore()
  }

  async publish (channel: string, frame: string): Promise<void> {
    const client = this.#client
    // No offline queue: a publish that cannot reach the server now fails now.
    if (this.#state !== 'ready' || client === undefined || !client.connected) throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    const topic = topicOf(this.#prefix, channel)
    const envelope = this.#header + frame
    const payload = this.#signature === undefined ? envelope : this.#signature.sign(topic, envelope)
    await this.#timed(client.publishAsync(topic, payload, { qos: this.#qos }), 'MQTT PUBLISH')
    if (this.#bridge.hasOutbound) await this.#toDevices(client, channel, frame)
  }

  async subscribe (channel: string): Promise<void> {
    this.#interest.add(channel)
    try {
      await this.#sync(topicOf(this.#prefix, channel), () => this.#interest.has(channel))
    } catch (err) {
      this.#log?.debug({ err, channel }, 'MQTT SUBSCRIBE failed')
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }

  async unsubscribe (channel: string): Promise<void> {
    if (!this.#interest.remove(channel)) return
    try {
      await this.#sync(topicOf(this.#prefix, channel), () => this.#interest.has(channel))
    } catch (err) {
      // The interest is gone either way; a new connection does not take the topic again.
      this.#log?.debug({ err, channel }, 'MQTT UNSUBSCRIBE failed')
    }
  }

  async close (): Promise<void> {
    if (this.#state === 'closed') return
    const client = this.#client
    const wanted = [...this.#subscribed]
    this.#state = 'closed'
    this.#interest.clear()
    this.#subscribed.clear()
    if (client === undefined) return
    client.off('connect', this.#onConnect)
    client.off('close', this.#onClose)
    client.off('message', this.#onMqttMessage)
    if (this.#ownsClient) {
      await withTimeout(client.endAsync(), END_TIMEOUT).catch(() => client.end(true))
      client.off('error', this.#onError)
    } else if (client.connected && wanted.length > 0) {
      // The user's client stays; our topics go.
      await withTimeout(client.unsubscribeAsync(wanted), END_TIMEOUT).catch(() => {})
    }
  }

  // Topic subscriptions

  /** Brings the server in line with `wanted()` for `topic`, after every operation already queued for it. */
  #sync (topic: string, wanted: () => boolean): Promise<void> {
    return this.#queue.run(topic, () => this.#reconcile(topic, wanted))
  }

  async #reconcile (topic: string, wanted: () => boolean): Promise<void> {
    const client = this.#client
    if (client === undefined || this.#state === 'closed') throw new Error(`broker is ${this.#state}`)
    const want = wanted()
    if (want === this.#subscribed.has(topic)) return
    if (!client.connected) throw new Error('MQTT server not connected')
    if (want) {
      const [grant] = await this.#timed(client.subscribeAsync(topic, { qos: this.#qos }), 'MQTT SUBSCRIBE')
      if (grant === undefined || grant.qos === 128) throw new Error(`the MQTT server refused the subscription to ${topic}`)
      if (wanted()) this.#subscribed.add(topic)
    } else {
      this.#subscribed.delete(topic)
      await this.#timed(client.unsubscribeAsync(topic), 'MQTT UNSUBSCRIBE')
    }
  }

  /** After each (re)connect: the channels with interest and the bridge's device topics, then ready. */
  async #restore (): Promise<void> {
    const generation = ++this.#restoring
    const operations = [...this.#interest.channels()].map((channel) =>
      this.#sync(topicOf(this.#prefix, channel), () => this.#interest.has(channel)))
    for (const rule of this.#bridge.inbound) operations.push(this.#sync(rule.topic, () => this.#state !== 'closed'))
    const results = await Promise.allSettled(operations)
    if (generation !== this.#restoring || this.#state === 'closed') return
    const failed = results.filter((result) => result.status === 'rejected').length
    if (failed > 0) this.#log?.warn({ failed }, 'MQTT subscriptions failed after connecting')
    if (this.#client?.connected === true) this.#setState('ready')
  }

  // Connection events

  readonly #onConnect = (): void => {
    if (this.#state === 'closed' || this.#state === 'starting') return
    this.#restore().catch(() => {})
  }

  readonly #onClose = (): void => {
    if (this.#state === 'closed') return
    // A new connection (clean session) holds no subscriptions: #restore takes them again.
    this.#subscribed.clear()
    if (this.#state !== 'starting') this.#setState('unavailable')
  }

  readonly #onError = (err: Error): void => {
    this.#lastError = err
    this.#log?.debug({ err }, 'MQTT connection error')
  }

  readonly #onMqttMessage = (topic: string, payload: Buffer): void => {
    const context = this.#context
    if (context === undefined || this.#state === 'closed') return
    const channel = channelOf(this.#prefix, topic)
    if (channel !== undefined) {
      const text = payload.toString('utf8')
      const signature = this.#signature
      const opened = signature === undefined ? text : signature.open(topic, text)
      const envelope = opened === undefined ? undefined : parseEnvelope(opened)
      if (envelope !== undefined) {
        context.onMessage(channel, envelope.frame)
        return
      }
      if (signature !== undefined && (opened !== undefined || parseEnvelope(text) !== undefined || text.startsWith('s1|'))) {
        this.#log?.warn({ topic, length: payload.length }, 'dropped an MQTT envelope that is unsigned or badly signed (mqtt.secret)')
        return
      }
    }
    this.#fromDevice(context, topic, payload)
  }

  #fromDevice (context: BrokerContext, topic: string, payload: Buffer): void {
    const channel = this.#bridge.channelFor(topic)
    if (channel === undefined) {
      this.#log?.warn({ topic, length: payload.length }, 'dropped an MQTT message that is neither a fastify-realtime envelope nor bridged')
      return
    }
    const data = parseDevicePayload(payload)
    const frame = !isValidChannel(channel)
      ? undefined
      : context.ingest === undefined ? channelFrame(channel, data, Date.now()) : context.ingest(channel, data)
    if (frame === undefined) {
      this.bridgeStats.dropped++
      this.#log?.warn({ topic, channel }, 'dropped a device message: invalid channel or payload')
      return
    }
    this.bridgeStats.delivered++
    context.onMessage(channel, frame)
  }

  async #toDevices (client: MqttClient, channel: string, frame: string): Promise<void> {
    const topic = this.#bridge.topicFor(channel)
    if (topic === undefined) return
    // Devices get the channel's data as plain JSON, not the plugin's frame.
    const { data } = JSON.parse(frame) as { data?: unknown }
    await this.#timed(client.publishAsync(topic, JSON.stringify(data ?? null), { qos: this.#qos }), 'MQTT PUBLISH to devices')
  }

  #setState (next: BrokerState): void {
    const previous = this.#state
    if (previous === next) return
    this.#state = next
    if (next === 'unavailable') this.#log?.warn('MQTT server unavailable: publishes and subscriptions fail until it returns')
    else if (next === 'ready' && previous === 'unavailable') this.#log?.warn({ channels: this.#subscribed.size }, 'MQTT server available again: subscriptions restored')
  }

  async #timed<T> (operation: Promise<T>, what: string): Promise<T> {
    try {
      return await withTimeout(operation, this.#requestTimeout)
    } catch (err) {
      this.#log?.debug({ err }, `${what} failed`)
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }

  async #createClient (nodeId: string): Promise<MqttClient> {
    const { connect } = await import('mqtt').catch(() => {
      throw new Error('fastify-realtime: the MQTT broker needs the mqtt package: npm install mqtt')
    })
    this.#ownsClient = true
    // No offline queue and our own resubscription (so the broker knows when it is done).
    const overrides: IClientOptions = {
      queueQoSZero: false,
      resubscribe: false,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: this.#requestTimeout,
      clientId: `fastify-realtime_${nodeId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}_${Math.random().toString(36).slice(2, 8)}`
    }
    const options = { keepalive: 10, ...this.#options.options, ...overrides }
    return this.#options.url === undefined ? connect(options) : connect(this.#options.url, options)
  }

  /** Resolves once connected; rejects on the first failure (the client keeps retrying on its own). */
  async #firstConnect (client: MqttClient): Promise<void> {
    if (client.connected) return
    await new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        client.off('connect', onConnect)
        client.off('error', onError)
        client.off('offline', onOffline)
        clearTimeout(timer)
      }
      const onConnect = (): void => { settle(); resolve() }
      const onError = (err: Error): void => { settle(); reject(err) }
      const onOffline = (): void => { settle(); reject(this.#lastError ?? new Error('connection refused')) }
      const timer = setTimeout(() => { settle(); reject(new Error(`no connection within ${this.#requestTimeout} ms`)) }, this.#requestTimeout)
      client.on('connect', onConnect)
      client.on('error', onError)
      client.on('offline', onOffline)
    })
  }
}

function withTimeout<T> (operation: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer))
}

function checkOptions (options: MqttBrokerOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('fastify-realtime: mqtt options must be an object')
  const { url, client, prefix, qos, requestTimeout, secret } = options
  if (url !== undefined && (typeof url !== 'string' || !URL.canParse(url) || !/^(mqtts?|wss?|tcp|ssl):$/.test(new URL(url).protocol))) {
    throw new TypeError('fastify-realtime: mqtt.url must be an mqtt://, mqtts://, ws:// or wss:// URL')
  }
  if (client !== undefined) {
    if (client === null || typeof client !== 'object' || typeof client.publishAsync !== 'function') throw new TypeError('fastify-realtime: mqtt.client must be an MQTT.js client')
    if (url !== undefined || options.options !== undefined) throw new TypeError('fastify-realtime: give mqtt.client or mqtt.url/mqtt.options, not both')
  }
  if (client === undefined && url === undefined && options.options === undefined) throw new TypeError('fastify-realtime: mqtt needs url, options or client')
  if (prefix !== undefined) {
    const problem = prefixProblem(prefix)
    if (problem !== undefined) throw new TypeError(`fastify-realtime: mqtt.prefix ${problem}`)
  }
  if (qos !== undefined && qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError('fastify-realtime: mqtt.qos must be 0, 1 or 2')
  if (requestTimeout !== undefined && (!Number.isInteger(requestTimeout) || requestTimeout < 1)) throw new TypeError('fastify-realtime: mqtt.requestTimeout must be a positive integer (ms)')
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
    throw new TypeError(`fastify-realtime: mqtt.secret must be a string of at least ${MIN_SECRET_LENGTH} characters`)
  }
}
