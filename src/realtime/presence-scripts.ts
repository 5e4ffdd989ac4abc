// Presence in Redis: the key layout and the Lua scripts that change it.
//
// Every key of a room carries the hash tag {r<id>}, so a room's keys live in one hash slot and a
// script touches only keys passed to it in KEYS: what Redis Cluster requires. Per room:
//   <prefix>{r<id>}:present  zset  user id -> until when the user is present (the latest of the
//                                   instances vouching for them); a member is a user announced present
//                                   (or, with nobody in vouch, a leave kept for the sweep: see LEAVE)
//   <prefix>{r<id>}:vouch    hash  user id -> JSON {instance id: until when that instance vouches}
//   <prefix>{r<id>}:info     hash  user id -> JSON {"n": nickname, "p": profile url}
//   <prefix>{r<id>}:version  string the room's presence version: every join and leave takes the next
//   <prefix>{r<id>}:origin   string the first version this Redis remembers: what came before may be
//                                   lost (a restart without persistence), so a user missing from
//                                   present was announced gone only if heard of since (see PRESENT)
// and, outside any slot, touched only by plain commands (SADD on every join and refresh, so it heals):
//   <prefix>presence:rooms   set   rooms that may have someone present (what the sweep looks at)
//
// A script that changes who is present also announces it: it PUBLISHes the join or leave on the
// room's channel (redis-wire.ts, envelope "p") with the change's version, in the same atomic step.
// A decision therefore never goes unannounced, even when the reply to the instance that asked is
// lost with its connection.

/** The keys of one room's presence. */
export interface RoomKeys {
  present: string
  vouch: string
  info: string
  version: string
  origin: string
}

export function roomKeys(prefix: string, roomId: number): RoomKeys {
  const tag = `${prefix}{r${roomId}}:`
  return { present: `${tag}present`, vouch: `${tag}vouch`, info: `${tag}info`, version: `${tag}version`, origin: `${tag}origin` }
}

/** A room's keys in the order every script takes them in KEYS. */
export const scriptKeys = (k: RoomKeys): string[] => [k.present, k.vouch, k.info, k.version, k.origin]

export const roomIndexKey = (prefix: string) => `${prefix}presence:rooms`

// Shared by the scripts. Times are milliseconds from the calling instance's clock.
const HELPERS = `
local present, vouch, info, version, origin = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
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
-- Whether the room was last told the user is gone, or may never have been told they came: not
-- in present, or a leave kept for the sweep (in present with nobody vouching, see LEAVE). Announcing
-- a join then is safe: instances drop a join after a join.
local function absent(user)
  return redis.call('ZSCORE', present, user) == false or redis.call('HEXISTS', vouch, user) == 0
end
local function forget(user)
  redis.call('HDEL', vouch, user)
  redis.call('HDEL', info, user)
  return redis.call('ZREM', present, user) == 1
end
-- Publishes a join or leave on the room's channel, in the shape of encodePresenceFrame (protocol.ts).
local function announce(channel, user, about, joined, v, except)
  local ok, decoded = pcall(cjson.decode, about or '{}')
  local nickname = (ok and type(decoded) == 'table' and type(decoded.n) == 'string') and decoded.n or user
  local kind = joined and 'join' or 'leave'
  local frame = '{"type":"chat.user.' .. kind .. '","username":' .. cjson.encode(nickname) .. ',"user_id":' .. cjson.encode(user) .. '}'
  local envelope = '{"t":"p","f":' .. cjson.encode(frame) .. ',"u":' .. cjson.encode(user) .. ',"v":' .. string.format('%.0f', v) .. ',"j":' .. (joined and 'true' or 'false')
  if except and except ~= '' then envelope = envelope .. ',"x":' .. cjson.encode(except) end
  redis.call('PUBLISH', channel, envelope .. '}')
end
-- The room's next version. It never goes below Redis's clock in microseconds, so it keeps rising
-- when Redis restarts without its data and the counter starts again from nothing. The first
-- version after such a restart (or ever) is kept as the origin.
local function bump()
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local v = redis.call('INCR', version)
  if v < floor then
    redis.call('SET', version, string.format('%.0f', floor))
    v = floor
  end
  redis.call('PEXPIRE', version, 86400000)
  redis.call('SET', origin, string.format('%.0f', v), 'NX')
  redis.call('PEXPIRE', origin, 86400000)
  return v
end
`

/**
 * An instance vouches for a user. ARGV: instance, now, until, user, info, channel, the session
 * not to tell. When the user was not present before, announces the join and returns its version;
 * else returns 0.
 */
export const JOIN = `${HELPERS}
local instance, now, untilMs, user = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local entries = load(user)
entries[instance] = untilMs
local fresh = absent(user)
save(user, entries, prune(entries, now))
redis.call('HSET', info, user, ARGV[5])
if not fresh then return 0 end
local v = bump()
announce(ARGV[6], user, ARGV[5], true, v, ARGV[7])
return v
`

/**
 * An instance stops vouching for a user. ARGV: instance, now, user, channel, and for a leave tried
 * again after failing, the user's info. When no instance vouches for the user any more, announces
 * the leave and returns its version; else returns 0.
 *
 * A leave tried again may find the user gone without a trace: either its first try went through
 * (and announced), or Redis restarted empty meanwhile and the room never heard it. It then keeps
 * the leave for the sweep (present, expired, nobody vouching; returns -1): should no instance
 * vouch for the user again by then, the sweep announces it, once every instance had the time to
 * renew its users after the restart. A second announcement of a leave is dropped by instances.
 */
export const LEAVE = `${HELPERS}
local instance, now, user, keep = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[5]
if keep and keep ~= '' and redis.call('ZSCORE', present, user) == false then
  redis.call('ZADD', present, now, user)
  redis.call('HSET', info, user, keep)
  return -1
end
local entries = load(user)
entries[instance] = nil
local latest = prune(entries, now)
if latest then
  save(user, entries, latest)
  return 0
end
local about = redis.call('HGET', info, user)
if not forget(user) then return 0 end
local v = bump()
announce(ARGV[4], user, about, false, v, nil)
return v
`

/**
 * An instance renews what it vouches for, writing all that a join writes (so a Redis that lost its
 * data has it back). A user it finds gone meanwhile (swept while this instance could not reach
 * Redis, or forgotten by a Redis that restarted empty) is announced again, as a join.
 * ARGV: instance, now, until, channel, then user, info pairs. Returns how many were announced.
 */
export const REFRESH = `${HELPERS}
local instance, now, untilMs, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local announced = 0
for i = 5, #ARGV, 2 do
  local user = ARGV[i]
  local entries = load(user)
  entries[instance] = untilMs
  local fresh = absent(user)
  save(user, entries, prune(entries, now))
  redis.call('HSET', info, user, ARGV[i + 1])
  if fresh then
    announce(channel, user, ARGV[i + 1], true, bump(), nil)
    announced = announced + 1
  end
end
return announced
`

/**
 * Removes the users no instance vouches for any more and announces their leaves (exactly once,
 * whichever instance sweeps). ARGV: now, channel. Returns {1 when the room is now empty else 0,
 * then the ids of the users gone}.
 */
export const SWEEP = `${HELPERS}
local now, channel = tonumber(ARGV[1]), ARGV[2]
local result = {0}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', present, '-inf', now)) do
  local entries = load(user)
  local latest = prune(entries, now)
  if latest then
    save(user, entries, latest)
  else
    local about = redis.call('HGET', info, user)
    if forget(user) then
      announce(channel, user, about, false, bump(), nil)
      table.insert(result, user)
    end
  end
end
if redis.call('ZCARD', present) == 0 then result[1] = 1 end
return result
`

/**
 * Reads who the room was last told is present, and as of which version: the room's version, its
 * origin, then user, info pairs for the users in present that an instance vouches for (a leave
 * kept for the sweep counts as gone, as in JOIN). One step, so the list is the room's state at
 * that version; an instance whose subscription was broken settles its sockets with it
 * (presence-ledger.ts). A user missing from it was announced gone only if their last change was
 * at the origin or later: before it, Redis may have lost them without a word (a restart without
 * persistence), and their instance writes them back, or the sweep announces them, soon after.
 */
export const PRESENT = `${HELPERS}
local current = redis.call('GET', version) or '0'
local result = {current, redis.call('GET', origin) or current}
for _, user in ipairs(redis.call('ZRANGE', present, 0, -1)) do
  if redis.call('HEXISTS', vouch, user) == 1 then
    table.insert(result, user)
    table.insert(result, redis.call('HGET', info, user) or '{}')
  end
end
return result
`
