import type { Logger } from '../logger.ts'
import type { OnlineUserDto, Presence } from './presence.ts'
import { redisConnector, runScript, type RedisConnection } from './redis-connection.ts'

// Keys (all under the prefix):
//   presence:<room>          zset  user id  -> until when the user is present (the latest of their instances;
//                                  ZADD GT keeps the latest)
//   presence:<room>:<user>   zset  instance -> until when that instance vouches for the user
//   users:<room>             hash  user id  -> {"n": nickname, "p": profile url}
//   presence-rooms           set   rooms that may have someone present (what the sweep looks at)
// Instances refresh their entries every TTL/3; an instance that dies stops refreshing, its entries
// pass their time, and the next sweep (by any instance) removes them and announces the leaves.

const JOIN = `
local room, user, rooms, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local instance, now, untilMs, id, info, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', user, '-inf', now)
local before = redis.call('ZCARD', user)
redis.call('ZADD', user, untilMs, instance)
redis.call('PEXPIRE', user, ttl * 2)
redis.call('ZADD', room, 'GT', untilMs, id)
redis.call('HSET', users, id, info)
redis.call('SADD', rooms, ARGV[7])
return before == 0 and 1 or 0
`

const LEAVE = `
local room, user, users = KEYS[1], KEYS[2], KEYS[3]
local instance, now, id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
redis.call('ZREM', user, instance)
redis.call('ZREMRANGEBYSCORE', user, '-inf', now)
if redis.call('ZCARD', user) > 0 then return 0 end
redis.call('DEL', user)
local removed = redis.call('ZREM', room, id)
redis.call('HDEL', users, id)
return removed
`

const REFRESH = `
local room, user = KEYS[1], KEYS[2]
local instance, untilMs, id, ttl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZADD', user, untilMs, instance)
redis.call('PEXPIRE', user, ttl * 2)
redis.call('ZADD', room, 'GT', untilMs, id)
return 1
`

// Removes users whose time passed, unless an instance still vouches for them; returns
// [id, info, id, info…] of those removed, so exactly one sweeper announces each leave.
const SWEEP = `
local room, users, rooms = KEYS[1], KEYS[2], KEYS[3]
local now, prefix, roomId = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local gone = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', room, '-inf', now)) do
  local user = prefix .. 'presence:' .. roomId .. ':' .. id
  redis.call('ZREMRANGEBYSCORE', user, '-inf', now)
  local best = redis.call('ZRANGE', user, -1, -1, 'WITHSCORES')
  if best[2] then
    redis.call('ZADD', room, best[2], id)
  else
    redis.call('ZREM', room, id)
    table.insert(gone, id)
    table.insert(gone, redis.call('HGET', users, id) or '{}')
    redis.call('HDEL', users, id)
  end
end
if redis.call('ZCARD', room) == 0 then redis.call('SREM', rooms, roomId) end
return gone
`

/**
 * Presence shared by every instance through Redis: a user is in a room while any instance vouches
 * for them, and a join or leave is announced once, whichever instances their tabs are on.
 */
export class RedisPresence implements Presence {
  private readonly instance = crypto.randomUUID()
  /** What this instance vouches for: room -> users (refreshed every TTL/3). */
  private readonly local = new Map<number, Set<string>>()
  private readonly timer: ReturnType<typeof setInterval>
  private readonly ttlMs: number

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    ttlSeconds: number,
    /** Announces users whose instance stopped vouching for them. */
    private readonly onExpired: (roomId: number, userId: string, nickname: string) => void,
    private readonly logger: Logger,
  ) {
    this.ttlMs = Math.round(ttlSeconds * 1000)
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.floor(this.ttlMs / 3)))
  }

  static async connect(url: string, prefix: string, ttlSeconds: number, onExpired: (roomId: number, userId: string, nickname: string) => void, logger: Logger) {
    const redis = redisConnector(url)()
    await redis.connect()
    return new RedisPresence(redis, prefix, ttlSeconds, onExpired, logger)
  }

  private keys(roomId: number, userId: string) {
    return { room: `${this.prefix}presence:${roomId}`, user: `${this.prefix}presence:${roomId}:${userId}`, users: `${this.prefix}users:${roomId}`, rooms: `${this.prefix}presence-rooms` }
  }

  private eval(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, script, keys, args)
  }

  async join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }): Promise<boolean> {
    let users = this.local.get(roomId)
    if (!users) this.local.set(roomId, (users = new Set()))
    users.add(user.userId)
    const k = this.keys(roomId, user.userId)
    const now = Date.now()
    const info = JSON.stringify({ n: user.nickname, p: user.profileUrl })
    const first = await this.eval(JOIN, [k.room, k.user, k.rooms, k.users], [this.instance, now, now + this.ttlMs, user.userId, info, this.ttlMs, roomId])
    return Number(first) === 1
  }

  async leave(roomId: number, userId: string): Promise<boolean> {
    const users = this.local.get(roomId)
    users?.delete(userId)
    if (users?.size === 0) this.local.delete(roomId)
    const k = this.keys(roomId, userId)
    const gone = await this.eval(LEAVE, [k.room, k.user, k.users], [this.instance, Date.now(), userId])
    return Number(gone) === 1
  }

  async online(roomId: number): Promise<OnlineUserDto[]> {
    const k = this.keys(roomId, '')
    const ids = (await this.redis.send('ZRANGEBYSCORE', [k.room, String(Date.now()), '+inf'])) as string[]
    if (ids.length === 0) return []
    const infos = (await this.redis.send('HMGET', [k.users, ...ids])) as (string | null)[]
    return ids.map((id, i) => {
      const info = JSON.parse(infos[i] ?? '{}') as { n?: string; p?: string | null }
      return { user_id: id, nickname: info.n ?? id, profile_picture_url: info.p ?? null }
    })
  }

  async counts(roomIds: readonly number[]): Promise<number[]> {
    const now = String(Date.now())
    return Promise.all(roomIds.map(async (id) => Number(await this.redis.send('ZCOUNT', [this.keys(id, '').room, now, '+inf']))))
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    // Leave everything this instance vouched for, so a clean stop announces its users at once.
    for (const [roomId, users] of [...this.local]) for (const userId of [...users]) await this.leave(roomId, userId).catch(() => false)
    this.redis.close()
  }

  /** Refreshes what this instance vouches for, then sweeps expired users of every room. */
  private async tick() {
    if (!this.redis.connected) return
    try {
      const now = Date.now()
      const refreshes: Promise<unknown>[] = []
      for (const [roomId, users] of this.local) {
        for (const userId of users) {
          const k = this.keys(roomId, userId)
          refreshes.push(this.eval(REFRESH, [k.room, k.user], [this.instance, now + this.ttlMs, userId, this.ttlMs]))
        }
      }
      await Promise.all(refreshes)
      const rooms = (await this.redis.send('SMEMBERS', [`${this.prefix}presence-rooms`])) as string[]
      for (const roomId of rooms) {
        const k = this.keys(Number(roomId), '')
        const gone = (await this.eval(SWEEP, [k.room, k.users, k.rooms], [Date.now(), this.prefix, roomId])) as string[]
        for (let i = 0; i < gone.length; i += 2) {
          const info = JSON.parse(gone[i + 1] ?? '{}') as { n?: string }
          this.onExpired(Number(roomId), gone[i]!, info.n ?? gone[i]!)
        }
      }
    } catch (err) {
      this.logger.warn('presence heartbeat failed', { err })
    }
  }
}
