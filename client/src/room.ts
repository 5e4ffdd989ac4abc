import { Emitter } from './emitter.ts'
import { ChatApiError, ChatSendError } from './errors.ts'
import type { Transport } from './http.ts'
import { MessageStore, messageOfFrame } from './messages.ts'
import { Outbox, type OutboxStorage, type PendingMessage } from './outbox.ts'
import { Presence } from './presence.ts'
import { ReadMarkers } from './reads.ts'
import { Resume } from './resume.ts'
import type { ChatApi } from './rest.ts'
import { messageFrame, newId, pendingOfSend, sendRefusal, type SendInput } from './sends.ts'
import { ReconnectingSocket, type ConnectionState, type ReconnectOptions, type StopInfo } from './socket.ts'
import { SendUploads, type FileProgress } from './uploads.ts'
import type {
  ChatErrorCode,
  ChatErrorFrame,
  ContactKind,
  MemberFrame,
  Message,
  MessageFrame,
  ModerationStanding,
  OnlineUser,
  PresenceFrame,
  ReadFrame,
  RecoveredFrame,
  RoomDetail,
  RoomServerFrame,
  RoomSummary,
  RoomUpdatedFrame,
  TypingFrame,
} from './types.ts'

/** How a room connection starts and behaves. */
export interface RoomOptions {
  /**
   * The newest message id the app already shows (from room detail or history; 0 for an empty
   * room): the first connection replays what came after it, so nothing falls between the app's
   * fetch and the socket. Without it the connection starts live, and keeps its place from its
   * first message on.
   */
  since?: number
  /** The storage epoch `since` belongs to (room detail's `epoch`), so a replaced database is noticed. */
  epoch?: string
  /**
   * The room version the app's messages are current to (room detail's `version`): the first
   * connection replays every change after it (`since_version=`: new messages, edits, unsends,
   * reactions), and each reconnect asks after the highest version applied. Without it, changes are
   * followed from the connection's first frame on.
   */
  version?: number
  /**
   * The room detail the app shows: `since`, `epoch` and `version` taken from it (unless given), its
   * messages held (so that their changes apply) and its members' read markers (`unreadBy`).
   */
  detail?: RoomDetail
  /**
   * Keeps pending sends so they survive a page reload (`localStorage` will do), under the user's
   * own key: the connection asks the server who the user is (`api.me()`) before it reads or writes
   * anything there, so users who share a browser never send each other's messages.
   */
  storage?: OutboxStorage
  /**
   * The storage key, used as given (default `gateway-chat:outbox:<user id>:<room id>`, the user id
   * URI-encoded and learned from the server). Include the user's id in it: pending sends under a
   * key go out as whoever the auth hook then says.
   */
  storageKey?: string
  /** Keeps `online` and the members' read markers (`unreadBy`) current: one room detail fetched after each connect, once its replay is over (default true). */
  presence?: boolean
  /** Least time between two typing notices (the server's TYPING_INTERVAL_MS, 2000 by default). */
  typingIntervalMs?: number
  /** Longest message in characters (the server's MAX_MESSAGE_LENGTH, 2000 by default). */
  maxMessageLength?: number
}

/** A `chat.notice`: the message it is about, and what the contact guard found in it. */
export interface Notice {
  messageId: number
  kinds: readonly ContactKind[]
}

/** The events of a room connection and their payloads. */
export interface RoomEvents {
  state: ConnectionState
  /** A new message, once, in id order (replayed ones after a reconnect included). */
  message: Message
  /** A held message changed (edited, unsent, reacted to, or the message it quotes was): its latest form. */
  change: Message
  /** Members' read markers moved, or the members were read: `unreadBy()` may answer otherwise. */
  reads: ReadonlyMap<string, number>
  /**
   * A replay after a reconnect is over. `since`: the newest message delivered before it, which
   * the replay follows; `truncated`: more came after `since` than the server replays, so what
   * lies between `since` and the first replayed message is to be paged with `history({ before })`.
   */
  recovered: RecoveredFrame & { since: number | null }
  /** The server's database was replaced: ids start over. Reload the room, then `resumeFrom()`. */
  reset: { epoch: string }
  /** Who is online changed (`online` holds the same map). */
  presence: ReadonlyMap<string, OnlineUser>
  /** `chat.user.join` and `chat.user.leave`, once per user (not per tab). */
  join: PresenceFrame
  leave: PresenceFrame
  typing: TypingFrame
  read: ReadFrame
  member: MemberFrame
  /**
   * The room's name, data or status changed (`name`, `data` and `status` hold it now): once per
   * change, in the room's order; also when the room detail read after a connect shows a change
   * missed meanwhile (the frame then carries that detail).
   */
  roomUpdated: RoomUpdatedFrame
  /**
   * A message just heard shares contact details or an outside payment (the server's contact guard):
   * show a warning under it. Never for this user's own messages; `noticeOf(id)` answers it later.
   */
  notice: Notice
  /** This user's standing changed (`moderation` holds it): from room detail, or a send, edit or reaction refused `muted`. */
  moderation: ModerationStanding
  /** When this user's next message may go changed (`slowModeUntil` holds it: ms since the epoch, 0 for now): count it down. */
  slowMode: number
  /** A message the server refused for good (the promise of `send()` rejects with the same error). */
  failed: { pending: PendingMessage; error: ChatSendError }
  /** The messages waiting for the server changed (`pending` holds the same list). */
  pending: readonly PendingMessage[]
  /** A file of a pending message is uploading: how far it is (at its start and end, and between where the platform tells). */
  upload: FileProgress
  /** Something went wrong that the connection works around: a refused frame, a failed fetch. */
  error: Error
  /** The connection ended for good (removed, refused, unauthorized, policy): it will not reconnect. */
  stopped: StopInfo
  /** Every frame as it came, for what the events above do not cover. */
  frame: RoomServerFrame
}

/**
 * Codes that refuse the message itself: sending it again cannot help (only sends go over the
 * socket, so a reply's and an attachment's are its own; a repeat of a send claims its uploads again).
 */
const REFUSED = new Set<ChatErrorCode>([
  'message_empty',
  'message_too_long',
  'message_invalid',
  'blocked',
  'invalid_field',
  'message_not_found',
  'reply_to_other_room',
  'upload_not_found',
  'upload_expired',
  'upload_already_attached',
  'room_archived',
  'peer_left',
  'muted',
  'banned',
  'filtered',
])

/** What an archived room answers a write. */
const ARCHIVED = 'the room is archived: it can be read, not written'

/** The room as its summary has it: what `chat.room.updated` changes. */
type RoomInfo = Pick<RoomSummary, 'name' | 'data' | 'status' | 'slow_mode_seconds'>

/** Pending `chat.read` markers are coalesced for this long. */
const READ_DELAY_MS = 300

/**
 * A chat room over WebSocket that survives reconnects: no message missed or shown twice (`since=`
 * and `epoch=` from the last message seen), every change of a held message applied once
 * (`since_version=` from the highest version applied), sends that complete exactly once,
 * presence, typing, and who has read what.
 */
export class RoomConnection extends Emitter<RoomEvents> {
  /** Who is online now; rebuilt on every connect and kept by joins and leaves. */
  readonly online: ReadonlyMap<string, OnlineUser>
  /** The messages held (delivered, or given with `detail` or `hold()`), by id, each in its latest form. */
  readonly messages: ReadonlyMap<number, Message>
  private readonly store: MessageStore
  private readonly reads = new ReadMarkers()
  private readonly resume: Resume
  private readonly socket: ReconnectingSocket
  private readonly outbox: Outbox
  private readonly presence: Presence | null
  private readonly uploads: SendUploads
  private info: RoomInfo = { name: '', data: null, status: 'active', slow_mode_seconds: 0 }
  private standing: ModerationStanding = { moderator: false, muted: false, muted_until: null }
  /** When the next message may go (slow mode), ms since the epoch. */
  private wait = 0
  /** The contact guard's notices heard, by message id. */
  private readonly notices = new Map<number, readonly ContactKind[]>()
  /** The room version `info` is current to (-1: not read yet). */
  private infoVersion = -1
  /** The `client_msg_id` on the wire, waiting for its echo: one at a time, so a refusal names it. */
  private inFlight: string | null = null
  private sendRetries = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private typingSentAt = 0
  private readWanted = 0
  private readTimer: ReturnType<typeof setTimeout> | undefined
  /** The outbox's storage key is known and its entries read (or there is no storage). */
  private storageOpen: boolean
  /** Learning the key and reading the storage: sends wait, so the stored ones go first. */
  private openingStorage = false

  constructor(
    readonly roomId: number,
    transport: Transport,
    private readonly api: ChatApi,
    private readonly options: RoomOptions & { reconnect?: ReconnectOptions } = {},
  ) {
    super()
    const { detail } = options
    this.store = new MessageStore(options.version ?? detail?.version ?? null)
    this.messages = this.store.messages
    this.resume = new Resume(options.since ?? (detail ? (detail.chat_messages.at(-1)?.id ?? 0) : null), options.epoch ?? detail?.epoch ?? null, this.store)
    if (detail) {
      this.hold(detail.chat_messages)
      this.learn(detail)
    }
    this.outbox = new Outbox(
      options.storage,
      (error) => this.emit('error', error),
      () => this.emit('pending', this.outbox.pending),
    )
    this.storageOpen = !options.storage
    this.uploads = new SendUploads(
      (source, options) => api.upload(source, options),
      (progress) => this.emit('upload', progress),
    )
    this.presence =
      options.presence === false
        ? null
        : new Presence(() =>
            api.room(roomId).then((room) => {
              this.learn(room)
              return room.online_users
            }),
          )
    this.online = this.presence?.online ?? new Map()
    this.socket = new ReconnectingSocket(
      transport,
      {
        target: () => ({ path: `/ws/chat/${roomId}/chat/`, query: this.resume.query() }),
        probePath: `/chat/v1/room/${roomId}/messages/?limit=1`,
        opened: () => this.opened(),
        frame: (frame) => this.frame(frame as RoomServerFrame),
        dropped: (code) => this.dropped(code),
        state: (state) => this.emit('state', state),
        stopped: (info) => this.stopped(info),
        error: (error) => this.emit('error', error),
      },
      options.reconnect,
    )
    // The storage first, as a page load would have it: sends restored from it go before new ones.
    void this.openStorage().then(() => this.socket.state === 'closed' || this.socket.start())
  }

  get state(): ConnectionState {
    return this.socket.state
  }

  /** The highest room version applied: the next reconnect replays the changes after it. */
  get version(): number | null {
    return this.store.version
  }

  /** The room's name ("" until `detail` or the room detail read after a connect says it). */
  get name(): string {
    return this.info.name
  }

  /** What the app's backend keeps on the room (the post's title, price, thumbnail, status), or null. */
  get data(): Record<string, unknown> | null {
    return this.info.data
  }

  /** `archived`: read, never written (its post was sold or removed): sends, edits, unsends and reactions reject with `room_archived`. */
  get status(): RoomInfo['status'] {
    return this.info.status
  }

  /** Slow mode: each user may send one message per this many seconds (0: off; moderators and a private room's owner are not held to it). */
  get slowModeSeconds(): number {
    return this.info.slow_mode_seconds ?? 0
  }

  /**
   * When this user's next message may go under slow mode (ms since the epoch; 0 or past: now),
   * from the last message they sent here or a send the server refused `slow_mode`. Sends made
   * meanwhile wait in `pending` and go out then (the `slowMode` event says when it moves).
   */
  get slowModeUntil(): number {
    return this.wait
  }

  /**
   * This user's standing in the room: `moderator` (may mute, ban, unsend anyone's message and set
   * slow mode), `muted` and `muted_until` (ISO 8601, null: until unmuted), from room detail and
   * from writes refused `muted`; a mute whose end has passed reads as not muted.
   */
  get moderation(): ModerationStanding {
    const s = this.standing
    return s.muted_until && Date.parse(s.muted_until) <= Date.now() ? { ...s, muted: false, muted_until: null } : s
  }

  /** What the contact guard found in a message (heard live, since this connection began), or undefined. */
  noticeOf(messageId: number): readonly ContactKind[] | undefined {
    return this.notices.get(messageId)
  }

  /** Messages handed to `send()` (or restored from storage) that the server has not stored yet. */
  get pending(): readonly PendingMessage[] {
    return this.outbox.pending
  }

  /**
   * Sends a message (a text, or `{ text, replyTo, files }`); resolves with it as stored (its `id`,
   * `created_at`, `attachments`) once the server echoes it, after any number of reconnects. Its
   * files are uploaded first (the `upload` event follows them), and messages go out in the order
   * given. Rejects with `ChatSendError` if the server refuses it (`room_archived` at once in an
   * archived room; `peer_left` in a direct room the other member left; `muted`, `filtered`) or one
   * of its files (`upload_failed`). Slow mode does not refuse it: it waits until `slowModeUntil`.
   * `clientMsgId` (1–64 characters; a fresh UUID by default) names it to the server, which stores
   * it once whatever the retries, and in `pending`.
   */
  send(input: string | SendInput, options: { clientMsgId?: string } = {}): Promise<Message> {
    const send: SendInput = typeof input === 'string' ? { text: input, ...options } : { ...options, ...input }
    const clientMsgId = send.clientMsgId ?? newId()
    const refusal =
      this.socket.state === 'closed'
        ? new ChatSendError('stopped', 'the connection has ended')
        : this.status === 'archived'
          ? new ChatSendError('room_archived', ARCHIVED)
          : sendRefusal({ ...send, clientMsgId }, this.outbox.pending, this.options.maxMessageLength ?? 2000)
    if (refusal) return Promise.reject(refusal)
    const sent = this.outbox.add(pendingOfSend(send, clientMsgId))
    if (send.files?.length) {
      this.uploads.run(clientMsgId, send.files).then(
        (uploads) => {
          this.outbox.uploaded(clientMsgId, uploads)
          this.pump()
        },
        (error: ChatSendError) => this.refuse(clientMsgId, error),
      )
    }
    this.pump()
    return sent
  }

  // Changes go over REST rather than the socket: a socket's `chat.error` names no frame, so a
  // refusal could not be told from a send's or another change's, and a change that changes
  // nothing (a reaction given twice) is not echoed, so nothing would say it is done. Each REST
  // call is answered for itself; the room's frames then bring the change to every client.

  /**
   * Edits one of this user's messages; resolves with it as edited (applied here at once, `change`
   * follows). Rejects with `ChatApiError`: `not_author`, `edit_window_closed`, `deleted`,
   * `message_not_found`, `room_archived` (at once when the room is known to be archived), ….
   */
  async edit(messageId: number, text: string): Promise<Message> {
    const message = await this.write(() => this.api.editMessage(this.roomId, messageId, { message: text }))
    this.latest(message)
    return message
  }

  /**
   * Unsends a message for everyone (its author within the unsend window, or the room's owner); the
   * room's `chat.message.deleted` brings `change`. Rejects with `ChatApiError` (`unsend_window_closed`, `not_author`, …).
   */
  unsend(messageId: number): Promise<void> {
    return this.write(() => this.api.unsendMessage(this.roomId, messageId))
  }

  /** Adds this user's reaction (one emoji), or takes it back (`add: false`); the room's `chat.reaction` brings `change`. */
  react(messageId: number, emoji: string, add = true): Promise<void> {
    return this.write(() => this.api.react(this.roomId, messageId, emoji, add))
  }

  /** A change over REST, refused here as the server would refuse it (409 `room_archived`) when the room is archived; a refusal `muted` is noted. */
  private write<T>(call: () => Promise<T>): Promise<T> {
    return this.status === 'archived'
      ? Promise.reject(new ChatApiError({ type: 'about:blank', title: 'Conflict', status: 409, detail: ARCHIVED, code: 'room_archived' }))
      : call().catch((error: ChatApiError) => {
          if (error.code === 'muted') this.muted(error.retryAfter)
          throw error
        })
  }

  /**
   * Takes a room detail (read by the app, or by the connection after each connect): the members'
   * read markers, the room's name, data, status and slow mode (unless a newer change is held), and
   * this user's standing; the `reads`, `roomUpdated` and `moderation` events say what changed.
   */
  learn(room: RoomDetail): void {
    if (this.reads.learn(room)) this.emit('reads', this.reads.markers)
    if (this.learnRoom(room, room.version)) this.emit('roomUpdated', { type: 'chat.room.updated', room, version: room.version })
    if (room.moderation) this.stand(room.moderation)
  }

  /**
   * Holds messages the app read itself (history pages): their later changes are applied, and
   * announced with `change`. A message held in a newer form is kept as it is.
   */
  hold(messages: readonly Message[]): void {
    for (const m of messages) this.store.put(m)
  }

  /**
   * How many members other than its sender have not read `message` (the "1" beside it), from
   * room detail's read markers and the `chat.read` frames since; null in open rooms, and until
   * the members are known (`detail`, or the room detail read after each connect).
   */
  unreadBy(message: Pick<Message, 'id' | 'user_id'>): number | null {
    return this.reads.unreadBy(message)
  }

  /** Tells the others this user is typing; at most once per interval (the server drops the rest). */
  typing(): boolean {
    const now = Date.now()
    if (now - this.typingSentAt < (this.options.typingIntervalMs ?? 2000)) return false
    if (!this.socket.send({ type: 'chat.typing' })) return false
    this.typingSentAt = now
    return true
  }

  /** Moves this user's read marker to `messageId` (forward only; sent shortly, once for a burst). */
  markRead(messageId: number): void {
    if (messageId <= this.readWanted) return
    this.readWanted = messageId
    this.readTimer ??= setTimeout(() => {
      this.readTimer = undefined
      this.socket.send({ type: 'chat.read', last_read_id: this.readWanted })
    }, READ_DELAY_MS)
  }

  /**
   * After a `reset` (or to skip ahead), the newest message the app now shows, its epoch and the
   * room version (room detail's): later messages only are delivered, and reconnects resume after it.
   */
  resumeFrom(messageId: number, epoch?: string, version?: number): void {
    this.resume.position = messageId
    if (epoch !== undefined) this.resume.epoch = epoch
    if (version !== undefined) this.store.reached(version)
  }

  /** Ends the connection. Pending sends reject with `closed`; with a storage they are sent next time. */
  close(): void {
    this.socket.close()
    this.halt()
    this.outbox.rejectAll(new ChatSendError('closed', 'the connection was closed before the server took the message'), true)
  }

  private opened(): void {
    this.inFlight = null
    this.sendRetries = 0
    clearTimeout(this.retryTimer)
    void this.openStorage()
    // With a replay, who is online is read once it is over: the room's events reach the server's
    // instance by then, so no join falls between the list and the live frames.
    if (!this.resume.replaying) this.refreshPresence()
    if (this.readWanted > 0) this.socket.send({ type: 'chat.read', last_read_id: this.readWanted })
    // After a replay, messages stored before the drop have been echoed and need no second send.
    if (!this.resume.replaying) this.pump()
  }

  private dropped(code: number): void {
    this.resume.dropped()
    // A frame over the server's size limit closes the socket (1009): that message can never go.
    if (code === 1009 && this.inFlight) this.refuse(this.inFlight, new ChatSendError('message_too_long', 'the message is larger than the server takes'))
    this.inFlight = null
    clearTimeout(this.retryTimer)
  }

  private stopped(info: StopInfo): void {
    this.halt()
    // A room that removed, banned or refused the user will not take these later either.
    const keep = info.reason === 'policy' || info.reason === 'unauthorized'
    this.outbox.rejectAll(new ChatSendError(info.reason === 'banned' ? 'banned' : 'stopped', `the connection ended: ${info.message}`), keep)
    this.emit('stopped', info)
  }

  /**
   * Finds the outbox's storage key (the user id from the server, unless the app gave a key) and
   * reads it, once; sends wait meanwhile. A failure is reported and tried again at the next open,
   * the sends kept in memory: nothing is read under a key that might be another user's. Never rejects.
   */
  private openStorage(): Promise<void> {
    if (this.storageOpen || this.openingStorage) return Promise.resolve()
    this.openingStorage = true
    const { storageKey } = this.options
    // Bounded like a handshake: a path that swallows the question would hold the sends for good.
    const me = () => within(this.api.me(), this.options.reconnect?.handshakeTimeoutMs ?? 10_000, 'who the user is')
    const key = storageKey === undefined ? me().then(({ user_id }) => `gateway-chat:outbox:${encodeURIComponent(user_id)}:${this.roomId}`) : Promise.resolve(storageKey)
    return key
      .then((key) => (this.socket.state === 'closed' ? undefined : this.outbox.open(key).then(() => void (this.storageOpen = true))))
      .finally(() => {
        this.openingStorage = false
        this.pump()
      })
      .catch((error: unknown) => this.emit('error', error instanceof Error ? error : new Error(String(error))))
  }

  private halt(): void {
    this.uploads.stop()
    clearTimeout(this.retryTimer)
    clearTimeout(this.readTimer)
    this.readTimer = undefined
  }

  /** Puts the oldest pending message on the wire, unless one is waiting for its echo (or its files). */
  private pump(): void {
    const head = this.outbox.head
    if (!head || this.inFlight !== null || this.resume.replaying || this.openingStorage) return
    // Slow mode: the server would refuse it before then.
    const wait = this.wait - Date.now()
    if (wait > 0) {
      clearTimeout(this.retryTimer)
      this.retryTimer = setTimeout(() => this.pump(), wait)
      return
    }
    const frame = messageFrame(head)
    if (frame && this.socket.send(frame)) this.inFlight = head.client_msg_id
  }

  private frame(frame: RoomServerFrame): void {
    this.emit('frame', frame)
    switch (frame.type) {
      case 'chat.message':
        return this.received(frame)
      case 'chat.message.updated':
      case 'chat.message.deleted':
      case 'chat.reaction':
        return this.changed(this.store.apply(frame))
      case 'chat.recovered':
        return this.recovered(frame)
      case 'chat.user.join':
      case 'chat.user.leave':
        this.presence?.apply(frame, (changed) => this.emit('presence', changed))
        return this.emit(frame.type === 'chat.user.join' ? 'join' : 'leave', frame)
      case 'chat.typing':
        return this.emit('typing', frame)
      case 'chat.read':
        if (this.reads.read(frame.user_id, frame.last_read_id)) this.emit('reads', this.reads.markers)
        return this.emit('read', frame)
      case 'chat.member.added':
      case 'chat.member.removed':
        this.reads.member(frame)
        this.emit('reads', this.reads.markers)
        return this.emit('member', frame)
      case 'chat.room.updated':
        this.store.reached(frame.version)
        // A change already read (with room detail, or heard before a replay that repeats it) moves nothing back.
        if (this.learnRoom(frame.room as RoomInfo, frame.version)) this.emit('roomUpdated', frame)
        return
      case 'chat.error':
        return this.refused(frame)
      case 'chat.notice': {
        const kinds = frame.kinds as ContactKind[]
        this.notices.set(frame.message_id, kinds)
        return this.emit('notice', { messageId: frame.message_id, kinds })
      }
      default: {
        // A frame type this client does not know fails the type check here; at run time it is ignored.
        const unknown: never = frame
        return void unknown
      }
    }
  }

  private received(frame: MessageFrame): void {
    const message = messageOfFrame(frame)
    if (this.outbox.acknowledge(message)) {
      // Slow mode counts from this user's last message (moderators and a private room's owner are not held to it).
      if (this.slowModeSeconds && !this.standing.moderator) this.waitUntil(Date.now() + this.slowModeSeconds * 1000)
      if (message.client_msg_id === this.inFlight) {
        this.inFlight = null
        this.sendRetries = 0
        this.pump()
      }
    }
    this.store.reached(message.version)
    // Sending moves the sender's marker to the message, and the room hears no `chat.read` of it.
    if (message.user_id !== null && this.reads.read(message.user_id, message.id)) this.emit('reads', this.reads.markers)
    // Held already: heard again, or (a replay) in a newer form.
    if (this.messages.has(message.id)) return this.latest(message)
    for (const m of this.resume.arrived(message)) this.deliver(m)
  }

  private deliver(message: Message): void {
    this.store.put(message)
    this.resume.position = message.id
    this.emit('message', message)
  }

  /** A message's form read over REST or heard again: applied if it is held and newer. */
  private latest(message: Message): void {
    if (this.messages.has(message.id)) this.changed(this.store.put(message) ?? [])
  }

  private changed(messages: readonly Message[]): void {
    for (const m of messages) this.emit('change', m)
  }

  /** The room as it was at `version`, taken if newer than what is held; true if its name, data, status or slow mode changed. */
  private learnRoom({ name, data, status, slow_mode_seconds }: RoomInfo, version: number): boolean {
    if (version <= this.infoVersion) return false
    const before = JSON.stringify(this.info)
    this.info = { name, data, status, slow_mode_seconds }
    this.infoVersion = version
    // Slow mode turned off: nothing to wait for.
    if (!slow_mode_seconds && this.wait) this.waitUntil(0)
    return JSON.stringify(this.info) !== before
  }

  private stand(standing: ModerationStanding): void {
    if (JSON.stringify(standing) === JSON.stringify(this.standing)) return
    this.standing = standing
    this.emit('moderation', this.moderation)
  }

  /** A write refused `muted`: muted for `seconds` more (the server's retry_after), or until unmuted. */
  private muted(seconds?: number): void {
    this.stand({ ...this.standing, muted: true, muted_until: seconds ? new Date(Date.now() + seconds * 1000).toISOString() : null })
  }

  private waitUntil(time: number): void {
    this.wait = time
    this.emit('slowMode', time)
    this.pump()
  }

  private refreshPresence(): void {
    this.presence?.refresh(
      (changed) => this.emit('presence', changed),
      (error) => this.emit('error', error),
    )
  }

  private recovered(frame: RecoveredFrame): void {
    const replayed = this.resume.recovered(frame)
    // A replaced database numbers its versions afresh: the room's next change or read is taken.
    if (frame.reset) this.infoVersion = -1
    this.refreshPresence()
    if (frame.reset) this.emit('reset', { epoch: frame.epoch })
    for (const m of replayed) this.deliver(m)
    this.emit('recovered', { ...frame, since: this.resume.from })
    this.pump()
  }

  private refused(frame: ChatErrorFrame): void {
    // A replay that failed leaves a gap behind the live frames: connect again and replay again.
    if (this.resume.replaying && frame.code === 'store_failed') return this.socket.reconnect('replay failed')
    const inFlight = this.inFlight
    if (frame.code === 'muted') this.muted(frame.retry_after)
    if (inFlight && REFUSED.has(frame.code)) return this.refuse(inFlight, new ChatSendError(frame.code, frame.message))
    // Sooner than slow mode allows: the same message once the wait is over.
    if (frame.code === 'slow_mode' && inFlight) {
      this.inFlight = null
      return this.waitUntil(Date.now() + (frame.retry_after ?? 1) * 1000)
    }
    this.emit('error', new Error(`the server refused a frame (${frame.code}): ${frame.message}`))
    // rate_limited, store_failed, unavailable: the same message again, later (it is stored once).
    if (inFlight) {
      clearTimeout(this.retryTimer)
      const delay = Math.min(10_000, 500 * 2 ** this.sendRetries++) * (0.5 + Math.random() / 2)
      this.retryTimer = setTimeout(() => {
        if (this.inFlight !== inFlight) return
        this.inFlight = null
        this.pump()
      }, delay)
    }
  }

  private refuse(clientMsgId: string, error: ChatSendError): void {
    const pending = this.outbox.pending.find((p) => p.client_msg_id === clientMsgId)
    this.outbox.reject(clientMsgId, error)
    if (clientMsgId === this.inFlight) this.inFlight = null
    if (pending) this.emit('failed', { pending, error })
    this.pump()
  }
}

/** `promise`, or a rejection once it has taken `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not say ${what} within ${ms} ms`)), ms)
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })
}
