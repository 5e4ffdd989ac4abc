import type { Server, ServerWebSocket } from 'bun'
import type { Identity } from '../identity.ts'
import type { Metrics } from '../metrics.ts'
import type { MessageRow } from '../store/store.ts'
import { encodeMessageFrame, encodePresenceFrame, roomTopic } from './protocol.ts'

/** One open chat socket: who, where, and its replay state. */
export interface Session {
  readonly identity: Identity
  readonly roomId: number
  readonly socket: ServerWebSocket<unknown>
  /** While replaying after since=, live frames wait here (with the message id, if any). */
  backlog: { id: number | null; frame: string }[] | null
  lastTypingAt: number
}

interface OnlineUser {
  nickname: string
  profileUrl: string | null
  sockets: number
}

interface RoomState {
  readonly users: Map<string, OnlineUser>
  readonly replaying: Set<Session>
  readonly sessions: Set<Session>
}

/** A user present in a room, as room detail lists them. */
export interface OnlineUserDto {
  user_id: string
  nickname: string
  profile_picture_url: string | null
}

/**
 * Who is connected to which room, and delivery of room events to them.
 * Presence is per user: the first socket of a user in a room announces the join,
 * the last one to close announces the leave.
 */
export class Hub {
  private server: Server<unknown> | null = null
  private readonly rooms = new Map<number, RoomState>()

  constructor(private readonly metrics: Metrics) {}

  /** Gives the hub the listening server, whose publish reaches every subscriber. */
  attach(server: Server<unknown>): void {
    this.server = server
  }

  /** Adds a socket to its room; announces the user if this is their first socket there. */
  enter(session: Session): void {
    let room = this.rooms.get(session.roomId)
    if (!room) {
      room = { users: new Map(), replaying: new Set(), sessions: new Set() }
      this.rooms.set(session.roomId, room)
      this.metrics.activeRooms.inc()
    }
    room.sessions.add(session)
    this.metrics.openSockets.inc()
    const { userId, nickname, profileUrl } = session.identity
    const user = room.users.get(userId)
    if (user) {
      user.sockets++
      user.nickname = nickname
      user.profileUrl = profileUrl
      return
    }
    room.users.set(userId, { nickname, profileUrl, sockets: 1 })
    // Published before this socket subscribes, so only the others hear it.
    this.broadcast(session.roomId, encodePresenceFrame('chat.user.join', userId, nickname), null)
  }

  /** Removes a closed socket; announces the leave when it was the user's last one in the room. */
  exit(session: Session): void {
    const room = this.rooms.get(session.roomId)
    if (!room) return
    if (!room.sessions.delete(session)) return
    room.replaying.delete(session)
    this.metrics.openSockets.dec()
    const user = room.users.get(session.identity.userId)
    if (user && --user.sockets === 0) {
      room.users.delete(session.identity.userId)
      this.broadcast(session.roomId, encodePresenceFrame('chat.user.leave', session.identity.userId, user.nickname), null)
    }
    if (room.sessions.size === 0) {
      this.rooms.delete(session.roomId)
      this.metrics.activeRooms.dec()
    }
  }

  /** Closes every socket (on shutdown: 1001, so clients reconnect with since=). */
  closeAll(code: number, reason: string): void {
    for (const room of this.rooms.values()) for (const session of room.sessions) session.socket.close(code, reason)
  }

  /** Holds live frames for a socket that is replaying history; see `endReplay`. */
  beginReplay(session: Session): void {
    session.backlog = []
    this.rooms.get(session.roomId)?.replaying.add(session)
  }

  /**
   * Sends what arrived during the replay (skipping messages the replay already sent), then
   * subscribes the socket. Nothing runs in between, so no live frame is missed or doubled.
   */
  endReplay(session: Session, lastReplayedId: number): void {
    const backlog = session.backlog ?? []
    session.backlog = null
    this.rooms.get(session.roomId)?.replaying.delete(session)
    for (const item of backlog) {
      if (item.id === null || item.id > lastReplayedId) session.socket.send(item.frame)
    }
    this.subscribe(session)
  }

  /** Starts live delivery of the room's events to the socket. */
  subscribe(session: Session): void {
    session.socket.subscribe(roomTopic(session.roomId))
  }

  /** Delivers committed messages to their rooms, in ascending id order. */
  publishMessages(rows: readonly MessageRow[]): void {
    for (const row of rows) {
      this.broadcast(row.roomId, encodeMessageFrame(row), row.id)
      this.metrics.messagesDelivered.inc(this.rooms.get(row.roomId)?.sessions.size ?? 0)
    }
  }

  /** Sends one encoded frame to every socket of the room, and to the backlog of those replaying. */
  broadcast(roomId: number, frame: string, messageId: number | null): void {
    const room = this.rooms.get(roomId)
    if (!room) return
    this.server?.publish(roomTopic(roomId), frame)
    for (const session of room.replaying) session.backlog?.push({ id: messageId, frame })
  }

  onlineCount(roomId: number): number {
    return this.rooms.get(roomId)?.users.size ?? 0
  }

  onlineUsers(roomId: number): OnlineUserDto[] {
    const room = this.rooms.get(roomId)
    if (!room) return []
    return [...room.users].map(([userId, user]) => ({ user_id: userId, nickname: user.nickname, profile_picture_url: user.profileUrl }))
  }

  /** Open sockets across all rooms. */
  socketCount(): number {
    let total = 0
    for (const room of this.rooms.values()) total += room.sessions.size
    return total
  }
}
