import { and, asc, eq, inArray, ne, or, sql } from 'drizzle-orm'
import type { Identity } from '../identity.ts'
import {
  blockersInQuery,
  blockersOfQuery,
  crowdedRoomsQuery,
  directKey,
  inboxQuery,
  inboxValues,
  readStatesQuery,
  rosterQuery,
  toInboxRow,
  toReadState,
  unreadInRoomQuery,
  unreadTotalQuery,
  type BlockRow,
  type InboxPage,
  inboxShape,
  type InboxShape,
  type InboxQueryRow,
  type InboxRow,
  type MemberRole,
  type MemberRow,
  type Membership,
  type ReadMarker,
  type ReadStateQueryRow,
  type RoomReadState,
} from './membership.ts'
import { memberEvent, roomCreatedEvent, writeEvents, type Outbox } from './outbox.ts'
import { first, formsByLength, formsOf, listValues, lock, placeholders, rows, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'
import type { RoomRow } from './rows.ts'
import { roomData } from '../db/schema.ts'

/** A room row as the stores hand it out (without the columns only the stores use). */
export const toRoomRow = (row: Omit<RoomRow, 'data'> & { data: string | null }): RoomRow => ({
  id: row.id,
  name: row.name,
  postId: row.postId,
  createdAt: row.createdAt,
  kind: row.kind,
  ownerId: row.ownerId,
  directKey: row.directKey,
  version: row.version,
  status: row.status,
  slowModeSeconds: row.slowModeSeconds,
  data: roomData(row.data),
})

/** A step: the row an insert returned. */
export function* inserted<R>(query: PromiseLike<R[]>) {
  const row = yield* first(query)
  if (!row) throw new Error('an insert returned no row')
  return row
}

/**
 * Membership, written once for both databases. Each change is one transaction (see
 * `SqlDatabase.transaction`) that first locks the room where membership decides: on Postgres the
 * room's row, which appends lock too, so a change and the writes it governs take turns; on SQLite
 * the one writer does that already. Webhook events are written in the same transaction.
 */
export class SqlMembership implements Membership {
  /** The reads every inbox, badge and user stream makes, built once. */
  private readonly reads
  /** Moving a read marker (each `chat.read`, each read over REST), built once. */
  private readonly markers

  constructor(
    private readonly database: SqlDatabase,
    private readonly outbox: Outbox,
  ) {
    this.reads = prepareReads(database)
    this.markers = prepareMarkers(database)
  }

  async createPrivateRoom(input: { name: string; postId: number | null; ownerId: string | null; members: readonly string[]; addedBy: string | null }): Promise<RoomRow | 'blocked'> {
    const { t } = this.database
    const { outbox } = this
    return this.database.transaction(function* (tx) {
      const invited = input.members.filter((id) => id !== input.addedBy)
      if (input.addedBy !== null && invited.length > 0) {
        const blocker = yield* first(
          tx
            .select({ userId: t.blocks.userId })
            .from(t.blocks)
            .where(and(eq(t.blocks.blockedId, input.addedBy), inArray(t.blocks.userId, invited)))
            .limit(1),
        )
        if (blocker) return 'blocked'
      }
      const now = Date.now()
      const room = yield* inserted(tx.insert(t.rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'private', ownerId: input.ownerId }).returning())
      const members: (typeof t.members.$inferInsert)[] = [...new Set(input.members)].filter((id) => id !== input.ownerId).map((userId) => ({ roomId: room.id, userId, role: 'member', joinedAt: now }))
      if (input.ownerId !== null) members.unshift({ roomId: room.id, userId: input.ownerId, role: 'owner', joinedAt: now })
      if (members.length > 0) yield* run(tx.insert(t.members).values(members))
      yield* writeEvents(t, outbox, tx, [
        roomCreatedEvent(
          room,
          members.map((m) => m.userId),
        ),
      ])
      return toRoomRow(room)
    })
  }

  async directRoom(input: { a: string; b: string; postId: number | null; name: string }): Promise<{ room: RoomRow; created: boolean }> {
    const { t } = this.database
    const { outbox } = this
    const key = directKey(input.a, input.b, input.postId)
    return this.database.transaction(function* (tx) {
      const now = Date.now()
      // A racing transaction with the same key (on Postgres) makes this wait for it, then insert nothing.
      const created = yield* first(tx.insert(t.rooms).values({ name: input.name, postId: input.postId, createdAt: now, kind: 'direct', directKey: key }).onConflictDoNothing().returning())
      if (created) {
        yield* run(tx.insert(t.members).values([input.a, input.b].map((userId) => ({ roomId: created.id, userId, role: 'member' as const, joinedAt: now }))))
        yield* writeEvents(t, outbox, tx, [roomCreatedEvent(created, [input.a, input.b])])
        return { room: toRoomRow(created), created: true }
      }
      const existing = yield* first(tx.select().from(t.rooms).where(eq(t.rooms.directKey, key)))
      if (!existing) throw new Error('direct room insert conflicted but no room has that key')
      return { room: toRoomRow(existing), created: false }
    })
  }

  async addMember(roomId: number, userId: string, max: number, addedBy: string | null): Promise<'added' | 'already' | 'full' | 'blocked' | 'not_owner'> {
    const { t } = this.database
    const { outbox } = this
    return this.database.transaction(function* (tx) {
      // The room's lock serialises member changes, so what is read below holds until commit.
      yield* lockRoom(t, tx, roomId)
      if (addedBy !== null && (yield* roleIn(t, tx, roomId, addedBy)) !== 'owner') return 'not_owner'
      const current = yield* roleIn(t, tx, roomId, userId)
      if (current === 'owner' || current === 'member') return 'already'
      if (
        addedBy !== null &&
        (yield* first(
          tx
            .select({ n: sql<number>`1` })
            .from(t.blocks)
            .where(and(eq(t.blocks.userId, userId), eq(t.blocks.blockedId, addedBy))),
        ))
      )
        return 'blocked'
      const count = yield* first(
        tx
          .select({ n: sql<number | string>`count(*)` })
          .from(t.members)
          .where(and(eq(t.members.roomId, roomId), ne(t.members.role, 'participant'))),
      )
      if (Number(count?.n ?? 0) >= max) return 'full'
      yield* run(
        tx
          .insert(t.members)
          .values({ roomId, userId, role: 'member', joinedAt: Date.now() })
          .onConflictDoUpdate({ target: [t.members.roomId, t.members.userId], set: { role: 'member' } }),
      )
      yield* writeEvents(t, outbox, tx, [memberEvent('member.added', roomId, userId)])
      return 'added'
    })
  }

  async removeMember(roomId: number, userId: string, removedBy: string | null): Promise<{ version: number } | 'absent' | 'not_owner'> {
    const { t } = this.database
    const { outbox } = this
    return this.database.transaction(function* (tx) {
      // Under the room's lock, as appends check membership: a message of theirs commits before this, or not at all.
      yield* lockRoom(t, tx, roomId)
      if (removedBy !== null && removedBy !== userId && (yield* roleIn(t, tx, roomId, removedBy)) !== 'owner') return 'not_owner'
      const removed = yield* rows(
        tx
          .delete(t.members)
          .where(and(eq(t.members.roomId, roomId), eq(t.members.userId, userId), ne(t.members.role, 'participant')))
          .returning({ userId: t.members.userId }),
      )
      if (removed.length === 0) return 'absent'
      yield* writeEvents(t, outbox, tx, [memberEvent('member.removed', roomId, userId)])
      const [room] = yield* rows(
        tx
          .update(t.rooms)
          .set({ version: sql`${t.rooms.version} + 1` })
          .where(eq(t.rooms.id, roomId))
          .returning({ version: t.rooms.version }),
      )
      // Kept where a receiver reading the room's versions back finds it (realtime/room-order.ts).
      yield* run(tx.insert(t.roomEvents).values({ roomId, version: room!.version, kind: 'evict', userId, createdAt: Date.now() }))
      return { version: room!.version }
    })
  }

  async markRead(roomId: number, userId: string, lastReadId: number): Promise<ReadMarker | null> {
    const s = this.markers
    return this.database.transaction(function* () {
      // Anyone may read an open room: a reader there gets a participant's row. Nowhere else.
      const joined = yield* s.joinOpenRoom({ roomId, userId, at: Date.now() })
      // The row locked, so concurrent markers of one user in one room take turns, and a removal
      // (which deletes it) either waits for this marker or leaves nothing to move.
      const [row] = yield* s.marker({ roomId, userId })
      const [room] = yield* s.room({ roomId })
      if (!row || (row.role === 'participant' && room?.kind !== 'open')) return null
      const before = row.lastReadId
      const marker = Math.max(before, Math.min(lastReadId, Number(room?.newest ?? 0)))
      if (marker > before) yield* s.move({ roomId, userId, marker })
      // The count and the newest message it saw in one statement, so that they agree.
      const [count] = yield* s.unread({ roomId, marker })
      return { lastReadId: marker, unreadCount: Number(count?.n ?? 0), countedUpTo: Math.max(marker, Number(count?.newest ?? 0)), moved: marker > before, joined: joined.length > 0 }
    })
  }

  async saveProfiles(profiles: readonly Identity[]): Promise<void> {
    if (profiles.length === 0) return
    const { db, t } = this.database
    const now = Date.now()
    const excluded = (column: { name: string }) => sql`excluded.${sql.identifier(column.name)}`
    await db
      .insert(t.users)
      .values(profiles.map((p) => ({ userId: p.userId, nickname: p.nickname, email: p.email, profileUrl: p.profileUrl, updatedAt: now })))
      .onConflictDoUpdate({ target: t.users.userId, set: { nickname: excluded(t.users.nickname), email: excluded(t.users.email), profileUrl: excluded(t.users.profileUrl), updatedAt: excluded(t.users.updatedAt) } })
  }

  async findDirectRoom(a: string, b: string, postId: number | null): Promise<RoomRow | undefined> {
    const [row] = await this.reads.directRoom.execute({ key: directKey(a, b, postId) })
    return row && toRoomRow(row)
  }

  async roleOf(roomId: number, userId: string): Promise<MemberRole | null> {
    const [row] = await this.reads.roleOf.execute({ roomId, userId })
    return row?.role ?? null
  }

  async roster(roomId: number, limit: number): Promise<{ userId: string; joinedAt: number }[]> {
    const rows = await this.reads.roster({ roomId, limit })
    return rows.map((r) => ({ userId: r.userId, joinedAt: Number(r.joinedAt) }))
  }

  async members(roomId: number): Promise<MemberRow[]> {
    return this.reads.members.execute({ roomId })
  }

  async membersOfRooms(roomIds: readonly number[]): Promise<Map<number, MemberRow[]>> {
    const found = new Map<number, MemberRow[]>(roomIds.map((id) => [id, []]))
    if (roomIds.length === 0) return found
    for (const { roomId, ...member } of await this.reads.membersOfRooms(roomIds.length)(listValues(roomIds))) found.get(roomId)?.push(member)
    return found
  }

  async memberCounts(roomIds: readonly number[]): Promise<Map<number, number>> {
    if (roomIds.length === 0) return new Map()
    const rows = await this.reads.memberCounts(roomIds.length).execute(listValues(roomIds))
    return new Map(rows.map((r) => [r.roomId, Number(r.count)]))
  }

  async readStates(userId: string, onlyRoom?: number): Promise<RoomReadState[]> {
    const read = onlyRoom === undefined ? this.reads.readStates : this.reads.readStateOfRoom
    return (await read({ userId, onlyRoom })).map(toReadState)
  }

  async unreadTotal(userId: string): Promise<{ total: number; rooms: number }> {
    const [row] = await this.reads.unreadTotal({ userId })
    return { total: Number(row?.total ?? 0), rooms: Number(row?.rooms ?? 0) }
  }

  async crowdedRooms(roomIds: readonly number[], cap: number): Promise<Set<number>> {
    if (roomIds.length === 0) return new Set()
    return new Set((await this.database.rows<{ id: number | string }>(crowdedRoomsQuery(this.database.t, roomIds, cap))).map((r) => Number(r.id)))
  }

  async inbox(userId: string, page: InboxPage): Promise<InboxRow[]> {
    return (await this.reads.inbox(inboxShape(page))(inboxValues(userId, page))).map(toInboxRow)
  }

  async newestMessageId(): Promise<number> {
    const [row] = await this.reads.newestMessageId({})
    return Number(row?.id ?? 0)
  }

  async block(userId: string, blockedId: string): Promise<void> {
    const { t } = this.database
    const prefix = directKey(userId, blockedId, null)
    await this.database.transaction(function* (tx) {
      // The pair's direct rooms locked first (in room order, as appends take them): a message
      // there commits before this block, or reads it where it commits and is refused.
      yield* lock(
        tx
          .select({ id: t.rooms.id })
          .from(t.rooms)
          .where(and(eq(t.rooms.kind, 'direct'), directKeyStarts(t, prefix)))
          .orderBy(asc(t.rooms.id)),
      )
      yield* run(tx.insert(t.blocks).values({ userId, blockedId, createdAt: Date.now() }).onConflictDoNothing())
    })
  }

  async unblock(userId: string, blockedId: string): Promise<void> {
    const { db, t } = this.database
    await db.delete(t.blocks).where(and(eq(t.blocks.userId, userId), eq(t.blocks.blockedId, blockedId)))
  }

  async blocksOf(userId: string): Promise<BlockRow[]> {
    return this.reads.blocksOf.execute({ userId })
  }

  async blockedEither(a: string, b: string): Promise<boolean> {
    return (await this.reads.blockedEither.execute({ a, b })).length > 0
  }

  async directRoomsOf(a: string, b: string): Promise<number[]> {
    const { db, t } = this.database
    const rows = await db
      .select({ id: t.rooms.id })
      .from(t.rooms)
      .where(and(eq(t.rooms.kind, 'direct'), directKeyStarts(t, directKey(a, b, null))))
    return rows.map((r) => r.id)
  }

  async blockersIn(roomId: number, userId: string): Promise<Set<string>> {
    return new Set((await this.reads.blockersIn({ roomId, userId })).map((r) => r.userId))
  }

  async blockersOf(roomId: number, userIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>()
    for (let i = 0; i < userIds.length; i += BLOCKERS_PER_READ) {
      const some = userIds.slice(i, i + BLOCKERS_PER_READ)
      for (const row of await this.reads.blockersOf(some.length)(listValues(some, { roomId }))) {
        let blockers = found.get(row.blockedId)
        if (!blockers) found.set(row.blockedId, (blockers = new Set()))
        blockers.add(row.userId)
      }
    }
    return found
  }
}

type Tables = SqlDatabase['t']

/** The rooms whose direct key starts with `prefix` (a pair's, whatever the post): substr is the same function on both databases (instr and starts_with are not); it counts code points. */
const directKeyStarts = (t: Tables, prefix: string) => sql`substr(${t.rooms.directKey}, 1, ${[...prefix].length}) = ${prefix}`

/** A step: locks the room's row until the transaction ends (membership changes and the writes that depend on it take turns). */
export function* lockRoom(t: Tables, tx: QueryBuilder, roomId: number) {
  yield* lock(tx.select({ id: t.rooms.id }).from(t.rooms).where(eq(t.rooms.id, roomId)))
}

/** A step: the user's role in the room, read in the transaction. */
export function* roleIn(t: Tables, tx: QueryBuilder, roomId: number, userId: string) {
  const row = yield* first(
    tx
      .select({ role: t.members.role })
      .from(t.members)
      .where(and(eq(t.members.roomId, roomId), eq(t.members.userId, userId))),
  )
  return row?.role ?? null
}

/** The statements of `markRead`, each built once. */
function prepareMarkers(database: SqlDatabase) {
  const { t } = database
  const p = sql.placeholder
  const { members, rooms } = t
  const column = (c: { name: string }) => sql.identifier(c.name)
  const where = and(eq(members.roomId, p('roomId')), eq(members.userId, p('userId')))
  return {
    joinOpenRoom: database.rawStep<{ userId: string }>(
      (value) => sql`insert into ${members} (${column(members.roomId)}, ${column(members.userId)}, ${column(members.role)}, ${column(members.lastReadId)}, ${column(members.joinedAt)})
        select ${rooms.id}, ${value('userId')}, 'participant', 0, ${value('at')} from ${rooms} where ${rooms.id} = ${value('roomId')} and ${rooms.kind} = 'open'
        on conflict do nothing returning ${column(members.userId)}`,
    ),
    marker: database.statement((tx) => tx.select({ lastReadId: members.lastReadId, role: members.role }).from(members).where(where), 'lock'),
    room: database.statement(
      (tx) =>
        tx
          .select({ newest: rooms.lastMessageId, kind: rooms.kind })
          .from(rooms)
          .where(eq(rooms.id, p('roomId'))),
      'rows',
    ),
    move: database.statement(
      (tx) =>
        tx
          .update(members)
          .set({ lastReadId: sql`${p('marker')}` })
          .where(where),
      'run',
    ),
    unread: database.rawStep<{ n: string | number; newest: string | number | null }>((value) => unreadInRoomQuery(t, value)),
  }
}

/** Users asked about in one read of who blocked them (a room's senders in a webhook pass are usually far fewer). */
const BLOCKERS_PER_READ = 16

/** Forms kept of a read over a list of rooms (`formsByLength`): an inbox page's most. */
const LIST_FORMS = 100

/** The reads on the inbox's and webhooks' paths, each built once (SqlDatabase.rawStatement), one per form of its query. */
function prepareReads(database: SqlDatabase) {
  // Each form of the inbox query is built the first time a page needs it, then kept.
  const inbox = formsOf((shape: InboxShape) => `${shape.after}/${shape.onlyRoom}/${shape.post}`)((shape) => database.rawStatement<InboxQueryRow>((value) => inboxQuery(database, value, shape)))
  const { db, t } = database
  const p = sql.placeholder
  // A member as `members` reads them: the owner first, then by joining.
  const memberColumns = { userId: t.members.userId, role: t.members.role, lastReadId: t.members.lastReadId, joinedAt: t.members.joinedAt, nickname: t.users.nickname, profileUrl: t.users.profileUrl }
  const memberOrder = [sql`${t.members.role} = 'owner' DESC`, asc(t.members.joinedAt), asc(t.members.userId)]
  // The owners and members of the rooms named (`formsByLength`).
  const membersOf = (rooms: string[]) => and(inArray(t.members.roomId, placeholders(rooms)), ne(t.members.role, 'participant'))
  // One form per number of users asked about (up to BLOCKERS_PER_READ), each built when first needed.
  const blockersOf = formsByLength(BLOCKERS_PER_READ, (users) => database.rawStatement<{ blockedId: string; userId: string }>((value) => blockersOfQuery(t, value, users)))
  return {
    inbox,
    blockersOf,
    // An inbox page's or a room list's rooms (at most a page each).
    memberCounts: formsByLength(LIST_FORMS, (rooms) => db.select({ roomId: t.members.roomId, count: sql<number | string>`count(*)` }).from(t.members).where(membersOf(rooms)).groupBy(t.members.roomId).prepare()),
    roster: database.rawStatement<{ userId: string; joinedAt: number | string }>((value) => rosterQuery(t, value)),
    blockersIn: database.rawStatement<{ userId: string }>((value) => blockersInQuery(t, value)),
    readStates: database.rawStatement<ReadStateQueryRow>((value) => readStatesQuery(database, value, false)),
    readStateOfRoom: database.rawStatement<ReadStateQueryRow>((value) => readStatesQuery(database, value, true)),
    unreadTotal: database.rawStatement<{ total: number | string; rooms: number | string }>((value) => unreadTotalQuery(database, value)),
    newestMessageId: database.rawStatement<{ id: number | string | null }>(() => sql`select max(${t.messages.id}) as "id" from ${t.messages}`),
    // Every request to a private room asks its caller's role (rooms/access.ts).
    roleOf: db
      .select({ role: t.members.role })
      .from(t.members)
      .where(and(eq(t.members.roomId, p('roomId')), eq(t.members.userId, p('userId'))))
      .prepare(),
    members: db
      .select(memberColumns)
      .from(t.members)
      .leftJoin(t.users, eq(t.users.userId, t.members.userId))
      .where(and(eq(t.members.roomId, p('roomId')), ne(t.members.role, 'participant')))
      .orderBy(...memberOrder)
      .prepare(),
    membersOfRooms: formsByLength(LIST_FORMS, (rooms) => {
      const columns = { roomId: t.members.roomId, ...memberColumns }
      return database.selectRows(
        columns,
        db
          .select(columns)
          .from(t.members)
          .leftJoin(t.users, eq(t.users.userId, t.members.userId))
          .where(membersOf(rooms))
          .orderBy(t.members.roomId, ...memberOrder)
          .prepare(),
      )
    }),
    // Every use of a direct room asks whether one of its pair blocked the other (rooms/access.ts).
    blockedEither: db
      .select({ n: sql<number>`1` })
      .from(t.blocks)
      .where(or(and(eq(t.blocks.userId, p('a')), eq(t.blocks.blockedId, p('b'))), and(eq(t.blocks.userId, p('b')), eq(t.blocks.blockedId, p('a')))))
      .limit(1)
      .prepare(),
    directRoom: db
      .select()
      .from(t.rooms)
      .where(eq(t.rooms.directKey, p('key')))
      .limit(1)
      .prepare(),
    blocksOf: db
      .select({ userId: t.blocks.blockedId, createdAt: t.blocks.createdAt })
      .from(t.blocks)
      .where(eq(t.blocks.userId, p('userId')))
      .orderBy(asc(t.blocks.createdAt))
      .prepare(),
  }
}
