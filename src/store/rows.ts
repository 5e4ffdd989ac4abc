/** What the stores keep (rooms, messages) and the errors they refuse a write with: the leaf every store file builds on. */
import type { InstanceRow, ListedRoom, RoomRow } from '../db/schema.ts'
import type { StoredAttachment } from './uploads.ts'

export type { InstanceRow, ListedRoom, RoomRow }

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
 * in), `peer_left` (a direct room one of the two left), `blocked` (a direct room whose pair has a
 * block between them).
 */
export class RoomClosedError extends Error {
  constructor(
    readonly code: 'room_archived' | 'peer_left' | 'blocked',
    readonly roomId: number,
  ) {
    super(code === 'room_archived' ? `room ${roomId} is archived` : code === 'peer_left' ? `the other member left direct room ${roomId}` : `the pair of direct room ${roomId} blocked each other`)
    this.name = 'RoomClosedError'
  }
}

/** Why a room takes no write from users now, from its status and, for a direct room, `closedDirectRoom` (1 left, 2 blocked), or null. */
export function closedRoom(roomId: number, status: RoomRow['status'], direct: number): RoomClosedError | null {
  if (status === 'archived') return new RoomClosedError('room_archived', roomId)
  if (direct === 1) return new RoomClosedError('peer_left', roomId)
  return direct === 2 ? new RoomClosedError('blocked', roomId) : null
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
