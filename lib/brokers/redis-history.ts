// History for the Redis broker. Each channel has two keys in one hash slot: a Stream of its
// frames (entry id = offset, trimmed to `size`, expiring `ttl` after the last publish) and a
// hash with its epoch and top offset (expiring `positionTtl` later, so a channel quiet past
// `ttl` continues its offsets). One Lua script gives a message its offset, appends it and
// publishes it, so every node sees the same offsets in the same order however many publish.
// Lost keys (eviction, a restart without persistence) mean a new epoch, never reused offsets.
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { ErrorCode, RealtimeError } from '../errors.js'
import type { HistoryEntry, HistoryLimits, HistoryPage, HistoryQuery, HistoryStore } from './broker.js'

type RedisConnection = Redis | Cluster

/** What the history needs of the broker that owns it. */
export interface RedisHistoryHost {
  /** The publishing connection; throws `broker_unavailable` when the broker is not ready. */
  connection: () => RedisConnection
  /** The Pub/Sub channel name of a channel (prefix included). */
  pubSubName: (channel: string) => string
  /** The envelope header every frame this node publishes starts with. */
  envelopeHeader: () => string
  sharded: () => boolean
  /**
   * Resolves once every message Redis pushed to this node's subscriber connection before
   * now has been delivered (a PING answered on that connection comes after them).
   */
  caughtUp: () => Promise<void>
  /** Settles like `command` on the publishing connection, within the broker's command timeout. */
  bounded: <T>(command: Promise<T>, name: string) => Promise<T>
  log: () => FastifyBaseLogger | undefined
}

// A new epoch: this broker's random salt and the Redis server's clock, in hex ([a-z0-9] only,
// so it goes into JSON unescaped). A fresh position also drops a stream left without one.
const NEW_EPOCH = `
local function newEpoch ()
  local time = redis.call('TIME')
  local epoch = ARGV[1] .. string.format('%x%05x', tonumber(time[1]), tonumber(time[2]))
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch)
  return epoch
end
`

// KEYS: stream, position. ARGV: salt, pubsub channel, envelope header, frame head, size, ttl,
// position ttl, '1' for SPUBLISH.
const PUBLISH_SCRIPT = NEW_EPOCH + `
local epoch = redis.call('HGET', KEYS[2], 'epoch') or newEpoch()
local offset = redis.call('HINCRBY', KEYS[2], 'offset', 1)
local frame = ARGV[4] .. ',"offset":' .. offset .. ',"epoch":"' .. epoch .. '"}'
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[5], offset .. '-0', 'f', frame)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
if ARGV[8] == '1' then
  redis.call('SPUBLISH', ARGV[2], ARGV[3] .. frame)
else
  redis.call('PUBLISH', ARGV[2], ARGV[3] .. frame)
end
return offset
`

// KEYS: stream, position. ARGV: salt, first offset wanted, limit, '1' for newest first,
// position ttl. Returns epoch, top offset, earliest kept offset, then id and frame pairs.
const READ_SCRIPT = NEW_EPOCH + `
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = newEpoch()
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
local top = tonumber(redis.call('HGET', KEYS[2], 'offset') or '0')
local earliest = top + 1
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #oldest > 0 then earliest = tonumber(string.match(oldest[1][1], '^%d+')) end
local entries = {}
if ARGV[3] == '0' then
  -- Only the position was asked for.
elseif ARGV[4] == '1' then
  entries = redis.call('XREVRANGE', KEYS[1], '+', ARGV[2] .. '-0', 'COUNT', ARGV[3])
else
  entries = redis.call('XRANGE', KEYS[1], ARGV[2] .. '-0', '+', 'COUNT', ARGV[3])
end
local result = { epoch, top, earliest }
for _, entry in ipairs(entries) do
  result[#result + 1] = entry[1]
  result[#result + 1] = entry[2][2]
end
return result
`

interface Script {
  source: string
  sha: string
}

function script (source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

const publishScript = script(PUBLISH_SCRIPT)
const readScript = script(READ_SCRIPT)

/**
 * The keys of a channel: they must share the hash slot of its Pub/Sub name (a script may only
 * touch one slot, SPUBLISH included). A name without a hash tag is wrapped in one; a name
 * whose prefix already has a tag keeps it, since that tag decides the name's slot.
 */
export function historyKeys (pubSubName: string): { stream: string, position: string } {
  const open = pubSubName.indexOf('{')
  const close = open === -1 ? -1 : pubSubName.indexOf('}', open + 1)
  const base = close > open + 1 ? pubSubName : '{' + pubSubName + '}'
  return { stream: base + ':history', position: base + ':position' }
}

export class RedisHistory implements HistoryStore {
  readonly #host: RedisHistoryHost
  /** Part of every epoch this broker creates: two nodes never make the same one. */
  readonly #salt = randomBytes(4).toString('hex')

  constructor (host: RedisHistoryHost) {
    this.#host = host
  }

  async publish (channel: string, frameHead: string, limits: HistoryLimits): Promise<void> {
    const connection = this.#host.connection()
    const name = this.#host.pubSubName(channel)
    const keys = historyKeys(name)
    await this.#run(connection, publishScript, channel, [
      keys.stream, keys.position, this.#salt, name, this.#host.envelopeHeader(), frameHead,
      limits.size, limits.ttl, limits.ttl + limits.positionTtl, this.#host.sharded() ? '1' : '0'
    ])
  }

  async read (channel: string, query: HistoryQuery, limits: HistoryLimits): Promise<HistoryPage> {
    const connection = this.#host.connection()
    const keys = historyKeys(this.#host.pubSubName(channel))
    const reply = await this.#run(connection, readScript, channel, [
      keys.stream, keys.position, this.#salt, (query.since ?? 0) + 1, query.limit,
      query.reverse === true ? '1' : '0', limits.ttl + limits.positionTtl
    ]) as Array<string | number>
    const [epoch, offset, earliest] = reply as [string, number, number]
    const entries: HistoryEntry[] = []
    for (let i = 3; i < reply.length; i += 2) {
      // The entry id is `<offset>-0`.
      entries.push({ offset: Number.parseInt(reply[i] as string, 10), frame: reply[i + 1] as string })
    }
    // The publishes up to `offset` ran before this read; their frames may still be on their
    // way through the other connection.
    if (query.caughtUp === true) await this.#host.caughtUp()
    return { epoch, offset, earliest, entries }
  }

  /** EVALSHA, and EVAL once when Redis does not have the script (first use, or after a restart). */
  async #run (connection: RedisConnection, { source, sha }: Script, channel: string, args: Array<string | number>): Promise<unknown> {
    try {
      try {
        return await this.#host.bounded(connection.evalsha(sha, 2, ...args), 'EVALSHA')
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
        return await this.#host.bounded(connection.eval(source, 2, ...args), 'EVAL')
      }
    } catch (err) {
      // A script error is a bug or a misused key (WRONGTYPE): worth a warning, unlike a drop.
      const dropped = (err as Error).name !== 'ReplyError'
      this.#host.log()?.[dropped ? 'debug' : 'warn']({ err, channel }, 'Redis history script failed')
      throw new RealtimeError(ErrorCode.BROKER_UNAVAILABLE)
    }
  }
}
