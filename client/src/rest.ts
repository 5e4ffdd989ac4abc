import type { Transport } from './http.ts'
import { upload, type Upload, type UploadOptions, type UploadSource } from './uploads.ts'
import type {
  AdminPageQuery,
  Block,
  ChangesPage,
  ChangesQuery,
  CreateRoomInput,
  DeadLetter,
  DirectRoomInput,
  EditMessageInput,
  HistoryQuery,
  InboxPage,
  InboxQuery,
  Me,
  Member,
  Message,
  MessageRevision,
  PostEventInput,
  PostEventResult,
  QueuedReport,
  ReadMarker,
  Report,
  ReportInput,
  ReportQuery,
  RoomDetail,
  RoomSummary,
  RoomsQuery,
  Sanction,
  SendMessageInput,
  Unread,
  UpdateRoomInput,
} from './types.ts'

const V1 = '/chat/v1'
const user = (userId: string) => encodeURIComponent(userId)
/** A room's mutes or bans, or one user's. */
const sanctions = (roomId: number, kind: 'mutes' | 'bans', userId?: string) => `${V1}/room/${roomId}/${kind}/${userId === undefined ? '' : `${user(userId)}/`}`

/**
 * The REST API, one method per operation of the OpenAPI document (`GET /docs/json`) but the
 * backend's moderation service calls (moderators, word filters, the audit log, deciding a report).
 * Each asks the auth hook for credentials (and once more after a 401) and throws `ChatApiError` on
 * a refusal.
 */
export class ChatApi {
  constructor(private readonly http: Transport) {}

  /** Who the gateway says the caller is: their user id, nickname, e-mail and picture. */
  me(): Promise<Me> {
    return this.http.call('GET', `${V1}/me/`)
  }

  /**
   * Open rooms and, with identity, the caller's private and direct rooms: newest first (`before`
   * pages on), or oldest first above `after`; `post_id`: only the rooms about that post.
   */
  rooms(query: RoomsQuery = {}): Promise<RoomSummary[]> {
    return this.http.call('GET', `${V1}/rooms/`, { query })
  }

  /** Creates a room; an open room with an existing `post_id` answers that room instead. */
  createRoom(body: CreateRoomInput): Promise<RoomDetail> {
    return this.http.call('POST', `${V1}/create-room/`, { body })
  }

  /** The caller's direct room with `user_id` about `post_id`, made if it does not exist. */
  directRoom(body: DirectRoomInput): Promise<RoomDetail> {
    return this.http.call('POST', `${V1}/direct-room/`, { body })
  }

  /** Room detail: online users, the newest 50 messages, members, and the storage epoch. */
  room(roomId: number): Promise<RoomDetail> {
    return this.http.call('GET', `${V1}/room/${roomId}/`)
  }

  /**
   * Changes a room: service calls set `data` (the post's title, price, thumbnail, status) and
   * `status` (`archived`: read-only), the owner of a private room renames it, and they, the room's
   * moderators and the owner set `slow_mode_seconds`. Answers the room detail.
   */
  updateRoom(roomId: number, body: UpdateRoomInput): Promise<RoomDetail> {
    return this.http.call('PATCH', `${V1}/room/${roomId}/`, { body })
  }

  /**
   * Service call: one system message into every room about a post ("거래가 완료되었어요"), with
   * `status: 'archived'` archiving them first. Answers the rooms it reached.
   */
  postEvent(postId: number, body: PostEventInput): Promise<PostEventResult> {
    return this.http.call('POST', `${V1}/posts/${postId}/messages/`, { body })
  }

  /** Messages ascending: the newest `limit`, or the newest below `before`, or the oldest above `after`. */
  history(roomId: number, query: HistoryQuery = {}): Promise<Message[]> {
    return this.http.call('GET', `${V1}/room/${roomId}/messages/`, { query })
  }

  /** Sends over REST (a room socket's `send()` also survives reconnects); a repeated `client_msg_id` answers the stored message. */
  sendMessage(body: SendMessageInput): Promise<Message> {
    return this.http.call('POST', `${V1}/message/`, { body })
  }

  /**
   * Uploads a photo or file (`POST /chat/v1/uploads/`, the raw bytes) for a message to carry
   * (`sendMessage({ attachments: [id] })`, or `room.send({ files })`, which uploads for itself).
   * Retries a network failure or a 5xx twice; throws `ChatApiError` on a refusal: 413 too large,
   * 415 `unsupported_type`, 429 over the day's quota (`retryAfter`), 422.
   */
  upload(file: UploadSource, options?: UploadOptions): Promise<Upload> {
    return upload(this.http, file, options)
  }

  /** Edits the caller's own message (within the server's edit window); answers it as edited. */
  editMessage(roomId: number, messageId: number, body: EditMessageInput): Promise<Message> {
    return this.http.call('PATCH', `${V1}/room/${roomId}/messages/${messageId}/`, { body })
  }

  /** Unsends a message for everyone: its author (within the unsend window) or the room's owner. */
  unsendMessage(roomId: number, messageId: number): Promise<void> {
    return this.http.call('DELETE', `${V1}/room/${roomId}/messages/${messageId}/`)
  }

  /** Adds the caller's reaction (one emoji) to a message, or takes it back (`add: false`); idempotent. */
  react(roomId: number, messageId: number, emoji: string, add = true): Promise<void> {
    return this.http.call(add ? 'PUT' : 'DELETE', `${V1}/room/${roomId}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}/`)
  }

  /** The latest form of each message changed after `after_version`, and the room's version to ask after next. */
  changes(roomId: number, query: ChangesQuery = {}): Promise<ChangesPage> {
    return this.http.call('GET', `${V1}/room/${roomId}/changes/`, { query })
  }

  /** The owner and members of a private or direct room. */
  members(roomId: number): Promise<Member[]> {
    return this.http.call('GET', `${V1}/room/${roomId}/members/`)
  }

  /** Adds a member (the owner or a service call). */
  addMember(roomId: number, userId: string): Promise<Member> {
    return this.http.call('POST', `${V1}/room/${roomId}/members/`, { body: { user_id: userId } })
  }

  /** Removes a member; a member removing themself leaves the room. */
  removeMember(roomId: number, userId: string): Promise<void> {
    return this.http.call('DELETE', `${V1}/room/${roomId}/members/${user(userId)}/`)
  }

  /** The users the caller has blocked, oldest first. */
  blocks(): Promise<Block[]> {
    return this.http.call('GET', `${V1}/blocks/`)
  }

  /** Blocks a user (idempotent). */
  block(userId: string): Promise<void> {
    return this.http.call('PUT', `${V1}/blocks/${user(userId)}/`)
  }

  /** Unblocks a user (idempotent). */
  unblock(userId: string): Promise<void> {
    return this.http.call('DELETE', `${V1}/blocks/${user(userId)}/`)
  }

  /** Moves the caller's read marker forward (never back, never past the newest message). */
  markRead(roomId: number, lastReadId: number): Promise<ReadMarker> {
    return this.http.call('POST', `${V1}/room/${roomId}/read/`, { body: { last_read_id: lastReadId } })
  }

  /** The badge: unread messages and rooms with any. */
  unread(): Promise<Unread> {
    return this.http.call('GET', `${V1}/unread/`)
  }

  /** A page of the caller's rooms, latest activity first; pass `next_cursor` back as `cursor` (and `post_id` again). `post_id`: only the rooms about that post. */
  inbox(query: InboxQuery = {}): Promise<InboxPage> {
    return this.http.call('GET', `${V1}/inbox/`, { query })
  }

  /**
   * Hides a room from the caller's inbox, badge and user stream until a newer message arrives in
   * it (나가기); `leave: true` in a direct room also leaves it (the other member is told, and no one
   * can send there any more: `peer_left`). Throws `ChatApiError`: `not_in_inbox`, `not_a_direct_room`, ….
   */
  hideRoom(roomId: number, query: { leave?: boolean } = {}): Promise<void> {
    return this.http.call('DELETE', `${V1}/inbox/${roomId}/`, { query })
  }

  /** Reports a message or a user. */
  report(body: ReportInput): Promise<Report> {
    return this.http.call('POST', `${V1}/report/`, { body })
  }

  /** Service call: the report queue, oldest first (`status: 'open'`: those still to handle), each with its message and the 10 on each side. */
  reports(query: ReportQuery = {}): Promise<QueuedReport[]> {
    return this.http.call('GET', `${V1}/admin/reports/`, { query })
  }

  // Moderation: by the room's moderators (named by the app's backend), a private room's owner, or
  // a service call; anyone else is refused 403 `not_moderator`.

  /**
   * Mutes a user in a room, until `until` (a Date or ISO 8601, in the future) or until unmuted: they
   * read, but their sends, edits and reactions there are refused `muted`. A later mute replaces it.
   */
  mute(roomId: number, userId: string, until?: Date | string): Promise<void> {
    return this.http.call('PUT', sanctions(roomId, 'mutes', userId), { body: { until: until instanceof Date ? until.toISOString() : until } })
  }

  /** Lifts a mute (404 `not_muted` when there was none). */
  unmute(roomId: number, userId: string): Promise<void> {
    return this.http.call('DELETE', sanctions(roomId, 'mutes', userId))
  }

  /**
   * Bans a user from a room: their place there ends, their sockets close (4403 `banned`), and they
   * cannot come back until unbanned (409 `owner` for a private room's owner).
   */
  ban(roomId: number, userId: string): Promise<void> {
    return this.http.call('PUT', sanctions(roomId, 'bans', userId))
  }

  /** Lifts a ban (404 `not_banned` when there was none); a private room's owner must add them again. */
  unban(roomId: number, userId: string): Promise<void> {
    return this.http.call('DELETE', sanctions(roomId, 'bans', userId))
  }

  /** The room's mutes in force, oldest first. */
  mutes(roomId: number): Promise<Sanction[]> {
    return this.http.call('GET', sanctions(roomId, 'mutes'))
  }

  /** The room's bans, oldest first. */
  bans(roomId: number): Promise<Sanction[]> {
    return this.http.call('GET', sanctions(roomId, 'bans'))
  }

  /** Slow mode: each user may send one message per `seconds` (0–86400; 0 turns it off). Answers the room detail. */
  setSlowMode(roomId: number, seconds: number): Promise<RoomDetail> {
    return this.updateRoom(roomId, { slow_mode_seconds: seconds })
  }

  /** Service call: every text a message had (as sent, each edit, when unsent), oldest first. */
  messageHistory(messageId: number): Promise<MessageRevision[]> {
    return this.http.call('GET', `${V1}/admin/messages/${messageId}/history/`)
  }

  /** Service call: webhook events given up on. */
  deadWebhooks(query: AdminPageQuery = {}): Promise<DeadLetter[]> {
    return this.http.call('GET', `${V1}/admin/webhooks/dead/`, { query })
  }
}
