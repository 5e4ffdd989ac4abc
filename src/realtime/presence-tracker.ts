import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Presence } from './presence.ts'
import { sessionId, type Session } from './session.ts'

/** How failed joins and leaves are retried: the wait doubles from `baseMs` up to `capMs`. */
export interface RetryTiming {
  baseMs: number
  capMs: number
}

/** Redis comes back within seconds (Bun reconnects at least every 2 s); a change follows soon after. */
const PRESENCE_RETRY: RetryTiming = { baseMs: 200, capMs: 3000 }

/**
 * The wait before retry number `attempt` (0 first): between half and all of min(cap, base·2^attempt),
 * so that the users of an instance whose Redis went away do not all retry at the same moment.
 */
export function retryDelay(attempt: number, { baseMs, capMs }: RetryTiming, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

type PresenceUser = Parameters<Presence['join']>[1]

/** What the tracker asks of this instance's sockets (the hub): whether a user has one in a room. */
export interface SocketsHere {
  /** True when the user has an open socket in the room here besides `besides` (the one opening; null: any). */
  hasSocketIn(roomId: number, userId: string, besides: Session | null): boolean
}

/** What presence must be told about one user in one room: the newest wish wins. */
type Wish = { join: true; user: PresenceUser; except: string } | { join: false }

/** The change under way for one user in one room: at most one call to presence at a time. */
interface Change {
  wish: Wish
  /** A call to presence is under way (for this wish or an older one). */
  running: boolean
  /** Failed tries of `wish` so far. */
  failures: number
  /** The retry waiting, if any. */
  retry: Timer | null
}

/**
 * Turns this instance's sockets into presence: a user joins a room with their first socket in it
 * here and leaves with their last (which sockets are open here the hub knows: it is asked, rather
 * than the sockets counted again per room and user), PRESENCE_GRACE_MS after it closed, so that a reconnect within
 * the grace (a reload, a flaky network, a client that reconnects in a loop) announces neither a
 * leave nor a join. Presence itself (memory or Redis) decides whether the room hears of it, across
 * instances and tabs, and announces it.
 *
 * A join or leave that fails (Redis away) is tried again, with backoff, until presence takes it: a
 * join while the user still has a socket here, a leave until the user comes back. Calls for one
 * user in one room go one at a time and the newest wish wins, so a leave retried late never
 * follows the user's return, and a join retried late never follows their leave.
 */
export class PresenceTracker {
  /** Users whose last socket here closed less than the grace ago (per room): still present. */
  private readonly leaving = new Map<number, Map<string, Timer>>()
  /** Joins and leaves not yet taken by presence (per room and user). */
  private readonly changes = new Map<number, Map<string, Change>>()
  private stopped = false

  constructor(
    private readonly presence: Presence,
    private readonly sockets: SocketsHere,
    private readonly graceMs: number,
    private readonly logger: Logger,
    private readonly clock: Clock = realClock,
    private readonly retryTiming: RetryTiming = PRESENCE_RETRY,
  ) {}

  /**
   * A socket opened (the hub has it already): the user's first here joins presence (announced to
   * all but this socket).
   */
  enter(session: Session): void {
    const { userId } = session.identity
    if (this.sockets.hasSocketIn(session.roomId, userId, session)) return
    // Back within the grace: still present, so presence has nothing to announce.
    this.cancelLeave(session.roomId, userId)
    // The identity itself, not a copy: presence in memory keeps what it is given.
    this.wish(session.roomId, userId, { join: true, user: session.identity, except: sessionId(session) })
  }

  /** A socket closed (the hub has forgotten it): the user's last here leaves presence once the grace has passed. */
  exit(session: Session): void {
    const { roomId } = session
    const { userId } = session.identity
    if (this.sockets.hasSocketIn(roomId, userId, null)) return
    // Shutting down: presence itself lets go of this instance's users as it closes.
    if (this.stopped) return
    if (this.graceMs === 0) return this.leave(roomId, userId)
    const timer = this.clock.setTimeout(() => this.leave(roomId, userId), this.graceMs)
    let pending = this.leaving.get(roomId)
    if (!pending) this.leaving.set(roomId, (pending = new Map()))
    pending.set(userId, timer)
  }

  /** On shutdown: pending leaves and retries are dropped (presence closes next, and lets go of everyone). */
  stop(): void {
    this.stopped = true
    for (const pending of this.leaving.values()) for (const timer of pending.values()) this.clock.clearTimeout(timer)
    this.leaving.clear()
    for (const changes of this.changes.values()) for (const change of changes.values()) if (change.retry !== null) this.clock.clearTimeout(change.retry)
    this.changes.clear()
  }

  private cancelLeave(roomId: number, userId: string) {
    const pending = this.leaving.get(roomId)
    const timer = pending?.get(userId)
    if (timer === undefined) return
    this.clock.clearTimeout(timer)
    pending!.delete(userId)
    if (pending!.size === 0) this.leaving.delete(roomId)
  }

  private leave(roomId: number, userId: string) {
    this.cancelLeave(roomId, userId)
    this.wish(roomId, userId, { join: false })
  }

  /** Asks presence for a join or leave: now, or after the call under way for that user (which it supersedes). */
  private wish(roomId: number, userId: string, wish: Wish) {
    let changes = this.changes.get(roomId)
    if (!changes) this.changes.set(roomId, (changes = new Map()))
    const change = changes.get(userId)
    if (!change) {
      const fresh: Change = { wish, running: false, failures: 0, retry: null }
      changes.set(userId, fresh)
      return void this.apply(roomId, userId, fresh)
    }
    change.wish = wish
    change.failures = 0
    if (change.retry !== null) {
      this.clock.clearTimeout(change.retry)
      change.retry = null
    }
    if (!change.running) void this.apply(roomId, userId, change)
  }

  /** Makes one call to presence for the change's wish, then goes on: done, the next wish, or a retry. Never rejects. */
  private async apply(roomId: number, userId: string, change: Change): Promise<void> {
    const { wish } = change
    change.running = true
    let failure: unknown = null
    try {
      if (wish.join) await this.presence.join(roomId, wish.user, wish.except)
      else await this.presence.leave(roomId, userId)
    } catch (err) {
      failure = err ?? new Error('presence call failed')
    }
    change.running = false
    if (this.stopped || this.changes.get(roomId)?.get(userId) !== change) return
    // A newer wish came meanwhile: it goes now, whatever became of this one.
    if (change.wish !== wish) return this.apply(roomId, userId, change)
    const what = wish.join ? 'join' : 'leave'
    if (failure === null) {
      if (change.failures > 0) this.logger.info(`presence ${what} went through after failing`, { room: roomId, user: userId, failures: change.failures })
      return this.forget(roomId, userId)
    }
    if (this.givenUp(roomId, userId, wish)) return this.logger.warn('presence join failed; the user has no socket here any more', { room: roomId, user: userId, err: failure })
    const delay = retryDelay(change.failures++, this.retryTiming)
    // One warning per change; the tries after it at debug (Redis may be away for a while).
    const fields = { room: roomId, user: userId, failures: change.failures, retryInMs: delay, err: failure }
    if (change.failures === 1) this.logger.warn(`presence ${what} failed; retrying`, fields)
    else this.logger.debug(`presence ${what} failed again; retrying`, fields)
    change.retry = this.clock.setTimeout(() => {
      change.retry = null
      if (!change.running && !this.givenUp(roomId, userId, change.wish)) void this.apply(roomId, userId, change)
    }, delay)
  }

  /** A join is given up (forgotten) once the user's sockets here closed: their leave follows after the grace. */
  private givenUp(roomId: number, userId: string, wish: Wish): boolean {
    if (!wish.join || this.sockets.hasSocketIn(roomId, userId, null)) return false
    this.forget(roomId, userId)
    return true
  }

  private forget(roomId: number, userId: string) {
    const changes = this.changes.get(roomId)
    changes?.delete(userId)
    if (changes?.size === 0) this.changes.delete(roomId)
  }
}
