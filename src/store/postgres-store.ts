import { and, asc, desc, eq, gt, lt, ne, sql } from 'drizzle-orm'
import type { BatchObserver } from '../metrics.ts'
import { members, messages, rooms } from '../db/pg-schema.ts'
import { migratePostgres, openPostgres, type PgDb } from '../db/postgres.ts'
import { PostgresMembership } from './postgres-membership.ts'
import { instanceRows } from './instances.ts'
import { SqlStore } from './sql-store.ts'
import { postgresDatabase } from './sql-database.ts'
import { roomCreatedEvent } from './outbox.ts'
import { postgresOutbox, writePgEvents } from './postgres-outbox.ts'
import type { SqlOutbox } from './sql-outbox.ts'
import { GroupCommit, Refusal, StoreClosedError, type WrittenBatch } from './group-commit.ts'
import { NotAMemberError, unstorableRoom, type AppendResult, type MessagePage, type MessageRow, type NewMessage, type Recovery, type RoomRow, type Store } from './store.ts'

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

const toRoom = (row: typeof rooms.$inferSelect): RoomRow => ({ id: row.id, name: row.name, postId: row.postId, createdAt: row.createdAt, kind: row.kind, ownerId: row.ownerId, directKey: row.directKey })
const toMessage = (row: typeof messages.$inferSelect): MessageRow => ({
  id: row.id,
  roomId: row.roomId,
  userId: row.userId,
  email: row.email,
  nickname: row.nickname,
  profileUrl: row.profileUrl,
  body: row.body,
  clientMsgId: row.clientMsgId,
  createdAt: row.createdAt,
  seq: row.seq,
})

/** The columns of a message to insert at position `seq` (what is not a column, such as `viaService`, left out). */
const storedColumns = (m: NewMessage, seq: number): typeof messages.$inferInsert => ({
  roomId: m.roomId,
  userId: m.userId,
  email: m.email,
  nickname: m.nickname,
  profileUrl: m.profileUrl,
  body: m.body,
  clientMsgId: m.clientMsgId,
  createdAt: m.createdAt,
  seq,
})

/** Thrown for the appends of a batch whose room does not exist. */
class UnknownRoomError extends Error {}

/**
 * The store for several instances, on Postgres. Appends are group-committed like SQLite's: what
 * arrives while a batch is being written goes into the next one, one transaction each. Within a
 * transaction each room's row is locked (in ascending room order, so instances cannot deadlock),
 * its counter gives the messages their `seq`, and the ids are drawn after the lock: per room, ids
 * and seqs ascend in commit order, whichever instance commits.
 */
export class PostgresStore extends SqlStore implements Store {
  protected readonly commits: GroupCommit
  private closed = false
  readonly membership: PostgresMembership
  readonly outbox: SqlOutbox

  private constructor(
    private readonly db: PgDb,
    observeBatch?: BatchObserver,
  ) {
    super(postgresDatabase(db))
    this.commits = new GroupCommit((batch) => this.writeBatch(batch), observeBatch, this.writes)
    this.outbox = postgresOutbox(db)
    this.membership = new PostgresMembership(db, this.outbox)
  }

  /** Connects and applies migrations. */
  static async open(url: string, observeBatch?: BatchObserver): Promise<PostgresStore> {
    const db = openPostgres(url)
    await migratePostgres(db, url)
    return new PostgresStore(db, observeBatch)
  }

  async createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }> {
    const refused = unstorableRoom(input)
    if (refused) throw refused
    const inserted = await this.db.transaction(async (tx) => {
      const [room] = await tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: Date.now() }).onConflictDoNothing().returning()
      if (room) await writePgEvents(this.outbox, tx, [roomCreatedEvent(room, [])])
      return room
    })
    if (inserted) return { room: toRoom(inserted), created: true }
    const [existing] = await this.db
      .select()
      .from(rooms)
      .where(and(eq(rooms.postId, input.postId ?? -1), eq(rooms.kind, 'open')))
    if (!existing) throw new Error('room insert conflicted but no room has that post_id')
    return { room: toRoom(existing), created: false }
  }

  async getRoom(id: number): Promise<RoomRow | undefined> {
    const [row] = await this.db.select().from(rooms).where(eq(rooms.id, id))
    return row && toRoom(row)
  }

  async roomByPostId(postId: number): Promise<RoomRow | undefined> {
    const [row] = await this.db
      .select()
      .from(rooms)
      .where(and(eq(rooms.postId, postId), eq(rooms.kind, 'open')))
    return row && toRoom(row)
  }

  async listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]> {
    if (page.after !== undefined) {
      const rows = await this.db
        .select()
        .from(messages)
        .where(and(eq(messages.roomId, roomId), gt(messages.id, page.after)))
        .orderBy(asc(messages.id))
        .limit(page.limit)
      return rows.map(toMessage)
    }
    const where = page.before !== undefined ? and(eq(messages.roomId, roomId), lt(messages.id, page.before)) : eq(messages.roomId, roomId)
    const rows = await this.db.select().from(messages).where(where).orderBy(desc(messages.id)).limit(page.limit)
    return rows.map(toMessage).reverse()
  }

  async recover(roomId: number, sinceId: number, limit: number): Promise<Recovery> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, roomId), gt(messages.id, sinceId)))
      .orderBy(desc(messages.id))
      .limit(limit + 1)
    const truncated = rows.length > limit
    if (truncated) rows.pop()
    // Read after the messages: at least as far as they go.
    return { messages: rows.map(toMessage).reverse(), truncated, lastSeq: await this.lastSeq(roomId) }
  }

  /** Messages of a room by position, for a receiver filling a gap in what it was sent. */
  async messagesBySeq(roomId: number, fromSeq: number, toSeq: number): Promise<MessageRow[]> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, roomId), sql`${messages.seq} BETWEEN ${fromSeq} AND ${toSeq}`))
      .orderBy(asc(messages.seq))
    return rows.map(toMessage)
  }

  /** The room's newest seq (0 when it has no messages). */
  async lastSeq(roomId: number): Promise<number> {
    const [row] = await this.db.select({ lastSeq: rooms.lastSeq }).from(rooms).where(eq(rooms.id, roomId))
    return row?.lastSeq ?? 0
  }

  async check(): Promise<void> {
    if (this.closed) throw new StoreClosedError()
    await this.db.execute(sql`SELECT 1`)
    // After a write failed for a full disk, a read-only server or damage: a probe write confirms
    // it (StorageProblem) or clears it.
    await this.writes.recheck(() => instanceRows.probe(this.database))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.close()
    await this.db.$client.close({ timeout: 5 })
  }

  /** Writes a batch in one transaction, room by room in ascending room order. */
  private async writeBatch(batch: readonly NewMessage[]): Promise<WrittenBatch> {
    const byRoom = new Map<number, number[]>()
    batch.forEach((message, i) => {
      const list = byRoom.get(message.roomId)
      if (list) list.push(i)
      else byRoom.set(message.roomId, [i])
    })
    const outcomes: (AppendResult | Refusal)[] = new Array(batch.length)
    const created: MessageRow[] = []
    await this.db.transaction(async (tx) => {
      for (const roomId of [...byRoom.keys()].sort((a, b) => a - b)) await writeRoom(tx, roomId, batch, byRoom.get(roomId)!, outcomes, created)
    })
    return { outcomes, created }
  }
}

/**
 * The room's messages stored under any of the pairs `(users[k], clientIds[k])`. All three columns
 * of the unique index `(room_id, user_id, client_msg_id)` are in the condition, so it is a few
 * index lookups however many messages the room has; two array parameters keep the SQL the same
 * whatever the number of pairs.
 */
export function messagesByClientId(db: PgDb | Tx, roomId: number, users: string[], clientIds: string[]) {
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.roomId, roomId), sql`(${messages.userId}, ${messages.clientMsgId}) IN (SELECT * FROM unnest(${sql.param(users)}::text[], ${sql.param(clientIds)}::text[]))`))
}

/**
 * Records a room's new messages beside them, in one statement (one round trip under the room's
 * lock): the room's message counter and newest message (the inbox orders rooms by it), and each
 * sender's read marker moved to their newest message in the batch. A sender has read what they
 * sent, so no message of theirs is ever after their marker. In an open room a sender becomes a
 * participant; in a private or direct room only an owner's or member's marker moves (the app's
 * backend sending as someone else gives them no place there).
 */
async function afterInsert(tx: Tx, roomId: number, open: boolean, lastSeq: number, rows: readonly (typeof messages.$inferSelect)[]) {
  const newest = new Map<string, typeof messages.$inferSelect>()
  for (const row of rows) newest.set(row.userId, row)
  const last = rows.at(-1)!
  const counter = sql`with counter as (update ${rooms} set last_seq = ${lastSeq}, last_message_id = ${last.id}, last_message_at = ${last.createdAt} where id = ${roomId})`
  if (open) {
    const markers = sql.join(
      [...newest.values()].map((row) => sql`(${roomId}, ${row.userId}, 'participant', ${row.id}, ${row.createdAt})`),
      sql`, `,
    )
    await tx.execute(sql`${counter}
      insert into ${members} (room_id, user_id, role, last_read_id, joined_at) values ${markers}
      on conflict (room_id, user_id) do update set last_read_id = greatest(${members}.last_read_id, excluded.last_read_id)`)
    return
  }
  const markers = sql.join(
    [...newest.values()].map((row) => sql`(${row.userId}::text, ${row.id}::bigint)`),
    sql`, `,
  )
  await tx.execute(sql`${counter}
    update ${members} m set last_read_id = greatest(m.last_read_id, v.id) from (values ${markers}) as v(user_id, id)
    where m.room_id = ${roomId} and m.user_id = v.user_id and m.role <> 'participant'`)
}

/**
 * Which of `users` may write to a private or direct room now: its owner and members, read under
 * the room's lock, which removals take too (so a removal answered before this commit is seen).
 */
async function membersAmong(tx: Tx, roomId: number, users: readonly string[]): Promise<Set<string>> {
  if (users.length === 0) return new Set()
  const rows = await tx
    .select({ userId: members.userId })
    .from(members)
    .where(and(eq(members.roomId, roomId), ne(members.role, 'participant'), sql`${members.userId} = any(${sql.param([...new Set(users)])}::text[])`))
  return new Set(rows.map((r) => r.userId))
}

/** One room's share of a batch (`batch[i]` for each of `items`), under the lock of the room's row. */
async function writeRoom(tx: Tx, roomId: number, batch: readonly NewMessage[], allItems: number[], outcomes: (AppendResult | Refusal)[], created: MessageRow[]) {
  const [room] = await tx.select({ lastSeq: rooms.lastSeq, kind: rooms.kind }).from(rooms).where(eq(rooms.id, roomId)).for('update')
  if (!room) {
    for (const i of allItems) outcomes[i] = new Refusal(new UnknownRoomError(`room ${roomId} does not exist`))
    return
  }
  const open = room.kind === 'open'
  let items = allItems
  if (!open) {
    const checked = allItems.filter((i) => !batch[i]!.viaService)
    const allowed = await membersAmong(
      tx,
      roomId,
      checked.map((i) => batch[i]!.userId),
    )
    const refused = new Set(checked.filter((i) => !allowed.has(batch[i]!.userId)))
    for (const i of refused) outcomes[i] = new Refusal(new NotAMemberError(roomId, batch[i]!.userId))
    if (refused.size > 0) items = allItems.filter((i) => !refused.has(i))
  }
  // Repeats of a client_msg_id, stored earlier or earlier in this batch, are answered with the first.
  const users: string[] = []
  const clientIds: string[] = []
  for (const i of items) {
    const { userId, clientMsgId } = batch[i]!
    if (clientMsgId === null) continue
    users.push(userId)
    clientIds.push(clientMsgId)
  }
  const earlier = new Map<string, MessageRow>()
  if (clientIds.length > 0) {
    for (const row of await messagesByClientId(tx, roomId, users, clientIds)) earlier.set(`${row.userId}\u0000${row.clientMsgId}`, toMessage(row))
  }
  const fresh: number[] = []
  const firstInBatch = new Set<string>()
  const repeats: [number, string][] = []
  for (const i of items) {
    const { userId, clientMsgId } = batch[i]!
    const key = clientMsgId === null ? null : `${userId}\u0000${clientMsgId}`
    if (key !== null && (earlier.has(key) || firstInBatch.has(key))) {
      repeats.push([i, key])
      continue
    }
    if (key !== null) firstInBatch.add(key)
    fresh.push(i)
  }
  if (fresh.length > 0) {
    const first = room.lastSeq + 1
    const rows = await tx
      .insert(messages)
      .values(fresh.map((i, k) => storedColumns(batch[i]!, first + k)))
      .returning()
    rows.sort((a, b) => a.seq - b.seq)
    await afterInsert(tx, roomId, open, room.lastSeq + fresh.length, rows)
    for (const row of rows) {
      const message = toMessage(row)
      created.push(message)
      outcomes[fresh[row.seq - first]!] = { message, duplicate: false }
      if (message.clientMsgId !== null) earlier.set(`${message.userId}\u0000${message.clientMsgId}`, message)
    }
  }
  for (const [i, key] of repeats) outcomes[i] = { message: earlier.get(key)!, duplicate: true }
}
