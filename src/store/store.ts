import type { RoomRow } from '../db/schema.ts'

export type { RoomRow }

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
}

/** A message ready to store: every column but what the database assigns. */
export type NewMessage = Omit<MessageRow, 'id' | 'seq'>

/** A page of rooms: ascending id, starting after `after`. */
export interface RoomPage {
  limit: number
  after?: number
}

/** A page of messages; at most one of `before` / `after`. */
export interface MessagePage {
  limit: number
  before?: number
  after?: number
}

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
}

/** Called synchronously with each committed batch of new messages, in ascending id order. */
export type CommitListener = (messages: readonly MessageRow[]) => void

/** Durable storage of rooms and messages. */
export interface Store {
  createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }>
  listRooms(page: RoomPage): Promise<RoomRow[]>
  getRoom(id: number): Promise<RoomRow | undefined>
  /** The room of a post, if there is one. */
  roomByPostId(postId: number): Promise<RoomRow | undefined>
  listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]>
  /** Newest `limit` messages of the room with id > `sinceId`, ascending. */
  recover(roomId: number, sinceId: number, limit: number): Promise<Recovery>
  /** Stores a message; resolves once it is committed. Commit listeners run before the promise settles. */
  appendMessage(message: NewMessage): Promise<AppendResult>
  onCommit(listener: CommitListener): void
  /** Throws when storage cannot be reached. */
  check(): Promise<void>
  /** Commits what is pending, then closes. */
  close(): Promise<void>
}

/** True for errors that mean the database cannot be reached right now (not that the request was bad). */
export function isStorageOutage(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : ''
  return /^ERR_POSTGRES_CONNECTION|^ERR_POSTGRES_.*TIMEOUT|^ECONNREFUSED$|^ECONNRESET$|^SQLITE_(BUSY|IOERR|CANTOPEN|READONLY|FULL)/.test(code)
}
