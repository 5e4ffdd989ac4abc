import type { Server } from 'bun'
import type { Metrics } from '../metrics.ts'
import type { Closer } from './closing.ts'
import { CloseCode, encodeChangeFrame, encodeMessageFrame, encodeNoticeFrame, type AttachmentLinks } from './codec.ts'
import type { RoomEvent } from './events.ts'
import type { PresenceSignal } from './presence.ts'
import { localSessionSeq, roomTopic, type Connection, type Session, type StreamSocket, userTopic, type Waiting } from './session.ts'
import type { SlowConsumers } from './slow-consumers.ts'
import { UserCounts } from './user-counts.ts'

/** The sockets of one room on this instance. */
interface Room {
  /** The room's pub/sub topic: one string, shared by its sessions. */
  readonly topic: string
  readonly sessions: Set<Session>
  /** Those replaying history after since= (replay.ts), each with its backlog: the live frames waiting for the replay to end. */
  readonly replaying: Map<Session, Waiting[]>
}

/**
 * The room's session with this number (see `localSessionSeq`), when it is on this instance. The
 * sessions of the room are looked through, rather than kept by id as well (a map entry per socket):
 * only for an event that skips a session (a typing notice, a join), whose publish to the room costs
 * more than the look, and not at all for a session of another instance (-1).
 */
function sessionIn(room: Room, seq: number): Session | undefined {
  if (seq < 0) return undefined
  for (const session of room.sessions) if (session.seq === seq) return session
  return undefined
}

/** No stream sockets: what `streamsOf` answers for a user with none here. */
const NONE: ReadonlySet<StreamSocket> = new Set()

/**
 * The sockets of this instance, both kinds: room sockets by room, with delivery of room events to
 * them, and user stream sockets by user (what they hear is decided in modules/inbox/stream.ts; the
 * hub sends it). It counts them (per user, per room, the open-sockets and active-rooms metrics),
 * looks at them for slow readers, and closes them all at shutdown. It knows sockets, not storage
 * or other instances: the broker hands it every event of the rooms it has sockets in.
 */
export class Hub {
  private server: Server<unknown> | null = null
  private readonly rooms = new Map<number, Room>()
  /** Open room sockets per user on this instance, all rooms together. */
  private readonly userSockets = new UserCounts()
  /** Open stream sockets per user on this instance, oldest first. */
  private readonly streams = new Map<string, Set<StreamSocket>>()
  /** Set once every socket was told to close (shutdown): a socket registered later is closed the same way. */
  private shutdown: { code: number; reason: string } | null = null

  constructor(
    private readonly metrics: Metrics,
    private readonly slowConsumers: SlowConsumers,
    private readonly closer: Closer,
    /** Signs the URLs of messages' attachments. */
    private readonly links: AttachmentLinks,
  ) {}

  /** Gives the hub the listening server, whose publish reaches every subscriber of a topic. */
  attach(server: Server<unknown>): void {
    this.server = server
  }

  /** Open sockets of a user on this instance, room sockets and stream sockets together. */
  socketsOfUser(userId: string): number {
    return this.userSockets.get(userId) + (this.streams.get(userId)?.size ?? 0)
  }

  /**
   * True when the user has an open socket in the room here besides `besides` (null: any). The
   * room's sessions are looked through only when the user has another room socket here at all,
   * rather than sockets counted per room and user as well (a map entry per socket).
   */
  hasSocketIn(roomId: number, userId: string, besides: Session | null): boolean {
    // `besides`, when given, is registered (it is opening): one of the user's sockets counted here.
    if (this.userSockets.get(userId) <= (besides === null ? 0 : 1)) return false
    const sessions = this.rooms.get(roomId)?.sessions
    if (sessions) for (const session of sessions) if (session !== besides && session.identity.userId === userId) return true
    return false
  }

  /** Open sockets of a room on this instance. */
  socketsInRoom(roomId: number): number {
    return this.rooms.get(roomId)?.sessions.size ?? 0
  }

  /**
   * The pub/sub topic of a room, for a session about to open in it: the string its sockets here
   * already share, so that a socket adds no copy of its own.
   */
  topicOf(roomId: number): string {
    return this.rooms.get(roomId)?.topic ?? roomTopic(roomId)
  }

  /** Every open socket, room sockets and stream sockets. */
  all(): Connection[] {
    const all: Connection[] = []
    for (const room of this.rooms.values()) all.push(...room.sessions)
    for (const sockets of this.streams.values()) all.push(...sockets)
    return all
  }

  /**
   * Closes every socket, room and stream (on shutdown: 1001, so clients reconnect with since=);
   * one opening from now on is closed the same way (`closeIfShutDown`).
   */
  closeAll(code: number, reason: string): void {
    this.shutdown = { code, reason }
    for (const connection of this.all()) this.closer.close(connection, code, reason)
  }

  /** A socket that opened after `closeAll` is closed as the others were; true then. */
  closeIfShutDown(connection: Connection): boolean {
    if (!this.shutdown) return false
    this.closer.close(connection, this.shutdown.code, this.shutdown.reason)
    return true
  }

  /** Registers an open room socket (not yet live: see `subscribe` and `hold`). */
  add(session: Session): void {
    let room = this.rooms.get(session.roomId)
    if (!room) {
      room = { topic: session.topic, sessions: new Set(), replaying: new Map() }
      this.rooms.set(session.roomId, room)
      this.metrics.activeRooms.inc()
    }
    room.sessions.add(session)
    this.userSockets.increment(session.identity.userId)
    this.metrics.openSockets.inc()
  }

  /** Forgets a closed socket; false when it was not registered (or already forgotten). */
  remove(session: Session): boolean {
    const room = this.rooms.get(session.roomId)
    if (!room?.sessions.delete(session)) return false
    room.replaying.delete(session)
    this.slowConsumers.forget(session)
    this.metrics.openSockets.dec()
    const { userId } = session.identity
    this.userSockets.decrement(userId)
    if (room.sessions.size === 0) {
      this.rooms.delete(session.roomId)
      this.metrics.activeRooms.dec()
    }
    return true
  }

  /**
   * Registers an open user stream socket and subscribes it to its user's topic (closing it if the
   * hub is shut down); true when it is the user's first stream socket here.
   */
  openStream(connection: StreamSocket): boolean {
    const { userId } = connection.identity
    let sockets = this.streams.get(userId)
    const first = !sockets
    if (!sockets) this.streams.set(userId, (sockets = new Set()))
    sockets.add(connection)
    this.metrics.openSockets.inc()
    connection.socket.subscribe(connection.topic)
    this.closeIfShutDown(connection)
    return first
  }

  /** Forgets a closed stream socket; true when it was the user's last stream socket here (false when it was not registered). */
  closeStream(connection: StreamSocket): boolean {
    const { userId } = connection.identity
    const sockets = this.streams.get(userId)
    if (!sockets?.delete(connection)) return false
    this.metrics.openSockets.dec()
    this.slowConsumers.forget(connection)
    if (sockets.size > 0) return false
    this.streams.delete(userId)
    return true
  }

  /** The user's open stream sockets here, oldest first. */
  streamsOf(userId: string): ReadonlySet<StreamSocket> {
    return this.streams.get(userId) ?? NONE
  }

  /** Sends a frame to every stream socket of the user here (one publish), then looks at them for slow readers. */
  sendToStreams(userId: string, frame: string): void {
    this.server?.publish(userTopic(userId), frame)
    const sockets = this.streams.get(userId)
    if (sockets) this.slowConsumers.touch(sockets)
  }

  /** Closes every stream socket of the user here. */
  closeStreams(userId: string, code: number, reason: string): void {
    for (const connection of this.streamsOf(userId)) this.closer.close(connection, code, reason)
  }

  /** Starts live delivery of the room's events to the socket. */
  subscribe(session: Session): void {
    session.socket.subscribe(session.topic)
  }

  /** From now, the room's events wait in the socket's backlog (it is replaying history). */
  hold(session: Session): void {
    this.rooms.get(session.roomId)?.replaying.set(session, [])
  }

  /**
   * Sends what waited in the backlog (but the changes `replayed` says the replay sent), then
   * subscribes the socket. Nothing runs in between, so no live frame is missed or doubled.
   */
  release(session: Session, replayed: (change: NonNullable<Waiting['change']>) => boolean = () => false): void {
    const replaying = this.rooms.get(session.roomId)?.replaying
    const backlog = replaying?.get(session)
    replaying?.delete(session)
    if (backlog === undefined || session.closing) return // closed meanwhile
    for (const item of backlog) if (item.change === null || !replayed(item.change)) session.socket.send(item.frame)
    this.subscribe(session)
  }

  /** Delivers an event to every socket of its room on this instance (the broker calls this). */
  deliver(event: RoomEvent): void {
    const room = this.rooms.get(event.room)
    if (!room) return
    if (event.kind === 'message') {
      const { message, change } = event
      this.send(room, change ? encodeChangeFrame(message, change, this.links) : encodeMessageFrame(message, this.links), { id: message.id, version: message.version, created: !change })
      if (!change) this.metrics.messagesDelivered.inc(room.sessions.size)
      // The guard's warning, to everyone but the sender, right after the message it is about.
      if (event.notice) this.send(room, encodeNoticeFrame(message.id, event.notice), null, undefined, message.userId)
      this.slowConsumers.touch(room.sessions)
    } else if (event.kind === 'signal') {
      this.send(room, event.frame, null, event.except, 'about' in event ? (event as PresenceSignal).about : undefined)
    } else {
      if (event.frame !== undefined) this.send(room, event.frame, null)
      for (const session of room.sessions) {
        if (event.blocked !== undefined) session.blocked = event.blocked
        if (event.evict === session.identity.userId) this.closer.close(session, CloseCode.removed, event.banned ? 'banned' : 'removed')
      }
    }
  }

  /**
   * Sends one frame to every socket of the room, and to the backlog of those replaying, but the
   * session `except` and the sockets of the user `about` (a join or leave is not news to its user).
   */
  private send(room: Room, frame: string, change: Waiting['change'], except?: string, about?: string) {
    const exceptSeq = except === undefined ? -1 : localSessionSeq(except)
    const skips = (session: Session) => session.seq === exceptSeq || session.identity.userId === about
    // A socket's own publish reaches every subscriber of the topic but itself: the session skipped,
    // or the one socket here of the user `about`. Only when that user has several here (rare: a
    // user's own presence, a notice about a message sent from two tabs) does each other socket get
    // the frame on its own.
    let via = sessionIn(room, exceptSeq)
    let several = false
    if (about !== undefined && this.userSockets.get(about) > 0) {
      for (const session of room.sessions) {
        if (session.identity.userId !== about || session === via) continue
        if (via !== undefined) several = true
        via = session
      }
    }
    if (several) {
      for (const session of room.sessions) if (!skips(session) && session.socket.isSubscribed(session.topic)) session.socket.send(frame)
    } else if (via && via.socket.readyState === 1) via.socket.publish(room.topic, frame)
    else this.server?.publish(room.topic, frame)
    for (const [session, backlog] of room.replaying) if (!skips(session)) backlog.push({ frame, change })
  }
}
