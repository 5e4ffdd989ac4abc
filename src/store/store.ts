import type { Membership } from './membership.ts'
import type { SqlModeration } from './moderation.ts'
import type { ChangeRequest, ChangeResult } from './messages.ts'
import type { Outbox } from './outbox.ts'
import type { Uploads } from './uploads.ts'
import type { RoomPatch, RoomSummaryData, RoomUpdateEvent, UpdatedRoom } from './room-updates.ts'
import type { AppendResult, InstanceRow, ListedRoom, MessageRow, NewMessage, RoomRow } from './rows.ts'

// What the stores keep and the errors they refuse writes with, for whoever uses a store.
export * from './rows.ts'

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
