// The Lua scripts of Redis presence. Per channel, two keys in one hash slot (the channel in
// braces): a hash `field -> member JSON` and a sorted set `field -> expiry time` (ms, Redis'
// own clock, so the nodes' clocks never matter). A field is `<nodeId> <connectionId>`: node
// ids hold no spaces, so a node finds its own members by prefix.
import { createHash } from 'node:crypto'

export interface LuaScript {
  source: string
  sha: string
}

function script (source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS: members, expiry. ARGV: ttl, number of adds, then (field, member JSON) per add, then
 * fields to remove. Prunes expired members first and returns their JSON (their node is gone).
 */
export const APPLY = script(NOW + `
local ttl = tonumber(ARGV[1])
local adds = tonumber(ARGV[2])
local gone = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, field in ipairs(expired) do
  local value = redis.call('HGET', KEYS[1], field)
  if value then gone[#gone + 1] = value end
  redis.call('HDEL', KEYS[1], field)
  redis.call('ZREM', KEYS[2], field)
end
for i = 0, adds - 1 do
  local field = ARGV[3 + 2 * i]
  redis.call('HSET', KEYS[1], field, ARGV[4 + 2 * i])
  redis.call('ZADD', KEYS[2], now + ttl, field)
end
for i = 3 + 2 * adds, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
end
if adds > 0 then
  -- The keys outlive every member (only ever extended: a node with a shorter ttl must not cut
  -- short the members of another), and vanish after the last once no node writes the channel.
  for _, key in ipairs(KEYS) do
    -- PTTL is -1 for a key without expiry (just created): below any ttl.
    if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end
return gone
`)

// Reads skip expired members without removing them (APPLY prunes and announces them).
// When none has expired (the usual case), HVALS answers in one call.
const LIVE_VALUES = NOW + `
local values
if redis.call('ZCOUNT', KEYS[2], '-inf', now) == 0 then
  values = redis.call('HVALS', KEYS[1])
else
  values = {}
  local fields = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
  for start = 1, #fields, 1000 do
    local chunk = redis.call('HMGET', KEYS[1], unpack(fields, start, math.min(start + 999, #fields)))
    for _, value in ipairs(chunk) do
      if value then values[#values + 1] = value end
    end
  end
end
`

/** KEYS: members, expiry. Returns the JSON of every live member. */
export const MEMBERS = script(LIVE_VALUES + 'return values\n')

/**
 * KEYS: members, expiry. Returns { distinct user ids, connections } of live members. A member's
 * JSON starts with its user id (`{"userId":"...","connectionId":`): the user is the text
 * before `","connectionId":"`, which a JSON-escaped user id cannot contain (its quotes are
 * escaped), so no JSON decoding is needed.
 */
export const STATS = script(LIVE_VALUES + `
local users = {}
local count = 0
for _, value in ipairs(values) do
  local user = string.sub(value, 1, (string.find(value, '","connectionId":"', 1, true) or 0) - 1)
  if not users[user] then
    users[user] = true
    count = count + 1
  end
end
return { count, #values }
`)

/** KEYS: members, expiry. ARGV: field prefix (`<nodeId> `). Removes that node's members. */
export const REMOVE_NODE = script(`
local prefix = ARGV[1]
local removed = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #prefix) == prefix then
    redis.call('HDEL', KEYS[1], field)
    redis.call('ZREM', KEYS[2], field)
    removed = removed + 1
  end
end
return removed
`)
