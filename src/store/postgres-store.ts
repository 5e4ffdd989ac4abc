import { and, eq, sql } from 'drizzle-orm'
import type { BatchObserver } from '../metrics.ts'
import { members, messages, moderators, rooms, sanctions } from '../db/pg-schema.ts'
import { migratePostgres, openPostgres, type PgDb } from '../db/postgres.ts'
import { instanceRows } from './instances.ts'
import { SqlStore } from './sql-store.ts'
import { lock, postgresDatabase, raw, rows, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'
import { GroupCommit, Refusal, type WrittenBatch } from './group-commit.ts'
import { StoreClosedError } from './turn-queue.ts'
import { closedRoom, createdRow, NotAMemberError, systemColumns, type AppendResult, type MessageRow, type NewMessage, type SequencedStore, type Store } from './store.ts'
import { attachmentsColumn, messageSelection, screenedWrites, toMessageRow } from './messages.ts'
import type { Outbox } from './outbox.ts'
import { claimedBy } from './uploads.ts'
import { inForce, roomAsAppendsRead, sanctionRefusal, slowModeRefusal, slowModeWait, type ActiveSanction } from './write-rules.ts'
import * as tables from '../db/pg-schema.ts'

/** The columns of a message to insert at position `seq` and `version` (what is not a column, such as `viaService`, left out). */
const storedColumns = (m: NewMessage, seq: number, version: number): typeof messages.$inferInsert => ({
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
  replyToId: m.replyTo?.id ?? null,
  attachments: attachmentsColumn(m.attachments),
  ...systemColumns(m),
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
export class PostgresStore extends SqlStore implements Store, SequencedStore {
  protected readonly commits: GroupCommit
  private closed = false

  private constructor(
    private readonly db: PgDb,
    observeBatch?: BatchObserver,
  ) {
    super(postgresDatabase(db))
    this.commits = new GroupCommit((batch) => this.writeBatch(batch), observeBatch, this.writes)
  }

  /** Connects and applies migrations. */
  static async open(url: string, observeBatch?: BatchObserver): Promise<PostgresStore> {
    const db = openPostgres(url)
    await migratePostgres(db, url)
    return new PostgresStore(db, observeBatch)
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
    const { outbox } = this
    await this.database.transaction(function* (tx) {
      for (const roomId of [...byRoom.keys()].sort((a, b) => a - b)) yield* writeRoom(tx, outbox, roomId, batch, byRoom.get(roomId)!, outcomes, created)
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
export function messagesByClientId(db: QueryBuilder | PgDb, roomId: number, users: string[], clientIds: string[]) {
  const { columns, q, joinQuote } = messageSelection(tables as unknown as SqlDatabase['t'])
  return (db as QueryBuilder)
    .select(columns)
    .from(messages)
    .leftJoin(q, joinQuote)
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
function* afterInsert(roomId: number, open: boolean, lastSeq: number, version: number, rows: readonly (typeof messages.$inferSelect)[]) {
  const newest = new Map<string, typeof messages.$inferSelect>()
  // A system message has no sender to move a marker for.
  for (const row of rows) if (row.system === 0) newest.set(row.userId, row)
  const last = rows.at(-1)!
  // Column names as SET and INSERT lists take them: unqualified.
  const name = (column: { name: string }) => sql.identifier(column.name)
  const counter = sql`with counter as (update ${rooms} set ${name(rooms.lastSeq)} = ${lastSeq}, ${name(rooms.version)} = ${version}, ${name(rooms.lastMessageId)} = ${last.id}, ${name(rooms.lastMessageAt)} = ${last.createdAt} where ${rooms.id} = ${roomId})`
  if (newest.size === 0) {
    yield* raw(sql`${counter} select 1`)
    return
  }
  if (open) {
    const markers = sql.join(
      [...newest.values()].map((row) => sql`(${roomId}, ${row.userId}, 'participant', ${row.id}, ${row.createdAt}, ${row.createdAt})`),
      sql`, `,
    )
    yield* raw(sql`${counter}
      insert into ${members} (${name(members.roomId)}, ${name(members.userId)}, ${name(members.role)}, ${name(members.lastReadId)}, ${name(members.joinedAt)}, ${name(members.lastSentAt)}) values ${markers}
      on conflict (${name(members.roomId)}, ${name(members.userId)}) do update set ${name(members.lastReadId)} = greatest(${members.lastReadId}, excluded.${name(members.lastReadId)}), ${name(members.lastSentAt)} = excluded.${name(members.lastSentAt)}`)
    return
  }
  const markers = sql.join(
    [...newest.values()].map((row) => sql`(${row.userId}::text, ${row.id}::bigint, ${row.createdAt}::bigint)`),
    sql`, `,
  )
  yield* raw(sql`${counter}
    update ${members} set ${name(members.lastReadId)} = greatest(${members.lastReadId}, v.id), ${name(members.lastSentAt)} = v.at from (values ${markers}) as v(user_id, id, at)
    where ${members.roomId} = ${roomId} and ${members.userId} = v.user_id and ${members.role} <> 'participant'`)
}

/** What is known of each sender of a room's batch, read under the room's lock: their role, when they last sent, their sanctions. */
interface Standing {
  role: string | null
  lastSentAt: number | null
  sanctions: ActiveSanction[]
  moderator: boolean
}

/**
 * The standing of `users` in the room, read under the room's lock (which removals, mutes and bans
 * take too, so one answered before this commit is seen): their member rows, and, only where the
 * room has any, their sanctions; whether they moderate it only when slow mode is on.
 */
function* standings(tx: QueryBuilder, roomId: number, users: readonly string[], sanctioned: boolean, slowMode: boolean) {
  const found = new Map<string, Standing>()
  if (users.length === 0) return found
  const among = sql.param([...new Set(users)])
  const standing = (userId: string) => {
    let s = found.get(userId)
    if (!s) found.set(userId, (s = { role: null, lastSentAt: null, sanctions: [], moderator: false }))
    return s
  }
  for (const row of yield* rows(
    tx
      .select({ userId: members.userId, role: members.role, lastSentAt: members.lastSentAt })
      .from(members)
      .where(and(eq(members.roomId, roomId), sql`${members.userId} = any(${among}::text[])`)),
  ))
    Object.assign(standing(row.userId), { role: row.role, lastSentAt: row.lastSentAt })
  if (sanctioned)
    for (const row of yield* rows(
      tx
        .select({ userId: sanctions.userId, kind: sanctions.kind, until: sanctions.until })
        .from(sanctions)
        .where(and(eq(sanctions.roomId, roomId), sql`${sanctions.userId} = any(${among}::text[])`)),
    ))
      standing(row.userId).sanctions.push({ kind: row.kind, until: row.until })
  if (slowMode)
    for (const row of yield* rows(
      tx
        .select({ userId: moderators.userId })
        .from(moderators)
        .where(and(sql`${moderators.roomId} in (0, ${roomId})`, sql`${moderators.userId} = any(${among}::text[])`)),
    ))
      standing(row.userId).moderator = true
  return found
}

/** One room's share of a batch (`batch[i]` for each of `items`), under the lock of the room's row. */
function* writeRoom(tx: QueryBuilder, outbox: Outbox, roomId: number, batch: readonly NewMessage[], allItems: number[], outcomes: (AppendResult | Refusal)[], created: MessageRow[]) {
  const [room] = yield* lock(tx.select(roomAsAppendsRead(tables)).from(rooms).where(eq(rooms.id, roomId)))
  if (!room) {
    for (const i of allItems) outcomes[i] = new Refusal(new UnknownRoomError(`room ${roomId} does not exist`))
    return
  }
  const open = room.kind === 'open'
  let items = allItems
  // An archived or left room takes system messages only.
  const closed = closedRoom(roomId, room.status, room.direct)
  if (closed) {
    for (const i of items) if (!batch[i]!.system) outcomes[i] = new Refusal(closed)
    items = items.filter((i) => batch[i]!.system)
  }
  // The rules of write-rules.ts and membership, as the SQLite store checks them message by message.
  const checked = items.filter((i) => !batch[i]!.viaService && !batch[i]!.system)
  if (checked.length > 0 && (!open || room.sanctioned === 1 || room.slowModeSeconds > 0)) {
    const standing = yield* standings(
      tx,
      roomId,
      checked.map((i) => batch[i]!.userId),
      room.sanctioned === 1,
      room.slowModeSeconds > 0,
    )
    const refused = new Set<number>()
    for (const i of checked) {
      const m = batch[i]!
      const s = standing.get(m.userId)
      let refusal: Error | null = sanctionRefusal(roomId, m.userId, inForce(s?.sanctions ?? [], m.createdAt))
      if (!refusal && !open && s?.role !== 'owner' && s?.role !== 'member') refusal = new NotAMemberError(roomId, m.userId)
      if (!refusal && s?.role !== 'owner' && !s?.moderator) {
        refusal = slowModeRefusal(roomId, slowModeWait(room.slowModeSeconds, s?.lastSentAt ?? null, m.createdAt))
        // The next of theirs in this batch waits for this one.
        if (!refusal && room.slowModeSeconds > 0) {
          const sender = s ?? { role: null, lastSentAt: null, sanctions: [], moderator: false }
          sender.lastSentAt = m.createdAt
          standing.set(m.userId, sender)
        }
      }
      if (refusal) {
        outcomes[i] = new Refusal(refusal)
        refused.add(i)
      }
    }
    if (refused.size > 0) items = items.filter((i) => !refused.has(i))
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
    for (const row of yield* rows(messagesByClientId(tx, roomId, users, clientIds))) earlier.set(`${row.userId}\u0000${row.clientMsgId}`, toMessageRow(row))
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
    const inserted = yield* rows(
      tx
        .insert(messages)
        .values(fresh.map((i, k) => storedColumns(batch[i]!, first + k, room.version + 1 + k)))
        .returning(),
    )
    inserted.sort((a, b) => a.seq - b.seq)
    yield* afterInsert(roomId, open, room.lastSeq + fresh.length, room.version + fresh.length, inserted)
    for (const row of inserted) {
      const i = fresh[row.seq - first]!
      const message = createdRow(batch[i]!, row.id, row.seq, row.version)
      const claim = batch[i]!.claim
      if (claim)
        yield* run(
          tx
            .update(tables.uploads)
            .set({ messageId: row.id, roomId })
            .where(claimedBy(tables as unknown as SqlDatabase['t'], claim)),
        )
      const screened = batch[i]!.screened
      if (screened) yield* screenedWrites(tables as unknown as SqlDatabase['t'], outbox, tx, message, screened)
      created.push(message)
      outcomes[i] = { message, duplicate: false }
      if (message.clientMsgId !== null) earlier.set(`${message.userId}\u0000${message.clientMsgId}`, message)
    }
  }
  for (const [i, key] of repeats) outcomes[i] = { message: earlier.get(key)!, duplicate: true }
}
