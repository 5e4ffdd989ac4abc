import type { Server } from 'bun'
import type { Metrics } from '../metrics.ts'
import type { Closer } from './closing.ts'
import { CloseCode, encodeMessageFrame } from './codec.ts'
import type { RoomEvent } from './events.ts'
import type { PresenceSignal } from './presence.ts'
import { roomTopic, type Session } from './session.ts'
import type { SlowConsumers } from './slow-consumers.ts'

/** The sockets of one room on this instance. */
interface Room {
  readonly sessions: Set<Session>
  /** Those replaying history after since=: their live frames wait in their backlog. */
  readonly replaying: Set<Session>
}

/**
 * The sockets of this instance, by room, and delivery of room events to them. It knows sockets,
 * not storage or other instances: the broker hands it every event of the rooms it has sockets in.
 */
export class Hub {
  private server: Server<unknown> | null = null
  private readonly rooms = new Map<number, Room>()
  /** Every open session, by id (events name the session they skip). */
  private readonly sessions = new Map<string, Session>()
  /** Open sockets per user on this instance, all rooms together. */
  private readonly userSockets = new Map<string, number>()

  constructor(
    private readonly metrics: Metrics,
    private readonly slowConsumers: SlowConsumers,
    private readonly closer: Closer,
  ) {}

  /** Gives the hub the listening server, whose publish reaches every subscriber of a topic. */
  attach(server: Server<unknown>): void {
    this.server = server
  }

  /**
   * Sends a frame to every socket subscribed to `topic` on this instance (Bun batches what a topic
   * sends, rather than writing each frame to its socket on its own).
   */
  publish(topic: string, frame: string): void {
    this.server?.publish(topic, frame)
  }

  /** Open sockets of a user on this instance. */
  socketsOfUser(userId: string): number {
    return this.userSockets.get(userId) ?? 0
  }

  /** Open sockets of a room on this instance. */
  socketsInRoom(roomId: number): number {
    return this.rooms.get(roomId)?.sessions.size ?? 0
  }

  /** Every open socket. */
  all(): Session[] {
    return [...this.sessions.values()]
  }

  /** Registers an open socket (not yet live: see `subscribe` and `hold`). */
  add(session: Session): void {
    let room = this.rooms.get(session.roomId)
    if (!room) {
      room = { sessions: new Set(), replaying: new Set() }
      this.rooms.set(session.roomId, room)
      this.metrics.activeRooms.inc()
    }
    room.sessions.add(session)
    this.sessions.set(session.id, session)
    this.userSockets.set(session.identity.userId, this.socketsOfUser(session.identity.userId) + 1)
    this.metrics.openSockets.inc()
  }

  /** Forgets a closed socket; false when it was not registered (or already forgotten). */
  remove(session: Session): boolean {
    const room = this.rooms.get(session.roomId)
    if (!room?.sessions.delete(session)) return false
    room.replaying.delete(session)
    this.sessions.delete(session.id)
    this.slowConsumers.forget(session)
    this.metrics.openSockets.dec()
    const { userId } = session.identity
    const left = this.socketsOfUser(userId) - 1
    if (left > 0) this.userSockets.set(userId, left)
    else this.userSockets.delete(userId)
    if (room.sessions.size === 0) {
      this.rooms.delete(session.roomId)
      this.metrics.activeRooms.dec()
    }
    return true
  }

  /** Starts live delivery of the room's events to the socket. */
  subscribe(session: Session): void {
    session.socket.subscribe(session.topic)
  }

  /** From now, the room's events wait in the socket's backlog (it is replaying history). */
  hold(session: Session): void {
    session.backlog = []
    this.rooms.get(session.roomId)?.replaying.add(session)
  }

  /**
   * Sends what waited in the backlog (but messages up to `lastReplayedId`, which the replay sent),
   * then subscribes the socket. Nothing runs in between, so no live frame is missed or doubled.
   */
  release(session: Session, lastReplayedId: number): void {
    const backlog = session.backlog
    session.backlog = null
    this.rooms.get(session.roomId)?.replaying.delete(session)
    if (backlog === null || session.closing) return // closed meanwhile
    for (const item of backlog) if (item.id === null || item.id > lastReplayedId) session.socket.send(item.frame)
    this.subscribe(session)
  }

  /** Delivers an event to every socket of its room on this instance (the broker calls this). */
  deliver(event: RoomEvent): void {
    const room = this.rooms.get(event.room)
    if (!room) return
    if (event.kind === 'message') {
      this.send(room, event.room, encodeMessageFrame(event.message), event.message.id)
      this.metrics.messagesDelivered.inc(room.sessions.size)
      this.slowConsumers.touch(room.sessions)
    } else if (event.kind === 'signal') {
      this.send(room, event.room, event.frame, null, event.except, 'about' in event ? (event as PresenceSignal).about : undefined)
    } else {
      for (const session of room.sessions) {
        if (event.blocked !== undefined) session.blocked = event.blocked
        if (event.evict === session.identity.userId) this.closer.close(session, CloseCode.removed, 'removed')
      }
    }
  }

  /**
   * Sends one frame to every socket of the room, and to the backlog of those replaying, but the
   * session `except` and the sockets of the user `about` (a join or leave is not news to its user).
   */
  private send(room: Room, roomId: number, frame: string, messageId: number | null, except?: string, about?: string) {
    const skips = (session: Session) => session.id === except || session.identity.userId === about
    if (about !== undefined && this.socketsOfUser(about) > 0 && [...room.sessions].some((s) => s.identity.userId === about)) {
      // Rare (a user's own presence): each other live socket gets it on its own.
      for (const session of room.sessions) if (!skips(session) && session.socket.isSubscribed(session.topic)) session.socket.send(frame)
    } else {
      // A socket's own publish reaches every subscriber of the topic but itself.
      const skipped = except === undefined ? undefined : this.sessions.get(except)
      if (skipped && skipped.roomId === roomId && skipped.socket.readyState === 1) skipped.socket.publish(roomTopic(roomId), frame)
      else this.server?.publish(roomTopic(roomId), frame)
    }
    for (const session of room.replaying) if (!skips(session)) session.backlog?.push({ id: messageId, frame })
  }
}
