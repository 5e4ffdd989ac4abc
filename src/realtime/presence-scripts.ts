// Presence in Redis: the key layout and the Lua scripts that change it.
//
// Every key of a room carries the hash tag {r<id>}, so a room's keys live in one hash slot and a
// script touches only keys passed to it in KEYS: what Redis Cluster requires. Per room:
//   <prefix>{r<id>}:present  zset  user id -> until when the user is present (the latest of the
//                                   instances vouching for them); a member is a user announced present
//   <prefix>{r<id>}:vouch    hash  user id -> JSON {instance id: until when that instance vouches}
//   <prefix>{r<id>}:info     hash  user id -> JSON {"n": nickname, "p": profile url}
//   <prefix>{r<id>}:version  string the room's presence version: every join and leave takes the next
// and, outside any slot, touched only by plain commands (SADD on every join and refresh, so it heals):
//   <prefix>presence:rooms   set   rooms that may have someone present (what the sweep looks at)

/** The keys of one room's presence. */
export interface RoomKeys {
  present: string
  vouch: string
  info: string
  version: string
}

export function roomKeys(prefix: string, roomId: number): RoomKeys {
  const tag = `${prefix}{r${roomId}}:`
  return { present: `${tag}present`, vouch: `${tag}vouch`, info: `${tag}info`, version: `${tag}version` }
}

export const roomIndexKey = (prefix: string) => `${prefix}presence:rooms`

// Shared by the scripts. Times are milliseconds from the calling instance's clock.
const HELPERS = `
local present, vouch, info, version = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function load(user)
  local raw = redis.call('HGET', vouch, user)
  if raw then return cjson.decode(raw) end
  return {}
end
-- Drops the instances whose time passed; returns the latest time left, or nil when none is.
local function prune(entries, now)
  local latest = nil
  for instance, untilMs in pairs(entries) do
    if untilMs <= now then entries[instance] = nil
    elseif latest == nil or untilMs > latest then latest = untilMs end
  end
  return latest
end
local function save(user, entries, latest)
  redis.call('HSET', vouch, user, cjson.encode(entries))
  redis.call('ZADD', present, latest, user)
end
local function forget(user)
  redis.call('HDEL', vouch, user)
  redis.call('HDEL', info, user)
  return redis.call('ZREM', present, user) == 1
end
-- The room's next version. It never goes below Redis's clock in microseconds, so it keeps rising
-- when Redis restarts without its data and the counter starts again from nothing.
local function bump()
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local v = redis.call('INCR', version)
  if v < floor then
    redis.call('SET', version, string.format('%.0f', floor))
    v = floor
  end
  redis.call('PEXPIRE', version, 86400000)
  return v
end
`

/**
 * An instance vouches for a user. ARGV: instance, now, until, user, info.
 * Returns the version of the join when the user was not present before, else 0.
 */
export const JOIN = `${HELPERS}
local instance, now, untilMs, user = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local entries = load(user)
entries[instance] = untilMs
local fresh = redis.call('ZSCORE', present, user) == false
save(user, entries, prune(entries, now))
redis.call('HSET', info, user, ARGV[5])
if fresh then return bump() end
return 0
`

/**
 * An instance stops vouching for a user. ARGV: instance, now, user.
 * Returns the version of the leave when no instance vouches for the user any more, else 0.
 */
export const LEAVE = `${HELPERS}
local instance, now, user = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local entries = load(user)
entries[instance] = nil
local latest = prune(entries, now)
if latest then
  save(user, entries, latest)
  return 0
end
if forget(user) then return bump() end
return 0
`

/**
 * An instance renews what it vouches for, writing all that a join writes (so a Redis that lost its
 * data has it back), without announcing anything. ARGV: instance, now, until, then user, info pairs.
 */
export const REFRESH = `${HELPERS}
local instance, now, untilMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  local user = ARGV[i]
  local entries = load(user)
  entries[instance] = untilMs
  save(user, entries, prune(entries, now))
  redis.call('HSET', info, user, ARGV[i + 1])
end
return 1
`

/**
 * Removes the users no instance vouches for any more. ARGV: now. Returns
 * {1 when the room is now empty else 0, user, info, version, user, info, version…}, so that
 * exactly one sweeper announces each leave.
 */
export const SWEEP = `${HELPERS}
local now = tonumber(ARGV[1])
local result = {0}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', present, '-inf', now)) do
  local entries = load(user)
  local latest = prune(entries, now)
  if latest then
    save(user, entries, latest)
  else
    local about = redis.call('HGET', info, user) or '{}'
    if forget(user) then
      table.insert(result, user)
      table.insert(result, about)
      table.insert(result, bump())
    end
  end
end
if redis.call('ZCARD', present) == 0 then result[1] = 1 end
return result
`
