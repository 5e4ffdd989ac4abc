import { and, asc, desc, eq, gt, gte, inArray, lt, lte, ne, or, type Placeholder, sql, type SQL } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import { changeMessage, changeSteps, messageHistory, messageSelection, prepareChanges, purgeHistory, toMessageRow, type ChangeRequest, type ChangeResult } from './messages.ts'
import type { GroupCommit } from './group-commit.ts'
import { instanceRows } from './instances.ts'
import { roomCreatedEvent, writeEvents } from './outbox.ts'
import { first, formsByLength, formsOf, listValues, placeholders, type SqlDatabase } from './sql-database.ts'
import { SqlMembership, toRoomRow } from './sql-membership.ts'
import { roomData } from '../db/schema.ts'
import { SqlOutbox } from './sql-outbox.ts'
import { SqlModeration } from './moderation.ts'
import { WriteHealth } from './storage-problem.ts'
import { hideRoom, latestRoomUpdate, leaveDirectRoom, updateRooms, type RoomPatch, type RoomSummaryData, type UpdatedRoom } from './room-updates.ts'
import { Uploads } from './uploads.ts'
import {
  unstorableBody,
  unstorableRoom,
  unstorableText,
  type AppendResult,
  type Changes,
  type InstanceRow,
  type ListedRoom,
  type MessagePage,
  type MessageRow,
  type NewMessage,
  type Recovery,
  type RoomChanges,
  type RoomPage,
  type RoomRow,
} from './store.ts'

/**
 * Everything both stores do, written once over SqlDatabase: rooms, messages read back, membership,
 * the outbox, the storage epoch and the instances' heartbeats. Each store adds only what is truly
 * its own (sqlite-store.ts, postgres-store.ts): the group-commit batch that appends messages
 * (SQLite's one writer and prepared statements, Postgres's row locks and multi-row inserts),
 * opening, its readiness check and closing.
 */
export abstract class SqlStore {
  /** The last write's verdict, for readiness. */
  readonly writes = new WriteHealth()
  readonly membership: SqlMembership
  readonly outbox: SqlOutbox
  readonly moderation: SqlModeration
  readonly uploads: Uploads
  private storageEpoch: string | undefined
  protected abstract readonly commits: GroupCommit
  /** The reads on the hot paths (history, replays, webhook passes, room checks), prepared once. */
  private readonly reads
  /** The statements of a message's changes, built once. */
  private readonly changes

  constructor(protected readonly database: SqlDatabase) {
    this.outbox = new SqlOutbox(database)
    this.moderation = new SqlModeration(database, this.outbox)
    this.uploads = new Uploads(database)
    this.membership = new SqlMembership(database, this.outbox)
    this.reads = prepareReads(database)
    this.changes = prepareChanges(database)
  }

  async createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }> {
    const refused = unstorableRoom(input)
    if (refused) throw refused
    // Most calls ask for a post's room that exists: answered by a read, with no write transaction.
    const existing = input.postId === null ? undefined : await this.roomByPostId(input.postId)
    if (existing) return { room: existing, created: false }
    const { t } = this.database
    const { outbox } = this
    const created = await this.database.transaction(function* (tx) {
      const room = yield* first(tx.insert(t.rooms).values({ name: input.name, postId: input.postId, createdAt: Date.now() }).onConflictDoNothing().returning())
      if (room) yield* writeEvents(t, outbox, tx, [roomCreatedEvent(room, [])])
      return room
    })
    if (created) return { room: toRoomRow(created), created: true }
    // Another request created the room for this post between the lookup and the insert.
    const raced = input.postId === null ? undefined : await this.roomByPostId(input.postId)
    if (!raced) throw new Error('room insert conflicted but no room has that post_id')
    return { room: raced, created: false }
  }

  async getRoom(id: number): Promise<RoomRow | undefined> {
    const [row] = await this.reads.room.execute({ id })
    return row && toRoomRow(row)
  }

  async roomByPostId(postId: number): Promise<RoomRow | undefined> {
    const [row] = await this.reads.roomOfPost.execute({ postId })
    return row && toRoomRow(row)
  }

  async listRooms(page: RoomPage): Promise<ListedRoom[]> {
    const forward = page.after !== undefined
    const read = this.reads.rooms({ forward, user: Boolean(page.userId), post: page.postId !== undefined })
    const rows = await read.execute({ from: forward ? (page.after ?? 0) : (page.before ?? Number.MAX_SAFE_INTEGER), userId: page.userId, postId: page.postId, limit: page.limit })
    return rows.map((row) => ({ ...row, data: roomData(row.data) }))
  }

  async listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]> {
    const { limit } = page
    if (page.after !== undefined) return (await this.reads.oldestAfter({ roomId, after: page.after, limit })).map(toMessageRow)
    // Newest first below `before` (from the newest without it), handed out oldest first.
    return (await this.reads.newestBefore({ roomId, before: page.before ?? Number.MAX_SAFE_INTEGER, limit })).reverse().map(toMessageRow)
  }

  async recover(roomId: number, sinceId: number, limit: number): Promise<Recovery> {
    const newestFirst = await this.reads.newestAfter({ roomId, after: sinceId, limit: limit + 1 })
    const truncated = newestFirst.length > limit
    if (truncated) newestFirst.pop()
    // Read after the messages: at least as far as they go.
    return { messages: newestFirst.reverse().map(toMessageRow), truncated, version: await this.lastVersion(roomId) }
  }

  /**
   * As of the room's position read first (its version and newest message, one row): every change
   * up to that version, nothing after it (what commits meanwhile comes live). Two reads, each an
   * index range: the messages sent after the version (the room's newest then: no more of them than
   * versions since, found among that many ids up to its newest message) and those sent before it
   * and changed since (the partial index of changed messages).
   */
  async changesAfter(roomId: number, afterVersion: number, limit: number): Promise<Changes> {
    const { version, newestId } = await this.position(roomId)
    if (version <= afterVersion) return { messages: [], room: null, truncated: false, version: afterVersion }
    const [sent, changed] = await Promise.all([
      this.reads.sentAfter({ roomId, after: afterVersion, upTo: version, newestId, newest: Math.min(version - afterVersion, limit + 1), limit: limit + 1 }),
      this.reads.changedAfter({ roomId, after: afterVersion, upTo: version, limit: limit + 1 }),
    ])
    const newestFirst = [...sent, ...changed].sort((a, b) => b.version - a.version)
    const truncated = newestFirst.length > limit
    const messages = newestFirst.slice(0, limit).reverse().map(toMessageRow)
    return { messages, room: await this.reads.latestUpdate(roomId, afterVersion), truncated, version }
  }

  updateRooms(roomIds: readonly number[], patch: RoomPatch, by: string | null, summarize: (room: RoomRow) => RoomSummaryData): Promise<UpdatedRoom[]> {
    if (patch.name !== undefined) {
      const refused = unstorableRoom({ name: patch.name })
      if (refused) return Promise.reject(refused)
    }
    return updateRooms(this.database, this.outbox, roomIds, patch, by, summarize)
  }

  async roomIdsOfPost(postId: number): Promise<number[]> {
    const { db, t } = this.database
    const found = await db.select({ id: t.rooms.id }).from(t.rooms).where(eq(t.rooms.postId, postId)).orderBy(asc(t.rooms.id))
    return found.map((r) => r.id)
  }

  hideRoom(roomId: number, userId: string): Promise<'absent' | { through: number }> {
    return hideRoom(this.database, roomId, userId)
  }

  leaveDirectRoom(roomId: number, userId: string, at: number): Promise<'absent' | 'already' | 'left'> {
    return leaveDirectRoom(this.database, roomId, userId, at)
  }

  async messagesByIds(ids: readonly number[]): Promise<MessageRow[]> {
    if (ids.length === 0) return []
    return (await this.reads.messagesByIds(ids.length)(listValues(ids))).map(toMessageRow)
  }

  /**
   * The changes of a room with a version in [from, to], for a receiver filling a gap in what it was
   * sent (see RoomChanges): a version missing from them was superseded by a later change of its
   * message. Messages created in the range come whatever their latest version, so a receiver never
   * misses a creation. Index ranges only: those sent in the range among the room's newest ids, and
   * the changed ones in the partial index of changed messages.
   */
  async changesBetween(roomId: number, from: number, to: number): Promise<RoomChanges> {
    const { db, t } = this.database
    const { messages, roomEvents } = t
    const { columns, q, joinQuote } = messageSelection(t)
    // Those sent in the range are among the room's newest as of its position (read first): no more
    // than versions since `from`, up to its newest message then (later ones would crowd them out).
    const position = await this.position(roomId)
    const newest = position.version - from + 1
    const [sent, changed, events] = await Promise.all([
      db
        .select(columns)
        .from(messages)
        .leftJoin(q, joinQuote)
        .where(and(eq(messages.roomId, roomId), gt(messages.id, newestIdsFloor(this.database, roomId, position.newestId, Math.max(newest, 0))), gte(messages.createdVersion, from), lte(messages.createdVersion, to))),
      db
        .select(columns)
        .from(messages)
        .leftJoin(q, joinQuote)
        .where(and(eq(messages.roomId, roomId), changedSince(this.database), gte(messages.version, from), lte(messages.version, to))),
      db
        .select({ version: roomEvents.version, kind: roomEvents.kind, userId: roomEvents.userId, data: roomEvents.data })
        .from(roomEvents)
        .where(and(eq(roomEvents.roomId, roomId), gte(roomEvents.version, from), lte(roomEvents.version, to))),
    ])
    const byId = new Map([...sent, ...changed].map((row) => [row.id, toMessageRow(row)]))
    const evictions = events.filter((e) => e.kind === 'evict' || e.kind === 'ban').map(({ version, userId, kind }) => ({ version, userId, banned: kind === 'ban' }))
    const updates = events.filter((e) => e.kind === 'update').map(({ version, data }) => ({ version, summary: JSON.parse(data ?? '{}') as RoomSummaryData }))
    // Read after the messages: at least as far as anything that superseded a version of the range.
    return { messages: [...byId.values()].sort((a, b) => a.version - b.version), evictions, updates, version: await this.lastVersion(roomId) }
  }

  /** The room's version and its newest message's id, as of one moment (they move in the same transactions). */
  private async position(roomId: number): Promise<{ version: number; newestId: number }> {
    const [row] = await this.reads.position.execute({ roomId })
    return { version: row?.version ?? 0, newestId: row?.newestId ?? 0 }
  }

  /** The room's version (0 before its first change). */
  async lastVersion(roomId: number): Promise<number> {
    const [row] = await this.reads.position.execute({ roomId })
    return row?.version ?? 0
  }

  changeMessage(request: ChangeRequest): Promise<ChangeResult> {
    if (request.change.type === 'edit') {
      const refused = unstorableBody(request.change.body)
      if (refused) return Promise.reject(refused)
    }
    return this.runChange(request).catch((error: unknown) => {
      this.writes.failed(error)
      throw error
    })
  }

  /** A change in a transaction of its own (SQLite commits those of one turn together: sqlite-store.ts). */
  protected runChange(request: ChangeRequest): Promise<ChangeResult> {
    return changeMessage(this.database, this.changes, this.outbox, request)
  }

  /** The body of a change, for a store that runs it in a transaction of its choosing. */
  protected changeBody(request: ChangeRequest) {
    return changeSteps(this.database, this.changes, this.outbox, request)
  }

  messageHistory(messageId: number) {
    return messageHistory(this.database, messageId)
  }

  purgeHistory(before: number): Promise<number> {
    return purgeHistory(this.database, before)
  }

  appendMessage(message: NewMessage): Promise<AppendResult> {
    const refused = unstorableText(message)
    return refused ? Promise.reject(refused) : this.commits.append(message)
  }

  async epoch(): Promise<string> {
    if (this.storageEpoch !== undefined) return this.storageEpoch
    const { db, t } = this.database
    const [row] = await db.select({ epoch: t.meta.epoch }).from(t.meta)
    if (!row) throw new Error('the meta table has no storage epoch')
    return (this.storageEpoch = row.epoch)
  }

  async renewEpoch(): Promise<string> {
    const { db, t } = this.database
    const fresh = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')
    const [row] = await db.update(t.meta).set({ epoch: fresh }).where(eq(t.meta.id, 1)).returning({ epoch: t.meta.epoch })
    if (!row) throw new Error('the meta table has no storage epoch')
    return (this.storageEpoch = row.epoch)
  }

  async heartbeat(instance: InstanceRow): Promise<void> {
    await this.writes.probe(() => instanceRows.beat(this.database, instance))
  }

  async instancesSeenSince(since: number): Promise<InstanceRow[]> {
    return instanceRows.seenSince(this.database, since)
  }

  async forgetInstance(id: string): Promise<void> {
    await instanceRows.forget(this.database, id)
  }
}

/** Which form of the room list a page needs. */
interface RoomListForm {
  forward: boolean
  /** A user's private and direct rooms show beside the open ones. */
  user: boolean
  /** Only one post's rooms. */
  post: boolean
}

/**
 * The hot reads, each prepared once with placeholders (drizzle's prepared queries: awaited on both
 * databases), so that a call builds no SQL and SQLite compiles no statement.
 */
function prepareReads(database: SqlDatabase) {
  const { db, t } = database
  const p = sql.placeholder
  const { messages, rooms } = t
  const { columns, q, joinQuote } = messageSelection(t)
  const inRoom = (condition: SQL) => and(eq(messages.roomId, p('roomId')), condition)
  const page = (condition: SQL, order: SQL) => database.selectRows(columns, db.select(columns).from(messages).leftJoin(q, joinQuote).where(inRoom(condition)).orderBy(order).limit(p('limit')).prepare())
  // Each form of the room list (its direction, whether a user's private rooms show, one post's) is built the first time it is asked for.
  const roomList = formsOf((f: RoomListForm) => `${f.forward}/${f.user}/${f.post}`)(({ forward, user, post }) => {
    const visible = user
      ? or(
          eq(rooms.kind, 'open'),
          inArray(
            rooms.id,
            db
              .select({ id: t.members.roomId })
              .from(t.members)
              .where(and(eq(t.members.userId, p('userId')), ne(t.members.role, 'participant'))),
          ),
        )
      : eq(rooms.kind, 'open')
    return db
      .select({ id: rooms.id, name: rooms.name, postId: rooms.postId, createdAt: rooms.createdAt, kind: rooms.kind, status: rooms.status, slowModeSeconds: rooms.slowModeSeconds, data: rooms.data })
      .from(rooms)
      .where(and(forward ? gt(rooms.id, p('from')) : lt(rooms.id, p('from')), visible, post ? eq(rooms.postId, p('postId')) : undefined))
      .orderBy(forward ? asc(rooms.id) : desc(rooms.id))
      .limit(p('limit'))
      .prepare()
  })
  return {
    rooms: roomList,
    // An inbox page's newest messages (at most its limit), a webhook pass's, one message.
    messagesByIds: formsByLength(100, (ids) =>
      database.selectRows(
        columns,
        db
          .select(columns)
          .from(messages)
          .leftJoin(q, joinQuote)
          .where(inArray(messages.id, placeholders(ids)))
          .prepare(),
      ),
    ),
    room: db
      .select()
      .from(rooms)
      .where(eq(rooms.id, p('id')))
      .prepare(),
    latestUpdate: latestRoomUpdate(database),
    // A room's version and newest message (replays and changes start from it).
    position: db
      .select({ version: rooms.version, newestId: rooms.lastMessageId })
      .from(rooms)
      .where(eq(rooms.id, p('roomId')))
      .prepare(),
    roomOfPost: db
      .select()
      .from(rooms)
      .where(and(eq(rooms.postId, p('postId')), eq(rooms.kind, 'open')))
      .prepare(),
    oldestAfter: page(gt(messages.id, p('after')), asc(messages.id)),
    newestBefore: page(lt(messages.id, p('before')), desc(messages.id)),
    newestAfter: page(gt(messages.id, p('after')), desc(messages.id)),
    // Sent after the version: among the `newest` newest ids (see changesAfter).
    sentAfter: page(and(gt(messages.id, newestIdsFloor(database, p('roomId'), p('newestId'), p('newest'))), lte(messages.id, p('newestId')), gt(messages.createdVersion, p('after')))!, desc(messages.id)),
    // Sent before it and changed since: the partial index of changed messages.
    changedAfter: page(and(changedSince(database), gt(messages.version, p('after')), lte(messages.version, p('upTo')), lte(messages.createdVersion, p('after')))!, desc(messages.version)),
  }
}

/**
 * The id below which none of the room's `newest` newest messages up to `newestId` is (0 when it has
 * no more): those a range of the (room, id) index holds. One backward scan of `newest` entries.
 */
function newestIdsFloor({ db, t }: SqlDatabase, roomId: number | Placeholder, newestId: number | Placeholder, newest: number | Placeholder) {
  const n = alias(t.messages, 'n')
  return sql`coalesce((${db
    .select({ id: n.id })
    .from(n)
    .where(and(eq(n.roomId, roomId as number), lte(n.id, newestId as number)))
    .orderBy(desc(n.id))
    .limit(1)
    .offset(newest as number)}), 0)`
}

/** The predicate of the partial index of changed messages (in the same words, so the planners use it). */
const changedSince = ({ t }: SqlDatabase) => sql`${t.messages.version} <> ${t.messages.createdVersion}`
