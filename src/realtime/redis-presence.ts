import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { RoomPresence } from './presence-ledger.ts'
import { JOIN, LEAVE, PRESENT, REFRESH, roomIndexKey, roomKeys, scriptKeys, SWEEP } from './presence-scripts.ts'
import type { OnlineUserDto, Presence, PresenceChange } from './presence.ts'
import { redisConnector, runScript, type RedisConnection } from './redis-connection.ts'
import { roomChannel } from './redis-wire.ts'

/**
 * After a (re)connect an instance sweeps no sooner than one TTL and at least this long: every
 * instance alive is back by then (Bun retries a lost connection at least every 2 s) and has
 * refreshed its users, which it does first thing on reconnecting.
 */
const MIN_SWEEP_HOLD_OFF_MS = 5000
/** Users renewed per script call. */
const REFRESH_BATCH = 200

type Info = { n?: string; p?: string | null }

/** A user this instance vouches for in a room: what Redis keeps about them, and whether a join of theirs went through. */
interface Vouched {
  info: string
  /** False until a join succeeds: until then the join is the tracker's to retry, not the refresh's to announce. */
  joined: boolean
}

const parseInfo = (raw: unknown): Info => {
  try {
    return JSON.parse(String(raw ?? '{}')) as Info
  } catch {
    return {}
  }
}

/** Who the room was last told is present, as of which version (see PRESENT): one read, in one step. */
export async function readRoomPresence(redis: RedisConnection, prefix: string, roomId: number): Promise<RoomPresence> {
  const [version, origin, ...pairs] = (await runScript(redis, PRESENT, scriptKeys(roomKeys(prefix, roomId)), [])) as unknown[]
  const present = new Map<string, string>()
  for (let i = 0; i + 1 < pairs.length; i += 2) present.set(String(pairs[i]), parseInfo(pairs[i + 1]).n ?? String(pairs[i]))
  return { version: Number(version) || 0, origin: Number(origin) || 0, present }
}

/**
 * Presence shared by every instance through Redis (layout and scripts in presence-scripts.ts): a
 * user is in a room while any instance vouches for them, and a join or leave is announced once,
 * whichever instances their tabs are on, with a version that orders it among the room's changes.
 * The script that decides a change publishes it on the room's channel in the same step, so no
 * decision goes unannounced (the broker delivers it to every instance, this one included).
 *
 * Instances renew their users every TTL/3. One that dies stops renewing, its entries pass their
 * time, and the next sweep (by any instance) removes them and announces the leaves. After Redis
 * was away, entries may have passed their time only because nobody could renew them: an instance
 * renews its own first thing, and sweeps only once every instance has had time to do the same.
 *
 * A join or leave that fails while Redis is away is tried again by the tracker (presence-tracker.ts).
 * Until a join went through, the renewals leave the user out (the retry announces the join to all
 * but the joining socket). A leave tried again that finds Redis has forgotten the user keeps it for
 * the sweep (see LEAVE), so that a restart without persistence does not swallow it.
 */
export class RedisPresence implements Presence {
  private readonly instance = crypto.randomUUID()
  /** What this instance vouches for: room -> user. */
  private readonly local = new Map<number, Map<string, Vouched>>()
  /** Leaves that failed (room -> user -> info): tried again, they keep the leave for the sweep should Redis have forgotten the user. */
  private readonly unsettled = new Map<number, Map<string, string>>()
  private readonly timer: Timer
  private readonly ttlMs: number
  private readonly holdOffMs: number
  /** Since when the connection has been up without a break; null while it is down. */
  private connectedSince: number | null = null
  private ticking = false

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    ttlSeconds: number,
    private readonly logger: Logger,
    /** Its wall time is what the scripts compare (renewed until, swept after): the same scale on every instance. */
    private readonly clock: Clock = realClock,
  ) {
    this.ttlMs = Math.round(ttlSeconds * 1000)
    this.holdOffMs = Math.max(this.ttlMs, MIN_SWEEP_HOLD_OFF_MS)
    if (redis.connected) this.connectedSince = this.clock.wallNow()
    redis.onconnect = () => this.reconnected()
    this.timer = clock.setInterval(() => this.tick().catch((err) => this.logger.warn('presence heartbeat failed', { err })), Math.max(200, Math.floor(this.ttlMs / 3)))
  }

  static async connect(url: string, prefix: string, ttlSeconds: number, logger: Logger): Promise<RedisPresence> {
    const redis = redisConnector(url)()
    const presence = new RedisPresence(redis, prefix, ttlSeconds, logger)
    try {
      await redis.connect()
    } catch (err) {
      await presence.close()
      throw err
    }
    return presence
  }

  async join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }, except?: string): Promise<PresenceChange> {
    const info = JSON.stringify({ n: user.nickname, p: user.profileUrl })
    let users = this.local.get(roomId)
    if (!users) this.local.set(roomId, (users = new Map()))
    const vouched: Vouched = { info, joined: false }
    users.set(user.userId, vouched)
    // Back: a leave of theirs that failed is moot.
    this.settle(roomId, user.userId)
    const now = this.clock.wallNow()
    const version = Number(await runScript(this.redis, JOIN, this.keys(roomId), [this.instance, now, now + this.ttlMs, user.userId, info, this.channel(roomId), except ?? '']))
    vouched.joined = true
    // The join happened; should the index miss the room, the next refresh puts it back.
    await this.index(roomId).catch((err) => this.logger.warn('adding a room to the presence index failed', { room: roomId, err }))
    return { changed: version > 0, version }
  }

  async leave(roomId: number, userId: string): Promise<PresenceChange> {
    const users = this.local.get(roomId)
    const vouched = users?.get(userId)
    users?.delete(userId)
    if (users?.size === 0) this.local.delete(roomId)
    // Tried before and failed: the room may have heard the join, and Redis may have forgotten it.
    const retried = this.unsettled.get(roomId)?.get(userId)
    let version: number
    try {
      version = Number(await runScript(this.redis, LEAVE, this.keys(roomId), [this.instance, this.clock.wallNow(), userId, this.channel(roomId), retried ?? '']))
    } catch (err) {
      this.unsettle(roomId, userId, retried ?? vouched?.info ?? JSON.stringify({ n: userId }))
      throw err
    }
    this.settle(roomId, userId)
    // Kept for the sweep, which reads the index.
    if (version < 0) await this.index(roomId).catch((err) => this.logger.warn('adding a room to the presence index failed', { room: roomId, err }))
    return { changed: version > 0, version: Math.max(version, 0) }
  }

  async online(roomId: number): Promise<OnlineUserDto[]> {
    const { present, info } = roomKeys(this.prefix, roomId)
    // Present until a time still to come: one whose time is now has passed (as the scripts prune),
    // and so has a leave kept for the sweep, written with the time it was made.
    const ids = (await this.redis.send('ZRANGEBYSCORE', [present, `(${this.clock.wallNow()}`, '+inf'])) as string[]
    if (ids.length === 0) return []
    const infos = (await this.redis.send('HMGET', [info, ...ids])) as unknown[]
    return ids.map((id, i) => {
      const about = parseInfo(infos[i])
      return { user_id: id, nickname: about.n ?? id, profile_picture_url: about.p ?? null }
    })
  }

  async counts(roomIds: readonly number[]): Promise<number[]> {
    const after = `(${this.clock.wallNow()}`
    return Promise.all(roomIds.map(async (id) => Number(await this.redis.send('ZCOUNT', [roomKeys(this.prefix, id).present, after, '+inf']))))
  }

  /** Leaves everything this instance vouched for, and what failed to leave (the scripts announce who is now gone), and disconnects. */
  async close(): Promise<void> {
    this.clock.clearInterval(this.timer)
    const vouched = [...this.local, ...this.unsettled].flatMap(([roomId, users]) => [...users.keys()].map((userId) => ({ roomId, userId })))
    for (const { roomId, userId } of vouched) await this.leave(roomId, userId).catch(() => null)
    this.redis.close()
  }

  private unsettle(roomId: number, userId: string, info: string) {
    let users = this.unsettled.get(roomId)
    if (!users) this.unsettled.set(roomId, (users = new Map()))
    users.set(userId, info)
  }

  private settle(roomId: number, userId: string) {
    const users = this.unsettled.get(roomId)
    users?.delete(userId)
    if (users?.size === 0) this.unsettled.delete(roomId)
  }

  private channel(roomId: number): string {
    return roomChannel(this.prefix, roomId)
  }

  private keys(roomId: number): string[] {
    return scriptKeys(roomKeys(this.prefix, roomId))
  }

  /** Puts the room in the index the sweep reads (after its script ran: see `sweepRoom`). */
  private async index(roomId: number) {
    await this.redis.send('SADD', [roomIndexKey(this.prefix), String(roomId)])
  }

  private reconnected() {
    // Redis was away (or restarted empty): nobody could renew anything. Renew first, sweep later.
    this.connectedSince = this.clock.wallNow()
    this.refresh().catch((err) => this.logger.warn('presence refresh after reconnecting failed', { err }))
  }

  /** Renews what this instance vouches for, then sweeps every room unless it reconnected too recently. */
  private async tick() {
    if (!this.redis.connected) {
      this.connectedSince = null
      return
    }
    this.connectedSince ??= this.clock.wallNow()
    if (this.ticking) return
    this.ticking = true
    try {
      await this.refresh()
      if (this.connectedSince !== null && this.clock.wallNow() - this.connectedSince >= this.holdOffMs) await this.sweep()
    } finally {
      this.ticking = false
    }
  }

  private async refresh() {
    const now = this.clock.wallNow()
    const renewals: Promise<void>[] = []
    for (const [roomId, users] of this.local) {
      // A join that has not gone through yet is retried as a join (telling all but the joining socket).
      const pairs = [...users].flatMap(([userId, { info, joined }]) => (joined ? [userId, info] : []))
      if (pairs.length === 0) continue
      const keys = this.keys(roomId)
      for (let i = 0; i < pairs.length; i += 2 * REFRESH_BATCH) {
        const script = runScript(this.redis, REFRESH, keys, [this.instance, now, now + this.ttlMs, this.channel(roomId), ...pairs.slice(i, i + 2 * REFRESH_BATCH)])
        renewals.push(script.then(() => this.index(roomId)))
      }
    }
    await Promise.all(renewals)
  }

  private async sweep() {
    const rooms = (await this.redis.send('SMEMBERS', [roomIndexKey(this.prefix)])) as string[]
    await Promise.all(rooms.map((id) => this.sweepRoom(Number(id))))
  }

  private async sweepRoom(roomId: number) {
    if (!Number.isSafeInteger(roomId)) return
    const [empty, ...gone] = (await runScript(this.redis, SWEEP, this.keys(roomId), [this.clock.wallNow(), this.channel(roomId)])) as unknown[]
    if (gone.length > 0) this.logger.info('users no instance vouches for announced gone', { room: roomId, users: gone.length })
    if (Number(empty) !== 1) return
    await this.redis.send('SREM', [roomIndexKey(this.prefix), String(roomId)])
    // A join may have run between the sweep and the SREM; its SADD came before the SREM. Put the
    // room back, or a user who joined it then would never be swept.
    if (Number(await this.redis.send('ZCARD', [roomKeys(this.prefix, roomId).present])) > 0) await this.index(roomId)
  }
}
