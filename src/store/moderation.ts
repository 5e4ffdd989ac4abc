import { and, asc, eq, gt, inArray, isNull, or, sql, type SQL } from 'drizzle-orm'
import { memberEvent, writeEvents, type Outbox, type ReportRow, type ReportStatus } from './outbox.ts'
import { first, rows, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'
import type { Tables } from './membership.ts'
import { lockRoom, roleIn } from './sql-membership.ts'
import type { SanctionKind } from './write-rules.ts'

/**
 * Moderation's rows, written once for both databases: moderators, mutes and bans, word filters,
 * the audit log and the report queue. Every action is one transaction with its audit entry; a
 * mute or ban takes the room's lock first, as appends do when they read them (write-rules.ts).
 */

/** A mute or ban in force (or expired, not yet cleared). */
export interface Sanction {
  roomId: number
  userId: string
  kind: SanctionKind
  /** When it ends (ms), or null: until lifted. */
  until: number | null
  /** Who imposed it (null: the app's backend). */
  by: string | null
  createdAt: number
}

export type FilterAction = 'refuse' | 'mask' | 'flag'

/** A word filter as stored. */
export interface WordFilter {
  id: number
  pattern: string
  regex: boolean
  action: FilterAction
  /** The rooms it applies to, or null: every room. */
  rooms: number[] | null
  createdAt: number
}

/** One moderation action. `actor` null: the app's backend. */
export interface AuditEntry {
  id: number
  at: number
  actor: string | null
  action: string
  roomId: number | null
  userId: string | null
  messageId: number | null
  data: Record<string, unknown> | null
}

/** What the audit log records of an action (its id and time are the log's). */
type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'>

/** A step: writes an audit entry in the action's transaction. */
function* audit(t: Tables, tx: QueryBuilder, entry: NewAuditEntry, at: number) {
  yield* run(tx.insert(t.auditLog).values({ ...entry, at, data: entry.data === null ? null : JSON.stringify(entry.data) }))
}

/** Every room, as a moderator's row names it. */
const EVERY_ROOM = 0

export class SqlModeration {
  /** A user's sanctions in force in a room: asked by every request to a room (rooms/access.ts), prepared once. */
  private readonly sanctionsOfUser
  /** Whether a user moderates a room (it, or every room): asked by moderators' sends and changes. */
  private readonly moderatorOf

  constructor(
    private readonly database: SqlDatabase,
    private readonly outbox: Outbox,
  ) {
    const { db, t } = database
    const s = t.sanctions
    const p = sql.placeholder
    this.sanctionsOfUser = db
      .select()
      .from(s)
      .where(and(eq(s.roomId, p('roomId')), eq(s.userId, p('userId')), or(isNull(s.until), gt(s.until, p('now')))))
      .prepare()
    this.moderatorOf = db
      .select({ roomId: t.moderators.roomId })
      .from(t.moderators)
      .where(and(eq(t.moderators.userId, p('userId')), inArray(t.moderators.roomId, [EVERY_ROOM, p('roomId')])))
      .limit(1)
      .prepare()
  }

  /** Makes the user a moderator of these rooms, or of every room (null), replacing what they moderated. */
  setModerator(userId: string, roomIds: readonly number[] | null, actor: string | null): Promise<void> {
    const { t } = this.database
    const at = Date.now()
    const ids = roomIds === null ? [EVERY_ROOM] : [...new Set(roomIds)]
    return this.database.transaction(function* (tx) {
      yield* run(tx.delete(t.moderators).where(eq(t.moderators.userId, userId)))
      yield* run(tx.insert(t.moderators).values(ids.map((roomId) => ({ userId, roomId, createdAt: at }))))
      yield* audit(t, tx, { actor, action: 'moderator.set', roomId: null, userId, messageId: null, data: { rooms: roomIds } }, at)
    })
  }

  /** The user moderates no room any more; false when they moderated none. */
  removeModerator(userId: string, actor: string | null): Promise<boolean> {
    const { t } = this.database
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      const gone = yield* rows(tx.delete(t.moderators).where(eq(t.moderators.userId, userId)).returning({ roomId: t.moderators.roomId }))
      if (gone.length === 0) return false
      yield* audit(t, tx, { actor, action: 'moderator.removed', roomId: null, userId, messageId: null, data: null }, at)
      return true
    })
  }

  /** The rooms the user moderates: null for none, 'every' for every room. */
  async moderatedBy(userId: string): Promise<number[] | 'every' | null> {
    const { db, t } = this.database
    const found = await db.select({ roomId: t.moderators.roomId }).from(t.moderators).where(eq(t.moderators.userId, userId))
    if (found.length === 0) return null
    return found.some((r) => r.roomId === EVERY_ROOM) ? 'every' : found.map((r) => r.roomId).sort((a, b) => a - b)
  }

  /** True when the user moderates the room (it, or every room). */
  async moderates(userId: string, roomId: number): Promise<boolean> {
    const [row] = await this.moderatorOf.execute({ userId, roomId })
    return row !== undefined
  }

  /**
   * Mutes the user in the room until `until` (null: until unmuted), replacing an earlier mute.
   * Under the room's lock: a send that commits after this is refused.
   */
  mute(roomId: number, userId: string, until: number | null, actor: string | null): Promise<void> {
    const { t } = this.database
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      yield* lockRoom(t, tx, roomId)
      yield* upsertSanction(t, tx, { roomId, userId, kind: 'mute', until, by: actor, createdAt: at })
      yield* audit(t, tx, { actor, action: 'mute', roomId, userId, messageId: null, data: { until } }, at)
    })
  }

  /**
   * Bans the user from the room: their place there ends (a private or direct room's membership, an
   * open room's participation), the room's version moves with a `room_events` row that closes their
   * sockets on every instance in the room's order, and nothing of theirs is taken there until
   * unbanned. 'owner' for a private room's owner (the room would have nobody to manage it).
   */
  ban(roomId: number, userId: string, actor: string | null): Promise<{ version: number; wasMember: boolean } | 'owner'> {
    const { t } = this.database
    const { outbox } = this
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      yield* lockRoom(t, tx, roomId)
      const role = yield* roleIn(t, tx, roomId, userId)
      if (role === 'owner') return 'owner'
      yield* upsertSanction(t, tx, { roomId, userId, kind: 'ban', until: null, by: actor, createdAt: at })
      yield* run(tx.delete(t.members).where(and(eq(t.members.roomId, roomId), eq(t.members.userId, userId))))
      const wasMember = role === 'member'
      if (wasMember) yield* writeEvents(t, outbox, tx, [memberEvent('member.removed', roomId, userId)])
      const room = yield* first(
        tx
          .update(t.rooms)
          .set({ version: sql`${t.rooms.version} + 1` })
          .where(eq(t.rooms.id, roomId))
          .returning({ version: t.rooms.version }),
      )
      // Where a receiver reading the room's versions back finds it (realtime/room-order.ts), as a removal's `evict`.
      yield* run(tx.insert(t.roomEvents).values({ roomId, version: room!.version, kind: 'ban', userId, createdAt: at }))
      yield* audit(t, tx, { actor, action: 'ban', roomId, userId, messageId: null, data: null }, at)
      return { version: room!.version, wasMember }
    })
  }

  /** Lifts a mute or a ban; false when there was none. A ban lifted gives no place back: a private room's owner adds them again. */
  lift(roomId: number, userId: string, kind: SanctionKind, actor: string | null): Promise<boolean> {
    const { t } = this.database
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      const gone = yield* rows(
        tx
          .delete(t.sanctions)
          .where(and(eq(t.sanctions.roomId, roomId), eq(t.sanctions.userId, userId), eq(t.sanctions.kind, kind)))
          .returning({ userId: t.sanctions.userId }),
      )
      if (gone.length === 0) return false
      yield* audit(t, tx, { actor, action: kind === 'mute' ? 'unmute' : 'unban', roomId, userId, messageId: null, data: null }, at)
      return true
    })
  }

  /** The room's mutes and bans in force at `now`, oldest first (expired mutes are cleared on the way). */
  async sanctions(roomId: number, now: number): Promise<Sanction[]> {
    const { db, t } = this.database
    const s = t.sanctions
    await db.delete(s).where(and(eq(s.roomId, roomId), sql`${s.until} is not null and ${s.until} <= ${now}`))
    return db
      .select()
      .from(s)
      .where(and(eq(s.roomId, roomId), or(isNull(s.until), gt(s.until, now))))
      .orderBy(asc(s.createdAt), asc(s.userId))
  }

  /** The user's mute or ban in the room in force at `now` (a ban first), or null. */
  async sanctionOf(roomId: number, userId: string, now: number): Promise<Sanction | null> {
    const found = await this.sanctionsOfUser.execute({ roomId, userId, now })
    return found.find((r) => r.kind === 'ban') ?? found[0] ?? null
  }

  /** Replaces every word filter with these, in one transaction; the filters as stored. */
  replaceFilters(filters: readonly Omit<WordFilter, 'id' | 'createdAt'>[], actor: string | null): Promise<WordFilter[]> {
    const { t } = this.database
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      yield* run(tx.delete(t.wordFilters))
      const stored =
        filters.length === 0
          ? []
          : yield* rows(
              tx
                .insert(t.wordFilters)
                .values(filters.map((f) => ({ pattern: f.pattern, regex: f.regex ? 1 : 0, action: f.action, rooms: f.rooms === null ? null : JSON.stringify(f.rooms), createdAt: at })))
                .returning(),
            )
      yield* audit(t, tx, { actor, action: 'filters.replaced', roomId: null, userId: null, messageId: null, data: { filters: filters.length } }, at)
      return stored.map(toWordFilter).sort((a, b) => a.id - b.id)
    })
  }

  /** Every word filter, in the order they were set. */
  async filters(): Promise<WordFilter[]> {
    const { db, t } = this.database
    return (await db.select().from(t.wordFilters).orderBy(asc(t.wordFilters.id))).map(toWordFilter)
  }

  /** The audit log, oldest first after `after`, of a room and/or a user. */
  async audit(query: { roomId?: number; userId?: string; after: number; limit: number }): Promise<AuditEntry[]> {
    const { db, t } = this.database
    const a = t.auditLog
    const where: SQL[] = [gt(a.id, query.after)]
    if (query.roomId !== undefined) where.push(eq(a.roomId, query.roomId))
    if (query.userId !== undefined) where.push(eq(a.userId, query.userId))
    const found = await db
      .select()
      .from(a)
      .where(and(...where))
      .orderBy(asc(a.id))
      .limit(query.limit)
    return found.map((r) => ({ ...r, data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>) }))
  }

  /** Reports, oldest first after `after`, of one status or all. */
  async reports(query: { status?: ReportStatus; after: number; limit: number }): Promise<ReportRow[]> {
    const { db, t } = this.database
    const r = t.reports
    return db
      .select()
      .from(r)
      .where(and(gt(r.id, query.after), query.status === undefined ? undefined : eq(r.status, query.status)))
      .orderBy(asc(r.id))
      .limit(query.limit)
  }

  /** Resolves or dismisses a report (again: its latest decision counts), with its audit entry; null for no such report. */
  closeReport(id: number, status: Exclude<ReportStatus, 'open'>, actor: string | null): Promise<ReportRow | null> {
    const { t } = this.database
    const at = Date.now()
    return this.database.transaction(function* (tx) {
      const report = yield* first(tx.update(t.reports).set({ status, closedAt: at, closedBy: actor }).where(eq(t.reports.id, id)).returning())
      if (!report) return null
      yield* audit(t, tx, { actor, action: `report.${status}`, roomId: report.roomId, userId: report.userId, messageId: report.messageId, data: { report: id } }, at)
      return report
    })
  }
}

/**
 * A step: writes a sanction, replacing one of the same kind. The room's mutes that ended are
 * cleared on the way: while a room has any row, its writes read their senders' (write-rules.ts).
 */
function* upsertSanction(t: Tables, tx: QueryBuilder, sanction: Sanction) {
  const s = t.sanctions
  yield* run(tx.delete(s).where(and(eq(s.roomId, sanction.roomId), sql`${s.until} is not null and ${s.until} <= ${sanction.createdAt}`)))
  yield* run(
    tx
      .insert(t.sanctions)
      .values(sanction)
      .onConflictDoUpdate({ target: [t.sanctions.roomId, t.sanctions.userId, t.sanctions.kind], set: { until: sanction.until, by: sanction.by, createdAt: sanction.createdAt } }),
  )
}

const toWordFilter = (row: Tables['wordFilters']['$inferSelect']): WordFilter => ({
  id: row.id,
  pattern: row.pattern,
  regex: row.regex === 1,
  action: row.action,
  rooms: row.rooms === null ? null : (JSON.parse(row.rooms) as number[]),
  createdAt: row.createdAt,
})
