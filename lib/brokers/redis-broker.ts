// Cross-node fan-out through Redis Pub/Sub. Every node publishes on one connection and
// listens on another (a subscribed connection cannot publish). A node delivers only what
// comes back from Redis, never its own publish on the side: each subscriber gets each frame
// once, and every node sees a channel's frames in the one order Redis gave them.
// How its connections are opened and closed lives in redis-connections.ts.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis, Cluster, RedisOptions } from 'ioredis'
import { ErrorCode, RealtimeError } from '../errors.js'
import type { Broker, BrokerContext, BrokerListener, BrokerState } from './broker.js'
import { ChannelInterest } from './channel-interest.js'
import { KeyedQueue } from './keyed-queue.js'
import { envelopeHeader, parseEnvelope } from './envelope.js'
import { RedisHistory } from './redis-history.js'
import { LinkWatch, dropLink, isCommandTimeout, withDeadline } from './redis-link-watch.js'
import { RedisPresence } from './redis-presence.js'
import {
  createConnection, duplicateForSubscribing, endedClientMessage, isCluster, quit, waitUntilReady, type RedisConnection
} from './redis-connections.js'

export interface RedisBrokerOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. With `sharded`, one node of the cluster. */
  url?: string
  /** ioredis options for the connections the broker opens (merged over `url`). */
  redis?: RedisOptions
  /**
   * A client you own, e.g. `app.redis` from @fastify/redis: publishes go through it, and the
   * broker subscribes on a `duplicate()` of it. The broker never closes it.
   */
  client?: Redis | Cluster
  /** Prefix of every Redis channel name, so several apps can share one Redis. */
  keyPrefix?: string
  /** Sharded Pub/Sub (SPUBLISH/SSUBSCRIBE, Redis 7) on a Redis Cluster: each channel lives on one shard. */
  sharded?: boolean
  /** Start even when Redis is unreachable: publishes fail with `broker_unavailable` until it is reached. */
  startDegraded?: boolean
  /**
   * Milliseconds Redis has to answer a command (PUBLISH, SUBSCRIBE, the watch's PING).
   * Past it the command fails with `broker_unavailable` and the link counts as dead: it is
   * dropped and reconnected like a closed one. Default 5000.
   */
  commandTimeout?: number
  /** Milliseconds between PINGs on the broker's connections, which find a dead idle link. Default 5000. */
  pingInterval?: number
}

const DEFAULT_KEY_PREFIX = 'fastify-realtime:'
const DEFAULT_COMMAND_TIMEOUT = 5000
const DEFAULT_PING_INTERVAL = 5000

export class RedisBroker implements Broker {
  readonly #options: RedisBrokerOptions
  readonly #keyPrefix: string
  readonly #sharded: boolean
  readonly #address: string
  readonly #commandTimeout: number
  readonly #watch: LinkWatch
  readonly #interest = new ChannelInterest()
  /** Connections found dead and dropped, until ioredis reports their close. */
  readonly #stalled = new Set<RedisConnection>()
  /** Channels Redis acknowledged on the current subscriber connection. */
  readonly #subscribed = new Set<string>()
  /** Tail of each channel's queue of SUBSCRIBE/UNSUBSCRIBE operations. */
  readonly #queue = new KeyedQueue()
  #state: BrokerState = 'starting'
  #publisher: RedisConnection | undefined
  #subscriber: RedisConnection | undefined
  #ownsPublisher = false
  /** Bumped when the subscriber connection drops: acknowledgements of an older one do not count. */
  #epoch = 0
  /**
   * Each 'ready' of the subscriber starts a restore with the next generation; the broker is
   * ready only once the latest one is done, so an older restore that settles late (its
   * connection dropped meanwhile) cannot report ready while the newest is still under way.
   */
  #restoreStarted = 0
  #restoreDone = 0
  /** Settles when the subscriptions taken again after the latest 'ready' are in place. */
  #restoring: Promise<void> = Promise.resolve()
  #header = ''
  #log: FastifyBaseLogger | undefined
  /** ioredis rejects `connect()` with "Connection is closed."; the cause is in the error event. */
  #lastError: Error | undefined
  #onMessage: BrokerListener | undefined
  /** Channel history in Redis Streams, published through the same connection (see redis-history.ts). */
  readonly history = new RedisHistory({
    connection: () => {
      if (this.#state !== 'ready' || this.#publisher === undefined) throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
      return this.#publisher
    },
    pubSubName: (channel) => this.#keyPrefix + channel,
    envelopeHeader: () => this.#header,
    sharded: () => this.#sharded,
    caughtUp: async () => {
      const subscriber = this.#subscriber
      // A cluster's shard subscribers are ioredis' own: no barrier there; clients drop by offset
      // the rare frame that then arrives both replayed and live (docs/history.md).
      if (subscriber === undefined || isCluster(subscriber)) return
      try {
        await withDeadline(subscriber.ping(), this.#commandTimeout)
      } catch (err) {
        this.#log?.debug({ err }, 'Redis PING on the subscriber connection failed')
        if (isCommandTimeout(err)) this.#onStalled(subscriber, 'PING')
        throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
      }
    },
    bounded: async (command, name) => {
      const publisher = this.#publisher!
      try {
        return await withDeadline(command, this.#commandTimeout)
      } catch (err) {
        // As for PUBLISH: only our own links are dropped.
        if (isCommandTimeout(err) && this.#ownsPublisher) this.#onStalled(publisher, name)
        throw err
      }
    },
    log: () => this.#log
  })

  /** Presence members in Redis hashes, written through the publishing connection. */
  readonly presence: RedisPresence

  constructor (options: RedisBrokerOptions = {}) {
    checkOptions(options)
    this.#options = options
    this.#keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX
    this.#sharded = options.sharded === true
    this.#address = describeAddress(options)
    this.#commandTimeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT
    this.#watch = new LinkWatch(
      () => this.#watchedConnections(),
      { interval: options.pingInterval ?? DEFAULT_PING_INTERVAL, timeout: this.#commandTimeout },
      (connection, err) => { if (isCommandTimeout(err)) this.#onStalled(connection, 'PING') }
    )
    this.presence = new RedisPresence({
      connection: () => this.#state === 'ready' ? this.#publisher : undefined,
      keyPrefix: this.#keyPrefix
    })
  }

  get state (): BrokerState {
    return this.#state
  }

  async start (context: BrokerContext): Promise<void> {
    this.#log = context.log
    this.#onMessage = context.onMessage
    this.#header = envelopeHeader(context.nodeId)
    const connectionName = 'fastify-realtime:' + context.nodeId.replace(/[^\x21-\x7e]/g, '_')

    const { client } = this.#options
    // An ended client never reconnects: no use starting (even degraded) on it.
    if (client !== undefined && client.status === 'end') throw new Error('fastify-realtime: ' + endedClientMessage)
    if (client === undefined) {
      this.#publisher = createConnection(this.#options, this.#sharded, connectionName + ':pub', this.#commandTimeout)
      this.#ownsPublisher = true
    } else {
      this.#publisher = client
    }
    this.#subscriber = duplicateForSubscribing(this.#publisher, this.#sharded, connectionName + ':sub', this.#commandTimeout)

    this.#publisher.on('ready', this.#onConnectionChange)
    this.#publisher.on('close', this.#onConnectionChange)
    this.#publisher.on('end', this.#onConnectionChange)
    // A connection the user owns reports its errors to them; ours would crash the process without a listener.
    if (this.#ownsPublisher) this.#publisher.on('error', this.#onConnectionError)
    this.#subscriber.on('error', this.#onConnectionError)
    this.#subscriber.on('close', this.#onSubscriberClose)
    this.#subscriber.on('ready', this.#onSubscriberReady)
    this.#subscriber.on(this.#sharded ? 'smessage' : 'message', this.#onRedisMessage)
    this.#watch.start()

    try {
      await Promise.all([
        this.#ownsPublisher ? this.#publisher.connect() : waitUntilReady(this.#publisher),
        this.#subscriber.connect()
      ])
    } catch (err) {
      if (this.#options.startDegraded !== true) {
        await this.close()
        const cause = this.#lastError ?? (err as Error)
        throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE, `fastify-realtime: cannot reach Redis at ${this.#address}: ${cause.message}`)
      }
      // The connections keep retrying; the first 'ready' of both turns the broker ready.
      this.#state = 'unavailable'
      this.#log.warn({ redis: this.#address, err }, 'Redis unreachable at start; starting degraded, publishes fail until it is reached')
      return
    }
    await this.#restoring
    this.#onConnectionChange()
  }

  async publish (channel: string, frame: string): Promise<void> {
    // No offline queue: a publish that cannot reach Redis now fails now, loudly. Messages
    // stay generic: a client's publish gets this error, and must not learn where Redis is
    // (the state change is logged with the address).
    if (this.#state !== 'ready' || this.#publisher === undefined) throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    const key = this.#keyPrefix + channel
    const envelope = this.#header + frame
    const publisher = this.#publisher
    try {
      await withDeadline(this.#sharded ? publisher.spublish(key, envelope) : publisher.publish(key, envelope), this.#commandTimeout)
    } catch (err) {
      this.#log?.debug({ err, channel }, 'Redis PUBLISH failed')
      // A client the user owns is theirs to reconnect: only our own links are dropped.
      if (isCommandTimeout(err) && this.#ownsPublisher) this.#onStalled(publisher, 'PUBLISH')
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }

  async subscribe (channel: string): Promise<void> {
    this.#interest.add(channel)
    try {
      await this.#sync(channel)
    } catch (err) {
      this.#log?.debug({ err, channel }, 'Redis SUBSCRIBE failed')
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }

  async unsubscribe (channel: string): Promise<void> {
    if (!this.#interest.remove(channel)) return
    try {
      await this.#sync(channel)
    } catch (err) {
      // The interest is gone either way: a lost connection drops the Redis subscription,
      // and a channel without interest is not subscribed again.
      this.#log?.debug({ err, channel }, 'Redis UNSUBSCRIBE failed')
    }
  }

  async close (): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#watch.stop()
    this.#interest.clear()
    this.#subscribed.clear()
    this.#onMessage = undefined
    const publisher = this.#publisher
    if (publisher !== undefined) {
      publisher.off('ready', this.#onConnectionChange)
      publisher.off('close', this.#onConnectionChange)
      publisher.off('end', this.#onConnectionChange)
    }
    const closing: Array<Promise<void>> = []
    if (this.#subscriber !== undefined) closing.push(quit(this.#subscriber))
    if (this.#ownsPublisher && publisher !== undefined) closing.push(quit(publisher))
    await Promise.all(closing)
  }

  // Channel subscriptions

  /**
   * Brings Redis in line with the interest in `channel`, after every operation already
   * queued for it: interleaved subscribe and unsubscribe calls can never leave Redis
   * subscribed without interest, or interest without a subscription.
   */
  #sync (channel: string): Promise<void> {
    return this.#queue.run(channel, () => this.#reconcile(channel))
  }

  async #reconcile (channel: string): Promise<void> {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#state === 'closed') throw new Error(`broker is ${this.#state}`)
    const wanted = this.#interest.has(channel)
    if (wanted === this.#subscribed.has(channel)) return
    const key = this.#keyPrefix + channel
    const epoch = this.#epoch
    try {
      if (wanted) {
        await withDeadline(this.#sharded ? subscriber.ssubscribe(key) : subscriber.subscribe(key), this.#commandTimeout)
        if (epoch === this.#epoch) this.#subscribed.add(channel)
      } else {
        this.#subscribed.delete(channel)
        await withDeadline(this.#sharded ? subscriber.sunsubscribe(key) : subscriber.unsubscribe(key), this.#commandTimeout)
      }
    } catch (err) {
      // Unanswered: whether Redis took it is unknown, so the link goes, and the restore after
      // the reconnect subscribes exactly the channels with interest.
      if (isCommandTimeout(err)) this.#onStalled(subscriber, wanted ? 'SUBSCRIBE' : 'UNSUBSCRIBE')
      throw err
    }
  }

  // Dead links

  /** The connections the watch pings: the subscriber always, the publisher when the broker owns it. */
  #watchedConnections (): RedisConnection[] {
    const watched: RedisConnection[] = []
    if (this.#subscriber !== undefined && !this.#subscriber.isCluster) watched.push(this.#subscriber)
    if (this.#ownsPublisher && this.#publisher !== undefined && !this.#publisher.isCluster) watched.push(this.#publisher)
    return watched
  }

  /** A command on `connection` went unanswered: drop the link, and let the close path take over. */
  #onStalled (connection: RedisConnection, command: string): void {
    if (this.#state === 'closed' || connection.status !== 'ready') return
    const role = connection === this.#subscriber ? 'subscriber' : 'publisher'
    this.#log?.warn({ redis: this.#address, connection: role, command, timeout: this.#commandTimeout }, 'Redis did not answer in time: dropping the link and reconnecting')
    // Unavailable from now, not from the close event a turn later: nothing more is written into a dead link.
    this.#stalled.add(connection)
    connection.once('close', () => this.#stalled.delete(connection))
    dropLink(connection)
    this.#onConnectionChange()
  }

  // Connection events

  readonly #onConnectionChange = (): void => {
    if (this.#state === 'closed') return
    const connected = this.#isConnected()
    // While starting, a failure is start()'s to report; only success changes the state.
    if (this.#state === 'starting' && !connected) return
    this.#setState(connected ? 'ready' : 'unavailable')
  }

  readonly #onConnectionError = (err: Error): void => {
    this.#lastError = err
    // ioredis reports every failed reconnect attempt; the state change is the warn-level event.
    this.#log?.debug({ err, redis: this.#address }, 'Redis connection error')
  }

  readonly #onSubscriberClose = (): void => {
    this.#epoch++
    this.#subscribed.clear()
    this.#onConnectionChange()
  }

  readonly #onSubscriberReady = (): void => {
    if (this.#state === 'closed') return
    // A fresh connection holds no subscriptions: take every channel with interest again
    // before calling the broker ready, so a publish accepted after that reaches this node.
    const generation = ++this.#restoreStarted
    const channels = [...this.#interest.channels()]
    this.#restoring = Promise.allSettled(channels.map((channel) => this.#sync(channel))).then((results) => {
      if (generation !== this.#restoreStarted) return
      this.#restoreDone = generation
      const failed = results.filter((result) => result.status === 'rejected').length
      if (failed > 0) this.#log?.warn({ redis: this.#address, failed }, 'Redis subscriptions failed after reconnecting')
      else if (this.#state !== 'starting') this.#log?.debug({ channels: channels.length }, 'Redis subscriptions restored')
      this.#onConnectionChange()
    })
  }

  readonly #onRedisMessage = (key: string, message: string): void => {
    if (this.#onMessage === undefined) return
    const envelope = parseEnvelope(message)
    if (envelope === undefined || !key.startsWith(this.#keyPrefix)) {
      this.#log?.warn({ channel: key, length: message.length }, 'dropped a Redis message that is not a fastify-realtime envelope')
      return
    }
    this.#onMessage(key.slice(this.#keyPrefix.length), envelope.frame)
  }

  #isConnected (): boolean {
    const publisher = this.#publisher
    const subscriber = this.#subscriber
    return publisher?.status === 'ready' && subscriber?.status === 'ready' && this.#restoreDone === this.#restoreStarted &&
      (this.#stalled.size === 0 || (!this.#stalled.has(publisher) && !this.#stalled.has(subscriber)))
  }

  #setState (next: BrokerState): void {
    const previous = this.#state
    if (previous === next) return
    this.#state = next
    if (next === 'unavailable') {
      this.#log?.warn({ redis: this.#address }, 'Redis unavailable: publishes and subscriptions fail until it returns')
    } else if (next === 'ready' && previous === 'unavailable') {
      this.#log?.warn({ redis: this.#address, channels: this.#subscribed.size }, 'Redis available again: subscriptions restored')
    }
  }
}

/** Where Redis is, for messages: host and port, never credentials. */
function describeAddress (options: RedisBrokerOptions): string {
  const { url, redis, client } = options
  if (client !== undefined && isCluster(client)) return 'Redis Cluster'
  if (client !== undefined) {
    return client.options.path ?? `${client.options.host ?? '127.0.0.1'}:${client.options.port ?? 6379}`
  }
  if (url !== undefined) {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === '' ? 6379 : parsed.port}`
  }
  return redis?.path ?? `${redis?.host ?? '127.0.0.1'}:${redis?.port ?? 6379}`
}

function checkOptions (options: RedisBrokerOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('fastify-realtime: redis options must be an object')
  const { url, redis, client, keyPrefix, sharded, startDegraded, commandTimeout, pingInterval } = options
  if (url !== undefined) {
    if (typeof url !== 'string' || !URL.canParse(url) || !/^rediss?:$/.test(new URL(url).protocol)) {
      throw new TypeError('fastify-realtime: redis.url must be a redis:// or rediss:// URL')
    }
  }
  if (redis !== undefined && (redis === null || typeof redis !== 'object')) throw new TypeError('fastify-realtime: redis.redis must be an ioredis options object')
  if (client !== undefined) {
    // Duck-typed rather than `instanceof`: the user's ioredis may be another copy of it.
    if (client === null || typeof client !== 'object' || typeof client.duplicate !== 'function' || typeof client.publish !== 'function') {
      throw new TypeError('fastify-realtime: redis.client must be an ioredis client (did you register @fastify/redis first?)')
    }
    if (url !== undefined || redis !== undefined) throw new TypeError('fastify-realtime: give redis.client or redis.url/redis.redis, not both')
  }
  if (keyPrefix !== undefined && typeof keyPrefix !== 'string') throw new TypeError('fastify-realtime: redis.keyPrefix must be a string')
  if (sharded !== undefined && typeof sharded !== 'boolean') throw new TypeError('fastify-realtime: redis.sharded must be a boolean')
  if (startDegraded !== undefined && typeof startDegraded !== 'boolean') throw new TypeError('fastify-realtime: redis.startDegraded must be a boolean')
  if (commandTimeout !== undefined && !isMilliseconds(commandTimeout)) throw new TypeError('fastify-realtime: redis.commandTimeout must be a whole number of milliseconds (1 to 2147483647)')
  if (pingInterval !== undefined && !isMilliseconds(pingInterval)) throw new TypeError('fastify-realtime: redis.pingInterval must be a whole number of milliseconds (1 to 2147483647)')
}

/** A delay setTimeout takes as given (larger ones fire at once). */
function isMilliseconds (value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 2_147_483_647
}
