import type { Server, ServerWebSocket } from 'bun'
import type { Identity } from '../identity.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { MessageRow } from '../store/store.ts'
import type { Broker, DeliverySink } from './broker.ts'
import type { SocketLimits } from './limits.ts'
import type { Presence } from './presence.ts'
import { CloseCode } from './protocol.ts'
import { encodeMessageFrame, roomTopic } from './protocol.ts'

/** How long a socket's queue may stay over the slow-consumer limit before it is closed. */
const SLOW_CONSUMER_GRACE_MS = 1000
/** A queue this many times over the limit is closed at once. */
const SLOW_CONSUMER_HARD_FACTOR = 8
/**
 * How long a socket the server closed may take to finish closing. A close frame waits behind what
 * is queued before it; a peer that does not read would keep the connection, and its queue, for as
 * long as it likes. Past this it is cut.
 */
export const CLOSE_GRACE_MS = 3000
const CLOSE_POLL_MS = 100

const leavingKey = (roomId: number, userId: string) => `${roomId}\u0000${userId}`

/** One open chat socket: who, where, and its replay state. */
export interface Session {
  /** Unique across instances: events name the session they skip by it. */
  readonly id: string
  readonly identity: Identity
  readonly roomId: number
  readonly socket: ServerWebSocket<unknown>
  /** Its message rate limit. */
  readonly limits: SocketLimits
  /** Since when its unsent queue has been over the slow-consumer limit (0: it is not). */
  slowSince: number
  /** While replaying after since=, live frames wait here (with the message id, if any). */
  backlog: { id: number | null; frame: string }[] | null
  lastTypingAt: number
  /** True once the server has begun closing it. */
  closing: boolean
}

interface RoomState {
  readonly sessions: Set<Session>
  readonly replaying: Set<Session>
  /** Sockets per user on this instance: presence changes only with a user's first and last. */
  readonly users: Map<string, number>
}

/**
 * The sockets of this instance, by room, and delivery of room events to them. Presence (who is
 * in a room, across instances) and the broker (events between instances) sit behind interfaces,
 * in memory for one instance and in Redis for several.
 */
export class Hub implements DeliverySink {
  private server: Server<unknown> | null = null
  private readonly rooms = new Map<number, RoomState>()
  /** Every open session, by id. */
  private readonly sessions = new Map<string, Session>()
  /** Open sockets per user on this instance, all rooms together. */
  private readonly userSockets = new Map<string, number>()
  private broker: Broker | null = null
  /** Rooms that were sent messages since the last look for slow consumers. */
  private readonly touched = new Set<number>()
  private checkScheduled = false
  /** Set once every socket was told to close: a socket that opens later is closed the same way. */
  private closing: { code: number; reason: string } | null = null
  /**
   * Users whose last socket in a room closed less than PRESENCE_GRACE_MS ago (key: room and user):
   * still present, so a reconnect within the grace announces neither a leave nor a join.
   */
  private readonly leaving = new Map<string, ReturnType<typeof setTimeout>>()
  /** Sockets whose queue is over the limit: looked at again each second, deliveries or not. */
  private readonly suspects = new Set<Session>()
  private readonly suspectTimer = setInterval(() => {
    const now = performance.now()
    for (const session of this.suspects) this.closeIfSlow(session, now)
  }, SLOW_CONSUMER_GRACE_MS)

  constructor(
    private readonly presence: Presence,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Unsent bytes past which a socket is closed with 1013 (Bun would otherwise drop sends to it). */
    private readonly slowConsumerBytes: number,
    /** How long a user stays present after their last socket in a room closed. */
    private readonly presenceGraceMs: number,
  ) {
    this.suspectTimer.unref()
  }

  /** Open sockets of a user on this instance. */
  socketsOfUser(userId: string): number {
    return this.userSockets.get(userId) ?? 0
  }

  /** Open sockets of a room on this instance. */
  socketsInRoom(roomId: number): number {
    return this.rooms.get(roomId)?.sessions.size ?? 0
  }

  /** Gives the hub the listening server, whose publish reaches every subscriber. */
  attach(server: Server<unknown>): void {
    this.server = server
  }

  /** Connects the broker that carries this hub's events (it delivers back into the hub). */
  connect(broker: Broker): void {
    this.broker = broker
  }

  /**
   * Adds a socket to its room. The user's first socket here joins presence; if they were nowhere
   * in the room before, the others hear `chat.user.join`. Resolves once the room's events flow here.
   */
  enter(session: Session): Promise<void> {
    let room = this.rooms.get(session.roomId)
    if (!room) {
      room = { sessions: new Set(), replaying: new Set(), users: new Map() }
      this.rooms.set(session.roomId, room)
      this.metrics.activeRooms.inc()
    }
    room.sessions.add(session)
    this.sessions.set(session.id, session)
    this.metrics.openSockets.inc()
    if (this.closing) this.close(session, this.closing.code, this.closing.reason)
    const { userId, nickname, profileUrl } = session.identity
    this.userSockets.set(userId, this.socketsOfUser(userId) + 1)
    const sockets = (room.users.get(userId) ?? 0) + 1
    room.users.set(userId, sockets)
    if (sockets === 1) {
      // Back within the grace: still present, so the join below announces nothing.
      const key = leavingKey(session.roomId, userId)
      clearTimeout(this.leaving.get(key))
      this.leaving.delete(key)
      // Presence announces the join itself, to everyone in the room but this socket.
      this.presence.join(session.roomId, { userId, nickname, profileUrl }, session.id).catch((err) => this.logger.error('presence join failed', { room: session.roomId, user: userId, err }))
    }
    // Every socket waits for the same watch: a replay must not start before the room's events flow here.
    return this.broker ? this.broker.watch(session.roomId) : Promise.resolve()
  }

  /** Removes a closed socket; the user's last socket here leaves presence (and maybe the room). */
  exit(session: Session): void {
    const room = this.rooms.get(session.roomId)
    if (!room || !room.sessions.delete(session)) return
    this.sessions.delete(session.id)
    room.replaying.delete(session)
    this.suspects.delete(session)
    this.metrics.openSockets.dec()
    const { userId, nickname } = session.identity
    const total = this.socketsOfUser(userId) - 1
    if (total > 0) this.userSockets.set(userId, total)
    else this.userSockets.delete(userId)
    const sockets = (room.users.get(userId) ?? 1) - 1
    if (sockets > 0) room.users.set(userId, sockets)
    else {
      room.users.delete(userId)
      // Shutting down: presence itself lets go of this instance's users as it closes.
      if (!this.closing) this.leaveAfterGrace(session.roomId, userId, nickname)
    }
    if (room.sessions.size === 0) {
      this.rooms.delete(session.roomId)
      this.metrics.activeRooms.dec()
      this.broker?.unwatch(session.roomId)
    }
  }

  /** The user's last socket here left the room: they leave presence once the grace has passed. */
  private leaveAfterGrace(roomId: number, userId: string, nickname: string) {
    if (this.presenceGraceMs === 0) return this.leave(roomId, userId, nickname)
    const timer = setTimeout(() => this.leave(roomId, userId, nickname), this.presenceGraceMs)
    timer.unref()
    this.leaving.set(leavingKey(roomId, userId), timer)
  }

  /** The user's last socket here left the room (and the grace passed): leave presence, maybe announce. */
  private leave(roomId: number, userId: string, nickname: string) {
    this.leaving.delete(leavingKey(roomId, userId))
    this.presence.leave(roomId, userId).catch((err) => this.logger.error('presence leave failed', { room: roomId, user: userId, err }))
  }

  /** Closes every socket (on shutdown: 1001, so clients reconnect with since=) and stops the hub's timers. */
  closeAll(code: number, reason: string): void {
    this.closing = { code, reason }
    clearInterval(this.suspectTimer)
    // Presence forgets this instance's users as it closes; pending leaves need not run.
    for (const timer of this.leaving.values()) clearTimeout(timer)
    this.leaving.clear()
    for (const room of this.rooms.values()) for (const session of room.sessions) this.close(session, code, reason)
  }

  /**
   * Closes a socket from the server's side. Bun's close() sends the close frame after whatever is
   * queued and then cannot be undone or hurried: a peer that does not read would keep the
   * connection, and its queue, for as long as it likes. So the socket first stops getting room
   * events; once its queue has drained it gets the close frame, and if it has not drained within
   * CLOSE_GRACE_MS it is cut (the peer sees the connection end without a close frame) and its
   * queue released.
   */
  close(session: Session, code: number, reason: string): void {
    if (session.closing) return
    session.closing = true
    session.socket.unsubscribe(roomTopic(session.roomId))
    this.rooms.get(session.roomId)?.replaying.delete(session)
    this.finishClose(session, code, reason, performance.now())
  }

  private finishClose(session: Session, code: number, reason: string, since: number) {
    const socket = session.socket
    if (socket.readyState !== 1) return
    const queued = socket.getBufferedAmount()
    if (queued === 0) return socket.close(code, reason)
    if (performance.now() - since < CLOSE_GRACE_MS) {
      setTimeout(() => this.finishClose(session, code, reason, since), CLOSE_POLL_MS).unref()
      return
    }
    this.metrics.socketsTerminated.inc()
    this.metrics.terminatedQueuedBytes.inc(queued)
    this.logger.info('cutting a socket that did not read its queue before closing', { room: session.roomId, user: session.identity.userId, code, queued })
    socket.terminate()
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

  deliverMessage(row: MessageRow): void {
    const room = this.rooms.get(row.roomId)
    if (!room) return
    this.send(room, row.roomId, encodeMessageFrame(row), row.id)
    this.metrics.messagesDelivered.inc(room.sessions.size)
    this.touched.add(row.roomId)
    if (!this.checkScheduled) {
      this.checkScheduled = true
      queueMicrotask(() => this.closeSlowConsumers())
    }
  }

  /**
   * Bun queues what a socket cannot take yet and, past its backpressure limit, drops further sends
   * without a word. Rather than let a reader fall silently behind, a socket whose queue stays over
   * SLOW_CONSUMER_BYTES for a second, or ever passes 8 times that, is closed with 1013: it
   * reconnects with since= and misses nothing. A fast reader's queue may pass the limit for a
   * moment after a burst; it drains in well under the grace. Looked at once per batch of
   * deliveries, for the rooms that got messages, so nothing is added per message.
   */
  closeSlowConsumers(): void {
    this.checkScheduled = false
    const now = performance.now()
    for (const roomId of this.touched) {
      const room = this.rooms.get(roomId)
      if (room) for (const session of room.sessions) this.closeIfSlow(session, now)
    }
    this.touched.clear()
  }

  /** Closes one socket if its unsent queue has been over the limit too long, or is far over it. */
  closeIfSlow(session: Session, now = performance.now()): void {
    if (session.closing || session.socket.readyState !== 1) return void this.suspects.delete(session)
    const queued = session.socket.getBufferedAmount()
    if (queued <= this.slowConsumerBytes) {
      session.slowSince = 0
      this.suspects.delete(session)
      return
    }
    if (session.slowSince === 0) session.slowSince = now
    this.suspects.add(session)
    if (now - session.slowSince < SLOW_CONSUMER_GRACE_MS && queued <= SLOW_CONSUMER_HARD_FACTOR * this.slowConsumerBytes) return
    this.suspects.delete(session)
    this.metrics.socketsClosed.labels('slow_consumer').inc()
    this.logger.info('closing a socket that cannot keep up', { room: session.roomId, user: session.identity.userId, queued })
    this.close(session, CloseCode.tryAgainLater, 'too slow to keep up; reconnect with since')
  }

  deliverEvent(roomId: number, frame: string, except?: string): void {
    const room = this.rooms.get(roomId)
    if (room) this.send(room, roomId, frame, null, except)
  }

  /** Sends one encoded frame to every socket of the room, and to the backlog of those replaying. */
  private send(room: RoomState, roomId: number, frame: string, messageId: number | null, except?: string) {
    // ws.publish reaches the topic's subscribers but the socket itself.
    const skipped = except === undefined ? undefined : this.sessions.get(except)
    if (skipped && skipped.roomId === roomId && skipped.socket.readyState === 1) skipped.socket.publish(roomTopic(roomId), frame)
    else this.server?.publish(roomTopic(roomId), frame)
    for (const session of room.replaying) if (session.id !== except) session.backlog?.push({ id: messageId, frame })
  }
}
