import { and, eq, inArray, ne, sql } from 'drizzle-orm'
import { blocks, members, rooms, users } from '../db/schema.ts'
import type { SqliteDb } from '../db/sqlite.ts'
import type { Identity } from '../identity.ts'
import { directKey, unreadInRoomQuery, type MemberRole, type ReadMarker } from './membership.ts'
import { memberEvent, roomCreatedEvent, type Outbox } from './outbox.ts'
import { sqliteDatabase } from './sql-database.ts'
import { SqlMembership } from './sql-membership.ts'
import { writeSqliteEvents } from './sqlite-outbox.ts'
import type { RoomRow } from './store.ts'

const isMember = ne(members.role, 'participant')
type Tx = Parameters<Parameters<SqliteDb['transaction']>[0]>[0]

/** The user's role in the room, read in the transaction. */
const roleIn = (tx: Tx, roomId: number, userId: string): MemberRole | null =>
  tx
    .select({ role: members.role })
    .from(members)
    .where(and(eq(members.roomId, roomId), eq(members.userId, userId)))
    .get()?.role ?? null

/** Membership on SQLite: one writer at a time, so each transaction sees what the last one wrote. */
export class SqliteMembership extends SqlMembership {
  /** One prepared upsert, run per profile in one transaction: nothing to build per write. */
  private readonly writeProfiles

  constructor(
    private readonly db: SqliteDb,
    private readonly outbox: Outbox,
  ) {
    super(sqliteDatabase(db))
    const p = (name: string) => sql.placeholder(name)
    const upsert = db
      .insert(users)
      .values({ userId: p('userId'), nickname: p('nickname'), email: p('email'), profileUrl: p('profileUrl'), updatedAt: p('updatedAt') })
      .onConflictDoUpdate({ target: users.userId, set: { nickname: sql`excluded.nickname`, email: sql`excluded.email`, profileUrl: sql`excluded.profile_url`, updatedAt: sql`excluded.updated_at` } })
      .prepare()
    this.writeProfiles = db.$client.transaction((profiles: readonly Identity[], now: number) => {
      for (const { userId, nickname, email, profileUrl } of profiles) upsert.run({ userId, nickname, email, profileUrl, updatedAt: now })
    })
  }

  async createPrivateRoom(input: { name: string; postId: number | null; ownerId: string | null; members: readonly string[]; addedBy: string | null }): Promise<RoomRow | 'blocked'> {
    return this.db.transaction((tx) => {
      const invited = input.members.filter((id) => id !== input.addedBy)
      if (input.addedBy !== null && invited.length > 0) {
        const blocker = tx
          .select({ userId: blocks.userId })
          .from(blocks)
          .where(and(eq(blocks.blockedId, input.addedBy), inArray(blocks.userId, invited)))
          .limit(1)
          .get()
        if (blocker) return 'blocked'
      }
      const now = Date.now()
      const room = tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'private', ownerId: input.ownerId }).returning().get()
      const rows: (typeof members.$inferInsert)[] = [...new Set(input.members)].filter((id) => id !== input.ownerId).map((userId) => ({ roomId: room.id, userId, role: 'member', joinedAt: now }))
      if (input.ownerId !== null) rows.unshift({ roomId: room.id, userId: input.ownerId, role: 'owner', joinedAt: now })
      if (rows.length > 0) tx.insert(members).values(rows).run()
      writeSqliteEvents(this.outbox, tx, [
        roomCreatedEvent(
          room,
          rows.map((r) => r.userId),
        ),
      ])
      return room
    })
  }

  async directRoom(input: { a: string; b: string; postId: number | null; name: string }): Promise<{ room: RoomRow; created: boolean }> {
    const key = directKey(input.a, input.b, input.postId)
    return this.db.transaction((tx) => {
      const existing = tx.select().from(rooms).where(eq(rooms.directKey, key)).get()
      if (existing) return { room: existing, created: false }
      const now = Date.now()
      const room = tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'direct', directKey: key }).returning().get()
      tx.insert(members)
        .values([input.a, input.b].map((userId) => ({ roomId: room.id, userId, role: 'member' as const, joinedAt: now })))
        .run()
      writeSqliteEvents(this.outbox, tx, [roomCreatedEvent(room, [input.a, input.b])])
      return { room, created: true }
    })
  }

  async addMember(roomId: number, userId: string, max: number, addedBy: string | null): Promise<'added' | 'already' | 'full' | 'blocked' | 'not_owner'> {
    return this.db.transaction((tx) => {
      if (addedBy !== null && roleIn(tx, roomId, addedBy) !== 'owner') return 'not_owner'
      const role = roleIn(tx, roomId, userId)
      if (role === 'owner' || role === 'member') return 'already'
      if (
        addedBy !== null &&
        tx
          .select({ n: sql<number>`1` })
          .from(blocks)
          .where(and(eq(blocks.userId, userId), eq(blocks.blockedId, addedBy)))
          .get()
      )
        return 'blocked'
      const count = Number(
        tx
          .select({ n: sql<number>`count(*)` })
          .from(members)
          .where(and(eq(members.roomId, roomId), isMember))
          .get()?.n ?? 0,
      )
      if (count >= max) return 'full'
      tx.insert(members)
        .values({ roomId, userId, role: 'member', joinedAt: Date.now() })
        .onConflictDoUpdate({ target: [members.roomId, members.userId], set: { role: 'member' } })
        .run()
      writeSqliteEvents(this.outbox, tx, [memberEvent('member.added', roomId, userId)])
      return 'added'
    })
  }

  async removeMember(roomId: number, userId: string, removedBy: string | null): Promise<'removed' | 'absent' | 'not_owner'> {
    return this.db.transaction((tx) => {
      if (removedBy !== null && removedBy !== userId && roleIn(tx, roomId, removedBy) !== 'owner') return 'not_owner'
      const removed =
        tx
          .delete(members)
          .where(and(eq(members.roomId, roomId), eq(members.userId, userId), isMember))
          .returning({ userId: members.userId })
          .all().length > 0
      if (!removed) return 'absent'
      writeSqliteEvents(this.outbox, tx, [memberEvent('member.removed', roomId, userId)])
      return 'removed'
    })
  }

  async markRead(roomId: number, userId: string, lastReadId: number): Promise<ReadMarker | null> {
    return this.db.transaction((tx) => {
      const room = tx.select({ kind: rooms.kind, newest: rooms.lastMessageId }).from(rooms).where(eq(rooms.id, roomId)).get()
      const newest = Number(room?.newest ?? 0)
      const target = Math.min(lastReadId, newest)
      const where = and(eq(members.roomId, roomId), eq(members.userId, userId))
      const row = tx.select({ lastReadId: members.lastReadId, role: members.role }).from(members).where(where).get()
      // Anyone may read an open room (and becomes a participant); elsewhere only a member has a marker.
      if (room?.kind !== 'open' && (row === undefined || row.role === 'participant')) return null
      const before = row?.lastReadId
      const marker = Math.max(before ?? 0, target)
      if (before === undefined) tx.insert(members).values({ roomId, userId, role: 'participant', lastReadId: marker, joinedAt: Date.now() }).run()
      else if (marker > before) tx.update(members).set({ lastReadId: marker }).where(where).run()
      const [count] = tx.all<{ n: number }>(unreadInRoomQuery(roomId, marker))
      const unread = Number(count?.n ?? 0)
      return { lastReadId: marker, unreadCount: unread, countedUpTo: Math.max(newest, marker), moved: marker > (before ?? 0), joined: before === undefined }
    })
  }

  async saveProfiles(profiles: readonly Identity[]): Promise<void> {
    this.writeProfiles(profiles, Date.now())
  }
}
