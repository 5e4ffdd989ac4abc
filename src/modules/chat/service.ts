import type { Config } from '../../config.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker, RoomWatches } from '../../realtime/broker.ts'
import type { Closer } from '../../realtime/closing.ts'
import { AppError, moderated, roomClosed } from '../../errors.ts'
import { CloseCode, encodeErrorFrame, encodeMessageFrame, encodeResetFrame, isChatErrorCode, parseClientFrame, type AttachmentLinks, type ChatErrorCode } from '../../realtime/codec.ts'
import type { MessageChange } from '../../store/messages.ts'
import { typingEvent } from '../../realtime/events.ts'
import type { Hub } from '../../realtime/hub.ts'
import type { PresenceTracker } from '../../realtime/presence-tracker.ts'
import type { RateLimiter } from '../../realtime/rate-limits.ts'
import type { Replays } from '../../realtime/replay.ts'
import { sessionId, type Session } from '../../realtime/session.ts'
import { storageProblemOf, storageProblemText } from '../../store/storage-problem.ts'
import { NotAMemberError, RoomClosedError, SanctionedError, SlowModeError, UnstorableTextError, type RoomRow } from '../../store/store.ts'
import type { MessageService, Outgoing } from '../messages/service.ts'
import type { ReadService } from '../reads/service.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { Handshake } from './handshake.ts'

export interface ChatServiceDeps {
  config: Config
  hub: Hub
  broker: Broker
  watches: RoomWatches
  presence: PresenceTracker
  replays: Replays
  messages: MessageService
  access: RoomAccess
  reads: ReadService
  limiter: RateLimiter
  closer: Closer
  metrics: Metrics
  logger: Logger
  /** Signs attachments' URLs (the answer to a repeated send). */
  links: AttachmentLinks
}

/**
 * What a chat socket does, from open to close: it joins the room's live events (replaying what it
 * missed first, with since=) and presence; each frame it sends is checked, limited and turned into
 * an event for the room; when it closes, it leaves. The WebSocket route (index.ts) only adapts
 * Bun's and Elysia's callbacks to these calls.
 */
export class ChatService {
  private readonly receivedOverWs
  /** Sockets in open rooms that have not sent yet: their first message puts the room in the user's inbox. */
  private readonly yetToSend = new WeakSet<Session>()

  constructor(private readonly deps: ChatServiceDeps) {
    this.receivedOverWs = deps.metrics.messagesReceived.labels('ws')
  }

  /** A socket opened after `handshake` admitted it. */
  open(session: Session, { since, epoch, reset, room, membersOnly }: Handshake): void {
    const { hub, watches, presence, replays, closer, metrics, logger } = this.deps
    // Another epoch: the client's ids mean nothing here; it hears so before anything live.
    if (reset) session.socket.send(encodeResetFrame(epoch))
    hub.add(session)
    if (room.kind === 'open') this.yetToSend.add(session)
    presence.enter(session)
    // Opened after shutdown began: closed like every other socket.
    if (hub.closeIfShutDown(session)) return
    // With since=, live frames wait from now; the replay starts once the room's events flow to this
    // instance, so none can fall between the two. A members-only room's frames wait too, until its
    // membership is checked again: nothing of the room reaches a socket removed meanwhile.
    if (since !== null) replays.begin(session)
    else if (membersOnly) hub.hold(session)
    else hub.subscribe(session)
    watches
      .hold(session.roomId)
      .then(
        async () => {
          if (membersOnly && !(await this.stillAdmitted(session, room, true))) return
          if (since !== null)
            await replays.run(
              session,
              since,
              epoch,
              (s) => this.refuse(s, 'store_failed', 'could not replay missed messages; fetch them over REST'),
              (s) => this.stillAdmitted(s, room, false),
            )
          else if (membersOnly) hub.release(session)
        },
        (err: unknown) => {
          // The room's events cannot reach this instance (the broker is away): say so and let the
          // client come back with since= rather than sit on a socket that hears nothing.
          metrics.watchFailures.inc()
          logger.warn('live delivery for a room could not be set up; closing the socket', { room: session.roomId, user: session.identity.userId, err })
          closer.close(session, CloseCode.tryAgainLater, 'live delivery unavailable; reconnect with since')
        },
      )
      .catch((err: unknown) => logger.error('opening a socket failed', { room: session.roomId, user: session.identity.userId, err }))
  }

  /**
   * Whether the user may still use the room (`RoomAccess.standing`): asked once the room's events
   * reach a members-only room's socket (a removal, ban or block between the handshake and then came
   * before any event could tell it; `blocks`: the direct room's blocks are read too), and by a
   * replay after its read, before it sends. Closes the socket (4403 `removed` or `banned`) if not;
   * false then.
   */
  private async stillAdmitted(session: Session, room: RoomRow, blocks: boolean): Promise<boolean> {
    const { access, closer, logger } = this.deps
    try {
      const [standing, blocked] = await Promise.all([access.standing(room, session.identity.userId), blocks ? access.blocked(room) : null])
      if (blocked !== null) session.blocked = blocked
      if (standing === 'ok') return true
      closer.close(session, CloseCode.removed, standing)
    } catch (err) {
      logger.warn('checking whether a socket may still use its room failed; closing it', { room: room.id, user: session.identity.userId, err })
      closer.close(session, CloseCode.tryAgainLater, 'membership could not be checked; reconnect with since')
    }
    return false
  }

  /** One text or binary frame, as Bun hands it over. */
  rawFrame(session: Session, raw: string | Buffer): void {
    // Closing (removed, shutting down, too slow): until the connection is cut it handles nothing.
    if (session.closing) return
    if (typeof raw !== 'string') return this.refuse(session, 'binary_not_supported', 'binary frames are not supported; send JSON text')
    let data: unknown
    try {
      data = JSON.parse(raw)
    } catch {
      return this.refuse(session, 'invalid_json', 'frame is not valid JSON')
    }
    this.frame(session, data)
  }

  /** One frame, parsed as JSON. */
  frame(session: Session, data: unknown): void {
    if (session.closing) return
    const { config, limiter, messages, closer, metrics, logger, access } = this.deps
    const parsed = parseClientFrame(data, config.MAX_MESSAGE_LENGTH)
    if (!parsed.ok) return this.refuse(session, parsed.code, parsed.message)
    const frame = parsed.frame
    if (frame.type !== 'chat.typing') {
      // A marker is a write too: it counts against the same allowance as messages.
      const verdict = limiter.socketMessage(session.identity.userId, session)
      if (verdict === 'flooding') {
        metrics.socketsClosed.labels('flooding').inc()
        logger.info('closing a socket that keeps flooding', { room: session.roomId, user: session.identity.userId })
        return closer.close(session, CloseCode.policy, 'sending too fast, repeatedly')
      }
      if (verdict === 'limited') {
        return this.refuse(session, 'rate_limited', `slow down: at most ${config.RATE_LIMIT_PER_SECOND} messages a second (bursts of ${config.RATE_LIMIT_BURST}); this one was not stored`)
      }
      if (frame.type === 'chat.read') return void this.read(session, frame.last_read_id)
      if (session.blocked) return this.refuse(session, 'blocked', 'one of the two people in this direct room has blocked the other; nothing was stored')
      if (!messages.live) return this.refuse(session, 'unavailable', 'live delivery is down for a moment; nothing was stored, send it again shortly')
      if (frame.type === 'chat.edit') return void this.change(session, frame.id, { type: 'edit', body: frame.message })
      if (frame.type === 'chat.delete') return void this.change(session, frame.id, { type: 'unsend' })
      if (frame.type === 'chat.react') return void this.change(session, frame.id, { type: 'react', emoji: frame.emoji, add: frame.add })
      this.receivedOverWs.inc()
      return void this.send(session, { text: frame.message, clientMsgId: frame.client_msg_id ?? null, replyTo: frame.reply_to ?? null, attachments: frame.attachments ?? [] })
    }
    if (session.blocked) return
    const now = Date.now()
    // A muted user reads; what they type is not announced either.
    if (now < session.mutedUntil) return
    if (now - session.lastTypingAt < config.TYPING_INTERVAL_MS) return
    session.lastTypingAt = now
    if (access.knownOpen(session.roomId)) return this.typing(session)
    void this.typingIfMember(session)
  }

  private typing(session: Session) {
    this.deps.broker.publish(typingEvent(session.roomId, session.identity.userId, session.identity.nickname, sessionId(session)))
  }

  /**
   * A typing notice in a members-only room: a removal may not have reached this instance yet, so
   * the frame checks membership again (a socket no longer a member closes, 4403 `removed`). Never rejects.
   */
  private async typingIfMember(session: Session) {
    const { access, logger } = this.deps
    try {
      const room = await access.room(session.roomId)
      if (room.kind === 'open' || (await access.isMember(room.id, session.identity.userId))) return this.typing(session)
      this.removed(session)
    } catch (err) {
      logger.warn('checking membership for a typing notice failed; not relayed', { room: session.roomId, user: session.identity.userId, err })
    }
  }

  /** The socket's user is no longer a member (found by a write the store refused): it closes as a removal would. */
  private removed(session: Session) {
    this.deps.closer.close(session, CloseCode.removed, 'removed')
  }

  /** The socket closed (whoever closed it). */
  close(session: Session, code: number): void {
    const { hub, watches, presence, logger } = this.deps
    const removed = hub.remove(session)
    // After the hub forgot it: presence asks the hub whether the user has another socket in the room.
    presence.exit(session)
    if (removed) watches.release(session.roomId)
    logger.debug('socket closed', { room: session.roomId, user: session.identity.userId, code })
  }

  /** Stores a message; everyone gets it from the room's event, a repeat only its sender. */
  private async send(session: Session, outgoing: Outgoing) {
    try {
      const { messages } = this.deps
      const quote = outgoing.replyTo === null ? null : await messages.quote(session.roomId, outgoing.replyTo)
      const { message, duplicate } = await messages.record(session.identity, session.roomId, { ...outgoing, replyTo: quote })
      session.mutedUntil = 0
      if (duplicate) session.socket.send(encodeMessageFrame(message, this.deps.links))
      if (this.yetToSend.delete(session)) messages.tookPart(session.identity.userId, session.roomId)
    } catch (err) {
      this.failed(session, err, 'storing a message failed', 'the message could not be stored; send it again')
    }
  }

  /** Edits, unsends or reacts; everyone gets it from the room's event (nothing when it changed nothing). */
  private async change(session: Session, messageId: number, change: MessageChange) {
    try {
      await this.deps.messages.applyChange(session.identity.userId, false, session.roomId, messageId, change)
    } catch (err) {
      this.failed(session, err, 'changing a message failed', 'the change could not be stored; send it again')
    }
  }

  /** Why a write from the socket failed, told to it (a removal closes it instead). */
  private failed(session: Session, err: unknown, logAs: string, tell: string) {
    if (err instanceof NotAMemberError) return this.removed(session)
    if (err instanceof RoomClosedError) return this.refuse(session, err.code, roomClosed(err).message)
    // Banned meanwhile (its eviction may not have reached this instance yet): closed as the ban closes it.
    if (err instanceof SanctionedError && err.code === 'banned') return this.deps.closer.close(session, CloseCode.removed, 'banned')
    if (err instanceof SanctionedError) session.mutedUntil = err.until ?? Number.POSITIVE_INFINITY
    if (err instanceof SanctionedError || err instanceof SlowModeError) {
      const problem = moderated(err, Date.now())
      const retryAfter = problem.headers?.['retry-after']
      return this.refuse(session, err.code, problem.message, retryAfter === undefined ? undefined : Number(retryAfter))
    }
    // The rules of changes and replies (message_not_found, not_author, …): as REST answers them.
    if (err instanceof AppError && isChatErrorCode(err.code)) return this.refuse(session, err.code, err.message)
    // Text the store cannot keep as sent will not store on a second try either.
    if (err instanceof UnstorableTextError) return this.refuse(session, 'message_invalid', err.message)
    const problem = storageProblemOf(err)
    if (problem) return this.refuse(session, problem, storageProblemText[problem])
    this.deps.logger.error(logAs, { room: session.roomId, user: session.identity.userId, err })
    this.refuse(session, 'store_failed', tell)
  }

  /** Moves the socket's user's read marker (membership is checked again where it commits). */
  private async read(session: Session, lastReadId: number) {
    try {
      await this.deps.reads.move(session.roomId, session.identity.userId, lastReadId)
    } catch (err) {
      if (err instanceof NotAMemberError) return this.removed(session)
      const problem = storageProblemOf(err)
      if (problem) return this.refuse(session, problem, storageProblemText[problem])
      this.deps.logger.error('moving a read marker failed', { room: session.roomId, user: session.identity.userId, err })
      this.refuse(session, 'store_failed', 'the read marker could not be stored; send it again')
    }
  }

  /** Tells the client a frame was not taken; the connection stays open. */
  private refuse(session: Session, code: ChatErrorCode, message: string, retryAfterSeconds?: number) {
    this.deps.metrics.chatErrors.labels(code).inc()
    session.socket.send(encodeErrorFrame(code, message, retryAfterSeconds))
  }
}
