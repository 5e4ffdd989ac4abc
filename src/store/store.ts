import type { InstanceRow, ListedRoom, RoomRow } from '../db/schema.ts'
import type { Membership } from './membership.ts'
import type { SqlModeration } from './moderation.ts'
import type { ChangeRequest, ChangeResult } from './messages.ts'
import type { Outbox } from './outbox.ts'
import type { StoredAttachment, Uploads } from './uploads.ts'
import type { RoomPatch, RoomSummaryData, RoomUpdateEvent, UpdatedRoom } from './room-updates.ts'

export type { RoomRow }

/** The message a reply answers, as replies show it (read with the reply: an unsend shows at once). */
export interface ReplyQuote {
  id: number
  userId: string
  nickname: string
  body: string
  deleted: boolean
}

/** One emoji's reactions to a message: how many, and the first few who reacted (in order). */
export interface ReactionSum {
  emoji: string
  count: number
  userIds: string[]
}

/** A stored message, whichever store holds it. */
export interface MessageRow {
  id: number
  roomId: number
  userId: string
  email: string
  nickname: string
  profileUrl: string | null
  body: string
  clientMsgId: string | null
  createdAt: number
  /**
   * Its position in the room, 1, 2, 3… with no gaps, where the store keeps one (Postgres, written
   * by several instances): a receiver that sees seq n knows every earlier one is committed.
   */
  seq?: number
  /** The room's version its latest change made (its creation, an edit, an unsend, a reaction). */
  version: number
  /** The room's version its creation made. */
  createdVersion: number
  /** When its author last edited it (ms), or null. */
  editedAt: number | null
  /** Unsent: `body` is empty and `reactions` none. */
  deleted: boolean
  /** The message it answers, or null. */
  replyTo: ReplyQuote | null
  reactions: ReactionSum[]
  /** Its files and photos (none once unsent). */
  attachments: StoredAttachment[]
  /** A system message: the app's backend speaking in the room (`userId`, `email` and `nickname` are ''). */
  system: boolean
  /** A system message that does not count as unread. */
  silent: boolean
  /** A system message's data, or null. */
  data: Record<string, unknown> | null
}

/** Why a text was flagged before it was stored: the contact guard found contacts of these kinds, or a word filter matched. */
export type FlagReason = { source: 'contact_guard'; kinds: string[] } | { source: 'word_filter'; pattern: string; action: 'mask' | 'flag' }

/**
 * What moderation made of a text before it was stored (see modules/moderation): the text as the
 * user wrote it when a filter or the guard masked it (kept in message_history for service calls),
 * and why it was flagged (a `message.flagged` webhook in the write's transaction). Absent: nothing to keep or tell.
 */
export interface Screened {
  original: string | null
  reasons: FlagReason[]
}

/** A message ready to store: every column but what the database assigns (its id, position and versions) or what a change sets later. */
export type NewMessage = Omit<MessageRow, 'id' | 'seq' | 'version' | 'createdVersion' | 'editedAt' | 'deleted' | 'reactions' | 'replyTo' | 'attachments' | 'system' | 'silent' | 'data'> & {
  /** A system message (sent by a service call; see `MessageRow.system`), silent or not, with its data. */
  system?: { silent: boolean; data: Record<string, unknown> | null }
  /** The message of the same room it answers (checked by the sender's service), if any. */
  replyTo?: ReplyQuote | null
  /** Its files and photos, claimed beforehand under `claim` (see store/uploads.ts): the append links them to it. */
  attachments?: StoredAttachment[]
  claim?: string | null
  /** What moderation made of its text, when it masked or flagged it. */
  screened?: Screened
  /**
   * Sent by the app's backend (a service call), which may send as anyone: its sender is not
   * checked against the members of a private or direct room, and gets no place there by sending.
   */
  viaService?: boolean
}

export type { ListedRoom }

/**
 * A page of rooms (open rooms, and those `userId` is a member of): newest first below `before`
 * (from the newest when absent), or with `after`, oldest first above it.
 */
export interface RoomPage {
  limit: number
  before?: number
  after?: number
  userId?: string | null
  /** Only the rooms about this post. */
  postId?: number
}

/** One text a message had: as sent, as edited, as it was when unsent. `by`: who (null: the app's backend). */
export interface MessageHistoryEntry {
  body: string
  at: number
  action: 'created' | 'edited' | 'deleted'
  by: string | null
}

/** A page of messages; at most one of `before` / `after`. */
export interface MessagePage {
  limit: number
  before?: number
  after?: number
}

/** A message as its append stored it: at position `seq`, made at `version`, neither edited nor reacted to yet. */
export function createdRow(m: NewMessage, id: number, seq: number, version: number): MessageRow {
  return {
    id,
    roomId: m.roomId,
    userId: m.userId,
    email: m.email,
    nickname: m.nickname,
    profileUrl: m.profileUrl,
    body: m.body,
    clientMsgId: m.clientMsgId,
    createdAt: m.createdAt,
    seq,
    version,
    createdVersion: version,
    editedAt: null,
    deleted: false,
    replyTo: m.replyTo ?? null,
    reactions: [],
    attachments: m.attachments ?? [],
    system: m.system !== undefined,
    silent: m.system?.silent ?? false,
    data: m.system?.data ?? null,
  }
}

/** A message's system columns as the stores write them. */
export const systemColumns = (m: NewMessage) => ({ system: m.system ? 1 : 0, silent: m.system?.silent ? 1 : 0, data: m.system?.data ? JSON.stringify(m.system.data) : null })

/** What storing one message produced. */
export interface AppendResult {
  message: MessageRow
  /** True when `(room, user, client_msg_id)` was already stored: `message` is the earlier one. */
  duplicate: boolean
}

/** Newest messages after a point, for a reconnecting socket. */
export interface Recovery {
  messages: MessageRow[]
  /** True when more than the limit were missed; the oldest ones were left out (page them with `before`). */
  truncated: boolean
  /**
   * The room's version read after the messages: so that a replay that found nothing new still
   * knows what was committed (and may still be on its way live).
   */
  version: number
}

/** What changed in a room after a version: the latest form of each message changed, in version order. */
export interface Changes {
  messages: MessageRow[]
  /** The room's own latest change after the version (its summary as it left it), or null. */
  room: RoomUpdateEvent | null
  /** More changed than the limit: the oldest changes were left out (reload the room). */
  truncated: boolean
  /** Every change up to this version is in `messages` (or was at or before the version asked from): ask from it next. */
  version: number
}

export type { InstanceRow }

/**
 * A room's changes in a range of versions: the messages whose latest change is in it or that were
 * created in it (in their latest form, whatever its version), the members removed, and the room's
 * version when they were read (every change a version of the range was superseded by is at or below it).
 */
export interface RoomChanges {
  messages: MessageRow[]
  /** Members removed and users banned (`banned`), each at the version it made. */
  evictions: { version: number; userId: string; banned: boolean }[]
  /** Changes of the room itself (name, data, status), each with the summary it made. */
  updates: RoomUpdateEvent[]
  version: number
}

/**
 * A room's changes by version (each room's version grows by one with every stored change, in the
 * change's transaction). What ordering them across instances needs.
 */
export interface SequencedStore {
  changesBetween(roomId: number, from: number, to: number): Promise<RoomChanges>
  lastVersion(roomId: number): Promise<number>
}

/** Durable storage of rooms and messages. */
export interface Store {
  createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }>
  listRooms(page: RoomPage): Promise<ListedRoom[]>
  getRoom(id: number): Promise<RoomRow | undefined>
  /** The open room of a post, if there is one. */
  roomByPostId(postId: number): Promise<RoomRow | undefined>
  /** Members, blocks and profiles, on the same database. */
  readonly membership: Membership
  /** The webhook outbox and reports, on the same database. */
  readonly outbox: Outbox
  /** Moderators, mutes and bans, word filters, the audit log and the report queue, on the same database. */
  readonly moderation: SqlModeration
  /** Uploaded files and photos, on the same database (their bytes are in the file storage). */
  readonly uploads: Uploads
  listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]>
  /** The messages with these ids (any order; unknown ids are left out). */
  messagesByIds(ids: readonly number[]): Promise<MessageRow[]>
  /** Newest `limit` messages of the room with id > `sinceId`, ascending. */
  recover(roomId: number, sinceId: number, limit: number): Promise<Recovery>
  /** The latest form of each message changed after `afterVersion` (the newest `limit` changes), in version order. */
  changesAfter(roomId: number, afterVersion: number, limit: number): Promise<Changes>
  /** The room's version (0 before its first change). */
  lastVersion(roomId: number): Promise<number>
  /** Changes rooms' name, data or status (see store/room-updates.ts); the rooms changed, each with its new version and summary. */
  updateRooms(roomIds: readonly number[], patch: RoomPatch, by: string | null, summarize: (room: RoomRow) => RoomSummaryData): Promise<UpdatedRoom[]>
  /** The ids of the rooms about a post (every kind), ascending. */
  roomIdsOfPost(postId: number): Promise<number[]>
  /** Hides a room from the user's inbox and badge until a newer message (see store/room-updates.ts). */
  hideRoom(roomId: number, userId: string): Promise<'absent' | { through: number }>
  /** The user leaves a direct room: no more messages there (see store/room-updates.ts). */
  leaveDirectRoom(roomId: number, userId: string, at: number): Promise<'absent' | 'already' | 'left'>
  /** Edits, unsends or reacts (see store/messages.ts): resolves once committed; refusals throw ChangeRefused, NotAMemberError or RoomClosedError. */
  changeMessage(request: ChangeRequest): Promise<ChangeResult>
  /** The texts a message had, oldest first (empty for one never changed). */
  messageHistory(messageId: number): Promise<MessageHistoryEntry[]>
  /** Forgets the texts of messages last changed before `before`; how many were forgotten. */
  purgeHistory(before: number): Promise<number>
  /** Stores a message; resolves once it is committed (appends committed together resolve in commit order). */
  appendMessage(message: NewMessage): Promise<AppendResult>
  /**
   * The storage epoch: drawn when the database was created, kept for its life. Message ids and
   * `since=` values are only comparable within one epoch (a new or replaced database starts over).
   */
  epoch(): Promise<string>
  /**
   * Draws a new epoch, for a database put back from a backup: its ids may repeat ids that clients
   * saw after the backup was taken. Run with the servers stopped (they read the epoch once).
   */
  renewEpoch(): Promise<string>
  /** Writes this server's row in `instances` (at start, then every few seconds: its heartbeat). */
  heartbeat(instance: InstanceRow): Promise<void>
  /** The servers whose heartbeat was written at or after `since` (ms), oldest start first. */
  instancesSeenSince(since: number): Promise<InstanceRow[]>
  /** Deletes a server's row: it stopped. */
  forgetInstance(id: string): Promise<void>
  /** Throws when storage cannot be reached. */
  check(): Promise<void>
  /** Commits what is pending, then closes. */
  close(): Promise<void>
}

/**
 * Thrown for text no store keeps as given: a NUL character (Postgres `text` cannot hold it) or a
 * lone UTF-16 surrogate (both databases would keep U+FFFD instead). `field` names where it was,
 * as the contract names a message's fields (`message`, `user_id`, `client_msg_id`…) or `name`.
 */
export class UnstorableTextError extends Error {
  readonly code = 'unstorable_text'

  constructor(readonly field: string) {
    super(`${field} has a NUL character or a lone surrogate, which cannot be stored`)
    this.name = 'UnstorableTextError'
  }
}

/**
 * Thrown for a write to a room that takes none now, checked in the write's own transaction:
 * `room_archived` (its post was sold or removed: read, never written; system messages still go
 * in), `peer_left` (a direct room one of the two left).
 */
export class RoomClosedError extends Error {
  constructor(
    readonly code: 'room_archived' | 'peer_left',
    readonly roomId: number,
  ) {
    super(code === 'room_archived' ? `room ${roomId} is archived` : `the other member left direct room ${roomId}`)
    this.name = 'RoomClosedError'
  }
}

/** Why a room takes no write from users now, from its status and whether someone left it (a direct room), or null. */
export function closedRoom(roomId: number, status: RoomRow['status'], left: boolean): RoomClosedError | null {
  if (status === 'archived') return new RoomClosedError('room_archived', roomId)
  return left ? new RoomClosedError('peer_left', roomId) : null
}

/**
 * Thrown for a user's write to a room where they are muted (`muted`: they read but do not write,
 * until `until`, or until unmuted when null) or banned (`banned`): checked in the write's own
 * transaction, under the room's lock, so a mute answered before a send commits wins.
 */
export class SanctionedError extends Error {
  constructor(
    readonly code: 'muted' | 'banned',
    readonly roomId: number,
    readonly userId: string,
    readonly until: number | null,
  ) {
    super(`${userId} is ${code} in room ${roomId}`)
    this.name = 'SanctionedError'
  }
}

/** Thrown for a message sent sooner than the room's slow mode allows after the sender's last one; `retryAfterMs` until the next may go. */
export class SlowModeError extends Error {
  readonly code = 'slow_mode'

  constructor(
    readonly roomId: number,
    readonly retryAfterMs: number,
  ) {
    super(`room ${roomId} is in slow mode; next message in ${retryAfterMs} ms`)
    this.name = 'SlowModeError'
  }
}

/**
 * Thrown for a write that only a member may make (a message, a read marker) to a private or direct
 * room whose members, at the write's commit, do not include its user: checked in the write's own
 * transaction, so a removal answered before the write commits always wins.
 */
export class NotAMemberError extends Error {
  readonly code = 'not_a_member'

  constructor(
    readonly roomId: number,
    readonly userId: string,
  ) {
    super(`${userId} is not a member of room ${roomId}`)
    this.name = 'NotAMemberError'
  }
}

const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed()

/** Why a message cannot be stored, checked before it joins a batch (so it fails alone), or null. */
export function unstorableText(m: NewMessage): UnstorableTextError | null {
  if (!storable(m.body)) return new UnstorableTextError('message')
  if (!storable(m.userId)) return new UnstorableTextError('user_id')
  if (!storable(m.nickname)) return new UnstorableTextError('nickname')
  if (!storable(m.email)) return new UnstorableTextError('email')
  if (m.profileUrl !== null && !storable(m.profileUrl)) return new UnstorableTextError('profile_url')
  if (m.clientMsgId !== null && !storable(m.clientMsgId)) return new UnstorableTextError('client_msg_id')
  return null
}

/** Why an edit's text cannot be stored, or null. */
export function unstorableBody(body: string): UnstorableTextError | null {
  return storable(body) ? null : new UnstorableTextError('message')
}

/** Why a room cannot be stored, or null. */
export function unstorableRoom(room: { name: string }): UnstorableTextError | null {
  return storable(room.name) ? null : new UnstorableTextError('name')
}

/**
 * Driver codes that mean the connection is gone or cannot be made: Bun SQL's own
 * (`ERR_POSTGRES_CONNECTION_CLOSED`, `_FAILED`, `_REFUSED`, `_TIMEOUT`, `ERR_POSTGRES_IDLE_TIMEOUT`,
 * `_LIFETIME_TIMEOUT`), the socket's, and SQLite's busy, I/O, unopenable, read-only and full files.
 */
const OUTAGE_CODE = /^(ERR_POSTGRES_CONNECTION_|ERR_POSTGRES_(IDLE|LIFETIME)_TIMEOUT$|E(CONNREFUSED|CONNRESET|CONNABORTED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN)$|SQLITE_(BUSY|IOERR|CANTOPEN|READONLY|FULL))/

/**
 * SQLSTATEs (Bun SQL's `errno` on `ERR_POSTGRES_SERVER_ERROR`) of a server that is going away or
 * cannot take work now: class 08 (connection exception), 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections, 53100 disk_full and
 * 25006 read_only_sql_transaction (a standby after a failover), like SQLite's FULL and READONLY.
 */
const OUTAGE_SQLSTATE = /^(08...|57P0[123]|53300|53100|25006)$/

/**
 * True for errors that mean the database cannot be reached right now (not that the request was
 * bad). drizzle wraps driver errors (`DrizzleQueryError`, the driver's error on `cause`), so the
 * whole cause chain is looked at.
 */
export function isStorageOutage(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, errno } = e as { code?: unknown; errno?: unknown }
    if (typeof code === 'string' && OUTAGE_CODE.test(code)) return true
    if (typeof errno === 'string' && OUTAGE_SQLSTATE.test(errno)) return true
  }
  return false
}
