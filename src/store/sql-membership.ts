import { and, asc, eq, inArray, ne, or, sql } from 'drizzle-orm'
import type { Identity } from '../identity.ts'
import {
  blockersInQuery,
  crowdedRoomsQuery,
  directKey,
  inboxQuery,
  readStatesQuery,
  rosterQuery,
  toInboxRow,
  toReadState,
  unreadInQuery,
  unreadTotalQuery,
  type BlockRow,
  type InboxPage,
  type InboxQueryRow,
  type InboxRow,
  type MemberRole,
  type MemberRow,
  type Membership,
  type ReadMarker,
  type ReadStateQueryRow,
  type RoomReadState,
} from './membership.ts'
import type { SqlDatabase } from './sql-database.ts'
import type { RoomRow } from './store.ts'

/** A room row as the stores hand it out (without the columns only the stores use). */
export const toRoomRow = (row: RoomRow): RoomRow => ({ id: row.id, name: row.name, postId: row.postId, createdAt: row.createdAt, kind: row.kind, ownerId: row.ownerId, directKey: row.directKey })

/**
 * Membership written once for both databases: every read, and the writes that need no transaction.
 * The transactions (room creation, member changes, read markers) and the profile upsert are each
 * database's own (sqlite-membership.ts, postgres-membership.ts): SQLite's run synchronously on its
 * one connection, Postgres's take the room's row lock.
 */
export abstract class SqlMembership implements Membership {
  constructor(protected readonly database: SqlDatabase) {}

  abstract createPrivateRoom(input: { name: string; postId: number | null; ownerId: string | null; members: readonly string[]; addedBy: string | null }): Promise<RoomRow | 'blocked'>
  abstract directRoom(input: { a: string; b: string; postId: number | null; name: string }): Promise<{ room: RoomRow; created: boolean }>
  abstract addMember(roomId: number, userId: string, max: number, addedBy: string | null): Promise<'added' | 'already' | 'full' | 'blocked' | 'not_owner'>
  abstract removeMember(roomId: number, userId: string, removedBy: string | null): Promise<'removed' | 'absent' | 'not_owner'>
  abstract markRead(roomId: number, userId: string, lastReadId: number): Promise<ReadMarker | null>
  abstract saveProfiles(profiles: readonly Identity[]): Promise<void>

  async findDirectRoom(a: string, b: string, postId: number | null): Promise<RoomRow | undefined> {
    const { db, t } = this.database
    const [row] = await db
      .select()
      .from(t.rooms)
      .where(eq(t.rooms.directKey, directKey(a, b, postId)))
      .limit(1)
    return row && toRoomRow(row)
  }

  async roleOf(roomId: number, userId: string): Promise<MemberRole | null> {
    const { db, t } = this.database
    const [row] = await db
      .select({ role: t.members.role })
      .from(t.members)
      .where(and(eq(t.members.roomId, roomId), eq(t.members.userId, userId)))
    return row?.role ?? null
  }

  async roster(roomId: number, limit: number): Promise<{ userId: string; joinedAt: number }[]> {
    const rows = await this.database.rows<{ userId: string; joinedAt: number | string }>(rosterQuery(roomId, limit))
    return rows.map((r) => ({ userId: r.userId, joinedAt: Number(r.joinedAt) }))
  }

  async members(roomId: number): Promise<MemberRow[]> {
    const { db, t } = this.database
    return db
      .select({ userId: t.members.userId, role: t.members.role, lastReadId: t.members.lastReadId, joinedAt: t.members.joinedAt, nickname: t.users.nickname, profileUrl: t.users.profileUrl })
      .from(t.members)
      .leftJoin(t.users, eq(t.users.userId, t.members.userId))
      .where(and(eq(t.members.roomId, roomId), ne(t.members.role, 'participant')))
      .orderBy(sql`${t.members.role} = 'owner' DESC`, asc(t.members.joinedAt), asc(t.members.userId))
  }

  async memberCounts(roomIds: readonly number[]): Promise<Map<number, number>> {
    if (roomIds.length === 0) return new Map()
    const { db, t } = this.database
    const rows = await db
      .select({ roomId: t.members.roomId, count: sql<number | string>`count(*)` })
      .from(t.members)
      .where(and(inArray(t.members.roomId, [...roomIds]), ne(t.members.role, 'participant')))
      .groupBy(t.members.roomId)
    return new Map(rows.map((r) => [r.roomId, Number(r.count)]))
  }

  async readStates(userId: string, onlyRoom?: number): Promise<RoomReadState[]> {
    return (await this.database.rows<ReadStateQueryRow>(readStatesQuery(userId, onlyRoom, this.database.dialect))).map(toReadState)
  }

  async unreadTotal(userId: string): Promise<{ total: number; rooms: number }> {
    const [row] = await this.database.rows<{ total: number | string; rooms: number | string }>(unreadTotalQuery(userId, this.database.dialect))
    return { total: Number(row?.total ?? 0), rooms: Number(row?.rooms ?? 0) }
  }

  async crowdedRooms(roomIds: readonly number[], cap: number): Promise<Set<number>> {
    if (roomIds.length === 0) return new Set()
    return new Set((await this.database.rows<{ id: number | string }>(crowdedRoomsQuery(roomIds, cap))).map((r) => Number(r.id)))
  }

  async inbox(userId: string, page: InboxPage): Promise<InboxRow[]> {
    return (await this.database.rows<InboxQueryRow>(inboxQuery(userId, page, this.database.dialect))).map(toInboxRow)
  }

  async newestMessageId(): Promise<number> {
    const { db, t } = this.database
    const [row] = await db.select({ id: sql<number | string | null>`max(${t.messages.id})` }).from(t.messages)
    return Number(row?.id ?? 0)
  }

  async unreadIn(userId: string, roomIds: readonly number[]): Promise<Map<number, number>> {
    if (roomIds.length === 0) return new Map()
    const rows = await this.database.rows<{ roomId: number | string; n: number | string }>(unreadInQuery(userId, roomIds, this.database.dialect))
    return new Map(rows.map((r) => [Number(r.roomId), Number(r.n)]))
  }

  async block(userId: string, blockedId: string): Promise<void> {
    const { db, t } = this.database
    await db.insert(t.blocks).values({ userId, blockedId, createdAt: Date.now() }).onConflictDoNothing()
  }

  async unblock(userId: string, blockedId: string): Promise<void> {
    const { db, t } = this.database
    await db.delete(t.blocks).where(and(eq(t.blocks.userId, userId), eq(t.blocks.blockedId, blockedId)))
  }

  async blocksOf(userId: string): Promise<BlockRow[]> {
    const { db, t } = this.database
    return db.select({ userId: t.blocks.blockedId, createdAt: t.blocks.createdAt }).from(t.blocks).where(eq(t.blocks.userId, userId)).orderBy(asc(t.blocks.createdAt))
  }

  async blockedEither(a: string, b: string): Promise<boolean> {
    const { db, t } = this.database
    const rows = await db
      .select({ n: sql<number>`1` })
      .from(t.blocks)
      .where(or(and(eq(t.blocks.userId, a), eq(t.blocks.blockedId, b)), and(eq(t.blocks.userId, b), eq(t.blocks.blockedId, a))))
      .limit(1)
    return rows.length > 0
  }

  async directRoomsOf(a: string, b: string): Promise<number[]> {
    const { db, t } = this.database
    const prefix = directKey(a, b, null)
    // substr is the same function on both databases (instr and starts_with are not); it counts code points.
    const rows = await db
      .select({ id: t.rooms.id })
      .from(t.rooms)
      .where(and(eq(t.rooms.kind, 'direct'), sql`substr(${t.rooms.directKey}, 1, ${[...prefix].length}) = ${prefix}`))
    return rows.map((r) => r.id)
  }

  async blockersIn(roomId: number, userId: string): Promise<Set<string>> {
    return new Set((await this.database.rows<{ userId: string }>(blockersInQuery(roomId, userId))).map((r) => r.userId))
  }
}
