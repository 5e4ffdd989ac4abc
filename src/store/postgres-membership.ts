import { and, eq, inArray, ne, sql } from 'drizzle-orm'
import { blocks, members, rooms, users } from '../db/pg-schema.ts'
import type { PgDb } from '../db/postgres.ts'
import type { Identity } from '../identity.ts'
import { directKey, unreadInRoomQuery, type MemberRole, type ReadMarker } from './membership.ts'
import { memberEvent, roomCreatedEvent, type Outbox } from './outbox.ts'
import { writePgEvents } from './postgres-outbox.ts'
import { postgresDatabase } from './sql-database.ts'
import { SqlMembership, toRoomRow } from './sql-membership.ts'
import type { RoomRow } from './store.ts'

const isMember = ne(members.role, 'participant')
type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

/** Locks the room's row until the transaction ends: membership changes and the writes that depend on it take turns. */
const lockRoom = (tx: Tx, roomId: number) => tx.select({ id: rooms.id }).from(rooms).where(eq(rooms.id, roomId)).for('update')

/** The user's role in the room, read in the transaction. */
async function roleIn(tx: Tx, roomId: number, userId: string): Promise<MemberRole | null> {
  const [row] = await tx
    .select({ role: members.role })
    .from(members)
    .where(and(eq(members.roomId, roomId), eq(members.userId, userId)))
  return row?.role ?? null
}

/** Membership on Postgres, where several instances write at once: the room's row lock and unique keys keep it consistent. */
export class PostgresMembership extends SqlMembership {
  constructor(
    private readonly db: PgDb,
    private readonly outbox: Outbox,
  ) {
    super(postgresDatabase(db))
  }

  async createPrivateRoom(input: { name: string; postId: number | null; ownerId: string | null; members: readonly string[]; addedBy: string | null }): Promise<RoomRow | 'blocked'> {
    return this.db.transaction(async (tx) => {
      const invited = input.members.filter((id) => id !== input.addedBy)
      if (input.addedBy !== null && invited.length > 0) {
        const blockers = await tx
          .select({ userId: blocks.userId })
          .from(blocks)
          .where(and(eq(blocks.blockedId, input.addedBy), inArray(blocks.userId, invited)))
          .limit(1)
        if (blockers.length > 0) return 'blocked'
      }
      const now = Date.now()
      const [room] = await tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'private', ownerId: input.ownerId }).returning()
      if (!room) throw new Error('insert into rooms returned no row')
      const rows: (typeof members.$inferInsert)[] = [...new Set(input.members)].filter((id) => id !== input.ownerId).map((userId) => ({ roomId: room.id, userId, role: 'member', joinedAt: now }))
      if (input.ownerId !== null) rows.unshift({ roomId: room.id, userId: input.ownerId, role: 'owner', joinedAt: now })
      if (rows.length > 0) await tx.insert(members).values(rows)
      await writePgEvents(this.outbox, tx, [
        roomCreatedEvent(
          room,
          rows.map((r) => r.userId),
        ),
      ])
      return toRoomRow(room)
    })
  }

  async directRoom(input: { a: string; b: string; postId: number | null; name: string }): Promise<{ room: RoomRow; created: boolean }> {
    const key = directKey(input.a, input.b, input.postId)
    return this.db.transaction(async (tx) => {
      const now = Date.now()
      // A racing transaction with the same key makes this wait for it, then insert nothing.
      const [inserted] = await tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'direct', directKey: key }).onConflictDoNothing().returning()
      if (inserted) {
        await tx.insert(members).values([input.a, input.b].map((userId) => ({ roomId: inserted.id, userId, role: 'member' as const, joinedAt: now })))
        await writePgEvents(this.outbox, tx, [roomCreatedEvent(inserted, [input.a, input.b])])
        return { room: toRoomRow(inserted), created: true }
      }
      const [existing] = await tx.select().from(rooms).where(eq(rooms.directKey, key))
      if (!existing) throw new Error('direct room insert conflicted but no room has that key')
      return { room: toRoomRow(existing), created: false }
    })
  }

  async addMember(roomId: number, userId: string, max: number, addedBy: string | null): Promise<'added' | 'already' | 'full' | 'blocked' | 'not_owner'> {
    return this.db.transaction(async (tx) => {
      // The room's row lock serialises member changes, so what is read below holds until commit.
      await lockRoom(tx, roomId)
      if (addedBy !== null && (await roleIn(tx, roomId, addedBy)) !== 'owner') return 'not_owner'
      const current = await roleIn(tx, roomId, userId)
      if (current === 'owner' || current === 'member') return 'already'
      if (
        addedBy !== null &&
        (
          await tx
            .select({ n: sql<number>`1` })
            .from(blocks)
            .where(and(eq(blocks.userId, userId), eq(blocks.blockedId, addedBy)))
        ).length > 0
      )
        return 'blocked'
      const [count] = await tx
        .select({ n: sql<number>`count(*)` })
        .from(members)
        .where(and(eq(members.roomId, roomId), isMember))
      if (Number(count?.n ?? 0) >= max) return 'full'
      await tx
        .insert(members)
        .values({ roomId, userId, role: 'member', joinedAt: Date.now() })
        .onConflictDoUpdate({ target: [members.roomId, members.userId], set: { role: 'member' } })
      await writePgEvents(this.outbox, tx, [memberEvent('member.added', roomId, userId)])
      return 'added'
    })
  }

  async removeMember(roomId: number, userId: string, removedBy: string | null): Promise<'removed' | 'absent' | 'not_owner'> {
    return this.db.transaction(async (tx) => {
      // Under the room's lock, as appends check membership: a message of theirs commits before this, or not at all.
      await lockRoom(tx, roomId)
      if (removedBy !== null && removedBy !== userId && (await roleIn(tx, roomId, removedBy)) !== 'owner') return 'not_owner'
      const removed = await tx
        .delete(members)
        .where(and(eq(members.roomId, roomId), eq(members.userId, userId), isMember))
        .returning({ userId: members.userId })
      if (removed.length === 0) return 'absent'
      await writePgEvents(this.outbox, tx, [memberEvent('member.removed', roomId, userId)])
      return 'removed'
    })
  }

  async markRead(roomId: number, userId: string, lastReadId: number): Promise<ReadMarker | null> {
    return this.db.transaction(async (tx) => {
      const now = Date.now()
      // Anyone may read an open room: a reader there gets a participant's row. Nowhere else.
      const joined = [
        ...(await tx.execute(sql`insert into ${members} (room_id, user_id, role, last_read_id, joined_at)
          select ${roomId}, ${userId}, 'participant', 0, ${now} from ${rooms} where id = ${roomId} and kind = 'open'
          on conflict do nothing returning user_id`)),
      ]
      // The row locked, so concurrent markers of one user in one room take turns, and a removal
      // (which deletes it) either waits for this marker or leaves nothing to move.
      const where = and(eq(members.roomId, roomId), eq(members.userId, userId))
      const [row] = await tx.select({ lastReadId: members.lastReadId, role: members.role }).from(members).where(where).for('update')
      const [newestRow] = await tx.select({ id: rooms.lastMessageId, kind: rooms.kind }).from(rooms).where(eq(rooms.id, roomId))
      if (!row || (row.role === 'participant' && newestRow?.kind !== 'open')) return null
      const before = row.lastReadId
      const marker = Math.max(before, Math.min(lastReadId, Number(newestRow?.id ?? 0)))
      if (marker > before) await tx.update(members).set({ lastReadId: marker }).where(where)
      // The count and the newest message it saw in one statement, so that they agree.
      const [count] = [...(await tx.execute(unreadInRoomQuery(roomId, marker)))] as { n: string | number; newest: string | number | null }[]
      return { lastReadId: marker, unreadCount: Number(count?.n ?? 0), countedUpTo: Math.max(marker, Number(count?.newest ?? 0)), moved: marker > before, joined: joined.length > 0 }
    })
  }

  async saveProfiles(profiles: readonly Identity[]): Promise<void> {
    if (profiles.length === 0) return
    const now = Date.now()
    await this.db
      .insert(users)
      .values(profiles.map((p) => ({ userId: p.userId, nickname: p.nickname, email: p.email, profileUrl: p.profileUrl, updatedAt: now })))
      .onConflictDoUpdate({ target: users.userId, set: { nickname: sql`excluded.nickname`, email: sql`excluded.email`, profileUrl: sql`excluded.profile_url`, updatedAt: sql`excluded.updated_at` } })
  }
}
