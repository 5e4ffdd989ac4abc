import type { Logger } from '../logger.ts'
import type { Presence } from './presence.ts'
import type { Session } from './session.ts'

/**
 * Turns this instance's sockets into presence: a user joins a room with their first socket in it
 * here and leaves with their last, PRESENCE_GRACE_MS after it closed, so that a reconnect within
 * the grace (a reload, a flaky network, a client that reconnects in a loop) announces neither a
 * leave nor a join. Presence itself (memory or Redis) decides whether the room hears of it, across
 * instances and tabs, and announces it.
 */
export class PresenceTracker {
  /** Sockets per room and user on this instance. */
  private readonly sockets = new Map<number, Map<string, number>>()
  /** Users whose last socket here closed less than the grace ago (per room): still present. */
  private readonly leaving = new Map<number, Map<string, ReturnType<typeof setTimeout>>>()
  private stopped = false

  constructor(
    private readonly presence: Presence,
    private readonly graceMs: number,
    private readonly logger: Logger,
  ) {}

  /** A socket opened: the user's first here joins presence (announced to all but this socket). */
  enter(session: Session): void {
    const { userId, nickname, profileUrl } = session.identity
    let users = this.sockets.get(session.roomId)
    if (!users) this.sockets.set(session.roomId, (users = new Map()))
    const count = (users.get(userId) ?? 0) + 1
    users.set(userId, count)
    if (count > 1) return
    // Back within the grace: still present, so presence has nothing to announce.
    this.cancelLeave(session.roomId, userId)
    this.presence.join(session.roomId, { userId, nickname, profileUrl }, session.id).catch((err) => this.logger.error('presence join failed', { room: session.roomId, user: userId, err }))
  }

  /** A socket closed: the user's last here leaves presence once the grace has passed. */
  exit(session: Session): void {
    const { roomId } = session
    const { userId } = session.identity
    const users = this.sockets.get(roomId)
    const count = (users?.get(userId) ?? 1) - 1
    if (count > 0) return void users?.set(userId, count)
    users?.delete(userId)
    if (users?.size === 0) this.sockets.delete(roomId)
    // Shutting down: presence itself lets go of this instance's users as it closes.
    if (this.stopped) return
    if (this.graceMs === 0) return this.leave(roomId, userId)
    const timer = setTimeout(() => this.leave(roomId, userId), this.graceMs)
    timer.unref()
    let pending = this.leaving.get(roomId)
    if (!pending) this.leaving.set(roomId, (pending = new Map()))
    pending.set(userId, timer)
  }

  /** On shutdown: pending leaves are dropped (presence closes next, and lets go of everyone). */
  stop(): void {
    this.stopped = true
    for (const pending of this.leaving.values()) for (const timer of pending.values()) clearTimeout(timer)
    this.leaving.clear()
  }

  private cancelLeave(roomId: number, userId: string) {
    const pending = this.leaving.get(roomId)
    const timer = pending?.get(userId)
    if (timer === undefined) return
    clearTimeout(timer)
    pending!.delete(userId)
    if (pending!.size === 0) this.leaving.delete(roomId)
  }

  private leave(roomId: number, userId: string) {
    this.cancelLeave(roomId, userId)
    this.presence.leave(roomId, userId).catch((err) => this.logger.error('presence leave failed', { room: roomId, user: userId, err }))
  }
}
