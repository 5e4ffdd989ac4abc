import { and, asc, desc, eq, gt, inArray, lt, ne, or } from 'drizzle-orm'
import type { GroupCommit } from './group-commit.ts'
import { instanceRows } from './instances.ts'
import type { SqlDatabase } from './sql-database.ts'
import { WriteHealth } from './storage-problem.ts'
import { unstorableText, type AppendResult, type InstanceRow, type ListedRoom, type MessageRow, type NewMessage, type RoomPage } from './store.ts'

/**
 * What both stores do the same way, written once over SqlDatabase: listing rooms, reading messages
 * by id, the storage epoch, the instances' heartbeats, and handing appends to the group commit.
 * Each store adds what is truly its own: its group-commit batch (SQLite's one writer, Postgres's row
 * locks and seq counters), its prepared hot-path reads, its readiness check.
 */
export abstract class SqlStore {
  /** The last write's verdict, for readiness. */
  readonly writes = new WriteHealth()
  private storageEpoch: string | undefined
  protected abstract readonly commits: GroupCommit

  constructor(protected readonly database: SqlDatabase) {}

  async listRooms(page: RoomPage): Promise<ListedRoom[]> {
    const { db, t } = this.database
    const visible = page.userId
      ? or(
          eq(t.rooms.kind, 'open'),
          inArray(
            t.rooms.id,
            db
              .select({ id: t.members.roomId })
              .from(t.members)
              .where(and(eq(t.members.userId, page.userId), ne(t.members.role, 'participant'))),
          ),
        )
      : eq(t.rooms.kind, 'open')
    const forward = page.after !== undefined
    return db
      .select({ id: t.rooms.id, name: t.rooms.name, postId: t.rooms.postId, createdAt: t.rooms.createdAt, kind: t.rooms.kind })
      .from(t.rooms)
      .where(and(forward ? gt(t.rooms.id, page.after ?? 0) : lt(t.rooms.id, page.before ?? Number.MAX_SAFE_INTEGER), visible))
      .orderBy(forward ? asc(t.rooms.id) : desc(t.rooms.id))
      .limit(page.limit)
  }

  async messagesByIds(ids: readonly number[]): Promise<MessageRow[]> {
    if (ids.length === 0) return []
    const { db, t } = this.database
    return db
      .select()
      .from(t.messages)
      .where(inArray(t.messages.id, [...ids]))
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
