import { and, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import type { BatchObserver } from '../metrics.ts'
import { messages, rooms } from '../db/pg-schema.ts'
import { migratePostgres, openPostgres, type PgDb } from '../db/postgres.ts'
import type { AppendResult, CommitListener, MessagePage, MessageRow, NewMessage, Recovery, RoomPage, RoomRow, Store } from './store.ts'

interface PendingAppend {
  message: NewMessage
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

const toRoom = (row: typeof rooms.$inferSelect): RoomRow => ({ id: row.id, name: row.name, postId: row.postId, createdAt: row.createdAt })
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

/** Thrown for the appends of a batch whose room does not exist. */
class UnknownRoomError extends Error {}

/**
 * The store for several instances, on Postgres. Appends are group-committed like SQLite's: what
 * arrives while a batch is being written goes into the next one, one transaction each. Within a
 * transaction each room's row is locked (in ascending room order, so instances cannot deadlock),
 * its counter gives the messages their `seq`, and the ids are drawn after the lock: per room, ids
 * and seqs ascend in commit order, whichever instance commits.
 */
export class PostgresStore implements Store {
  private readonly listeners: CommitListener[] = []
  private pending: PendingAppend[] = []
  private flushing: Promise<void> | null = null
  private closed = false

  private constructor(
    private readonly db: PgDb,
    private readonly observeBatch: BatchObserver = () => {},
  ) {}

  /** Connects and applies migrations. */
  static async open(url: string, observeBatch?: BatchObserver): Promise<PostgresStore> {
    const db = openPostgres(url)
    await migratePostgres(db)
    return new PostgresStore(db, observeBatch)
  }

  async createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }> {
    const [inserted] = await this.db
      .insert(rooms)
      .values({ name: input.name, postId: input.postId, createdAt: Date.now() })
      .onConflictDoNothing()
      .returning()
    if (inserted) return { room: toRoom(inserted), created: true }
    const [existing] = await this.db.select().from(rooms).where(eq(rooms.postId, input.postId ?? -1))
    if (!existing) throw new Error('room insert conflicted but no room has that post_id')
    return { room: toRoom(existing), created: false }
  }

  async listRooms(page: RoomPage): Promise<RoomRow[]> {
    const rows = await this.db.select().from(rooms).where(gt(rooms.id, page.after ?? 0)).orderBy(asc(rooms.id)).limit(page.limit)
    return rows.map(toRoom)
  }

  async getRoom(id: number): Promise<RoomRow | undefined> {
    const [row] = await this.db.select().from(rooms).where(eq(rooms.id, id))
    return row && toRoom(row)
  }

  async roomByPostId(postId: number): Promise<RoomRow | undefined> {
    const [row] = await this.db.select().from(rooms).where(eq(rooms.postId, postId))
    return row && toRoom(row)
  }

  async listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]> {
    if (page.after !== undefined) {
      const rows = await this.db.select().from(messages).where(and(eq(messages.roomId, roomId), gt(messages.id, page.after))).orderBy(asc(messages.id)).limit(page.limit)
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
    return { messages: rows.map(toMessage).reverse(), truncated }
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

  appendMessage(message: NewMessage): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('store is closed'))
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject })
      this.scheduleFlush()
    })
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener)
  }

  async check(): Promise<void> {
    if (this.closed) throw new Error('store is closed')
    await this.db.execute(sql`SELECT 1`)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    while (this.flushing || this.pending.length > 0) await (this.flushing ?? this.flush())
    await this.db.$client.close({ timeout: 5 })
  }

  private scheduleFlush() {
    if (this.flushing) return
    this.flushing = new Promise((resolve) => setImmediate(resolve)).then(() => this.flush())
  }

  /** Writes everything pending in one transaction, then starts the next batch if more arrived. */
  private async flush(): Promise<void> {
    const batch = this.pending
    this.pending = []
    try {
      if (batch.length > 0) await this.write(batch)
    } finally {
      this.flushing = null
      if (this.pending.length > 0) this.scheduleFlush()
    }
  }

  private async write(batch: PendingAppend[]) {
    const started = performance.now()
    const byRoom = new Map<number, PendingAppend[]>()
    for (const item of batch) {
      const list = byRoom.get(item.message.roomId)
      if (list) list.push(item)
      else byRoom.set(item.message.roomId, [item])
    }
    const outcomes = new Map<PendingAppend, { ok: true; result: AppendResult } | { ok: false; error: unknown }>()
    const created: MessageRow[] = []
    try {
      await this.db.transaction(async (tx) => {
        for (const roomId of [...byRoom.keys()].sort((a, b) => a - b)) {
          await this.writeRoom(tx, roomId, byRoom.get(roomId)!, outcomes, created)
        }
      })
    } catch (error) {
      for (const item of batch) item.reject(error)
      return
    }
    this.observeBatch(batch.length, (performance.now() - started) / 1000)
    if (created.length > 0) for (const listener of this.listeners) listener(created)
    for (const item of batch) {
      const outcome = outcomes.get(item)!
      if (outcome.ok) item.resolve(outcome.result)
      else item.reject(outcome.error)
    }
  }

  /** One room's share of a batch, under the lock of the room's row. */
  private async writeRoom(tx: Tx, roomId: number, items: PendingAppend[], outcomes: Map<PendingAppend, { ok: true; result: AppendResult } | { ok: false; error: unknown }>, created: MessageRow[]) {
    const [room] = await tx.select({ lastSeq: rooms.lastSeq }).from(rooms).where(eq(rooms.id, roomId)).for('update')
    if (!room) {
      for (const item of items) outcomes.set(item, { ok: false, error: new UnknownRoomError(`room ${roomId} does not exist`) })
      return
    }
    // Repeats of a client_msg_id, stored earlier or earlier in this batch, are answered with the first.
    const clientIds = [...new Set(items.map((i) => i.message.clientMsgId).filter((id): id is string => id !== null))]
    const earlier = new Map<string, MessageRow>()
    if (clientIds.length > 0) {
      const rows = await tx.select().from(messages).where(and(eq(messages.roomId, roomId), inArray(messages.clientMsgId, clientIds)))
      for (const row of rows) earlier.set(`${row.userId}\u0000${row.clientMsgId}`, toMessage(row))
    }
    const fresh: PendingAppend[] = []
    const firstInBatch = new Map<string, PendingAppend>()
    const repeats: [PendingAppend, string][] = []
    for (const item of items) {
      const key = item.message.clientMsgId === null ? null : `${item.message.userId}\u0000${item.message.clientMsgId}`
      if (key !== null && (earlier.has(key) || firstInBatch.has(key))) {
        repeats.push([item, key])
        continue
      }
      if (key !== null) firstInBatch.set(key, item)
      fresh.push(item)
    }
    const bySeq = new Map<number, PendingAppend>()
    if (fresh.length > 0) {
      const first = room.lastSeq + 1
      const rows = await tx
        .insert(messages)
        .values(fresh.map((item, k) => ((bySeq.set(first + k, item), { ...item.message, seq: first + k }))))
        .returning()
      await tx.update(rooms).set({ lastSeq: room.lastSeq + fresh.length }).where(eq(rooms.id, roomId))
      rows.sort((a, b) => a.seq - b.seq)
      for (const row of rows) {
        const message = toMessage(row)
        created.push(message)
        const item = bySeq.get(row.seq)!
        outcomes.set(item, { ok: true, result: { message, duplicate: false } })
        if (message.clientMsgId !== null) earlier.set(`${message.userId}\u0000${message.clientMsgId}`, message)
      }
    }
    for (const [item, key] of repeats) outcomes.set(item, { ok: true, result: { message: earlier.get(key)!, duplicate: true } })
  }
}
