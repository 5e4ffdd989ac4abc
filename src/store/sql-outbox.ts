import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import type { webhookEvents } from '../db/schema.ts'
import { LANES, laneOf, reportEvent, writeEvents, type Deliveries, type Outbox, type ReportRow, type RoomBehind, type WebhookEventRow, type WebhookType } from './outbox.ts'
import { raw, run, type SqlDatabase } from './sql-database.ts'
import { inserted } from './sql-membership.ts'

/** The outbox (see `Outbox`), written once for both databases. */
export class SqlOutbox implements Outbox {
  enabled = false
  written: (lanes: readonly number[]) => void = () => {}
  /** A delivery pass's reads, prepared once (they run for every lane, every pass). */
  private readonly reads
  /** A room's cursor moved forward (never back), as each delivery records it: built once. */
  private readonly moveCursor

  constructor(private readonly database: SqlDatabase) {
    const { db, t } = database
    const p = sql.placeholder
    const events = t.webhookEvents
    this.reads = {
      pending: db
        .select()
        .from(events)
        .where(and(eq(events.lane, p('lane')), eq(events.status, 'pending')))
        .orderBy(asc(events.lane), asc(events.position), asc(events.id))
        .limit(p('limit'))
        .prepare(),
      roomsBehind: db
        .select({ roomId: t.rooms.id, after: t.rooms.webhookMessageId, newest: t.rooms.lastMessageId, version: t.rooms.version })
        .from(t.rooms)
        .where(and(sql`${this.roomLane} = ${p('lane')}`, this.behind, gt(t.rooms.id, p('afterRoom'))))
        .orderBy(asc(t.rooms.id))
        .limit(p('limit'))
        .prepare(),
    }
    this.moveCursor = database.statement(
      (tx) =>
        tx
          .update(t.rooms)
          .set({ webhookMessageId: sql`${p('message')}` })
          .where(and(eq(t.rooms.id, p('room')), lt(t.rooms.webhookMessageId, p('message')))),
      'run',
    )
  }

  /** A room's lane, as the rooms' `rooms_webhook_behind` index has it, so that the index serves it. */
  private get roomLane() {
    return sql`(${this.database.t.rooms.id} % ${sql.raw(String(LANES))})`
  }

  /** The rooms whose messages are not all sent (the predicate of the rooms' `rooms_webhook_behind` index). */
  private get behind() {
    const { rooms } = this.database.t
    return sql`${rooms.lastMessageId} > ${rooms.webhookMessageId}`
  }

  async follow(on: boolean): Promise<void> {
    const { db, t } = this.database
    const [row] = await db.select({ on: t.meta.webhooksOn }).from(t.meta)
    if (on === (row?.on === 1)) return
    const behind = this.behind
    await this.database.transaction(function* (tx) {
      if (on)
        yield* run(
          tx
            .update(t.rooms)
            .set({ webhookMessageId: sql`coalesce(${t.rooms.lastMessageId}, 0)` })
            .where(behind),
        )
      yield* run(tx.update(t.meta).set({ webhooksOn: on ? 1 : 0 }))
    })
  }

  /**
   * Takes this instance's lanes back and free or expired ones, in one statement. The condition is
   * repeated outside the subquery: on Postgres, a row another instance leased meanwhile is checked
   * again as it is now, and left to it.
   */
  async leaseLanes(instance: string, now: number, leaseMs: number, most: number, freeSince = now): Promise<number[]> {
    const { db, t } = this.database
    const lanes = t.webhookLanes
    // Its own, those nobody holds (a released lane since `freeSince`), and those whose lease ran out.
    const takeable = sql`(${lanes.owner} = ${instance} or (${lanes.owner} is null and coalesce(${lanes.until}, 0) <= ${freeSince}) or ${lanes.until} < ${now})`
    const chosen = db.select({ lane: lanes.lane }).from(lanes).where(takeable).orderBy(sql`case when ${lanes.owner} = ${instance} then 0 else 1 end`, asc(lanes.lane)).limit(most)
    const leased = await db
      .update(lanes)
      .set({ owner: instance, until: now + leaseMs })
      .where(and(takeable, inArray(lanes.lane, chosen)))
      .returning({ lane: lanes.lane })
    return leased.map((r) => r.lane)
  }

  async releaseLanes(instance: string, only?: readonly number[], now?: number): Promise<void> {
    const { db, t } = this.database
    const lanes = t.webhookLanes
    // A lane given up for another instance keeps when it was released (`until`), so that one takes it first.
    await db
      .update(lanes)
      .set({ owner: null, until: now ?? null })
      .where(and(eq(lanes.owner, instance), only === undefined ? undefined : inArray(lanes.lane, [...only])))
  }

  async pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]> {
    return (await this.reads.pending.execute({ lane, limit })).map(toEventRow)
  }

  async roomsBehind(lane: number, limit: number, afterRoom = 0): Promise<RoomBehind[]> {
    return this.reads.roomsBehind.execute({ lane, limit, afterRoom })
  }

  async lanesWithWork(lanes: readonly number[]): Promise<number[]> {
    const wanted = lanes.filter((lane) => Number.isSafeInteger(lane) && lane >= 0 && lane < LANES)
    if (wanted.length === 0) return []
    const { t } = this.database
    const e = t.webhookEvents
    const r = t.rooms
    // Two probes of the partial indexes per lane, in one statement: a poll of every lane an
    // instance holds costs one query, not two per lane. The lanes are numbers checked above.
    const list = sql.raw(wanted.map((lane) => `(${lane})`).join(', '))
    const rows = await this.database.rows<{ lane: number | string }>(sql`select v.column1 as "lane" from (values ${list}) as v
      where exists (select 1 from ${e} where ${e.lane} = v.column1 and ${e.status} = 'pending')
         or exists (select 1 from ${r} where ${this.roomLane} = v.column1 and ${this.behind})`)
    return rows.map((row) => Number(row.lane)).sort((x, y) => x - y)
  }

  async delivered(done: Deliveries, now: number): Promise<void> {
    if (done.events.length === 0 && done.rooms.size === 0) return
    const { t } = this.database
    const events = t.webhookEvents
    const moveCursor = this.moveCursor
    await this.database.transaction(function* () {
      if (done.events.length > 0) {
        yield* raw(sql`update ${events} set ${column(events.status)} = 'delivered', ${column(events.finishedAt)} = ${now}, ${column(events.attempts)} = ${events.attempts} + 1
          where ${inArray(events.id, done.events)} and ${events.status} = 'pending'`)
      }
      // A cursor only moves forward (a retried message's row may be recorded after later ones). Rooms
      // in ascending order, as appends lock them: in another order two transactions could each hold
      // a room the other waits for (Postgres answered such passes with a deadlock, and they were sent again).
      for (const [room, message] of [...done.rooms].sort((x, y) => x[0] - y[0])) yield* moveCursor({ room, message })
    })
  }

  async failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void> {
    const { db, t } = this.database
    const events = t.webhookEvents
    const next = retryAt === null ? { status: 'dead' as const, finishedAt: now } : { nextAttemptAt: retryAt }
    await db
      .update(events)
      .set({ ...next, data, lastError: error.slice(0, 500), attempts: sql`${events.attempts} + 1` })
      .where(and(eq(events.id, id), eq(events.status, 'pending')))
  }

  async messageFailed(message: { id: number; roomId: number; createdAt: number }, data: string, error: string, retryAt: number | null, now: number): Promise<void> {
    const { t } = this.database
    const key = `room:${message.roomId}`
    const dead = retryAt === null
    await this.database.transaction(function* (tx) {
      // Just before the message's own place: after everything of the room that was already sent.
      const event = { key, lane: laneOf(key), type: 'message.created', data, createdAt: message.createdAt, attempts: 1, lastError: error.slice(0, 500), position: message.id - 1 }
      yield* run(tx.insert(t.webhookEvents).values({ ...event, status: dead ? 'dead' : 'pending', nextAttemptAt: retryAt ?? now, finishedAt: dead ? now : null }))
      yield* run(moveCursor(t, tx, message.roomId, message.id))
    })
  }

  async stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }> {
    const { t } = this.database
    const e = t.webhookEvents
    const r = alias(t.rooms, 'r')
    const m = alias(t.messages, 'm')
    // A room's pending messages: its count less the position of the newest one sent (one seek each).
    const sentSeq = sql`coalesce((select ${m.seq} from ${t.messages} ${m} where ${m.id} = ${r.webhookMessageId}), 0)`
    const firstUnsent = sql`(select ${m.createdAt} from ${t.messages} ${m} where ${m.roomId} = ${r.id} and ${m.id} > ${r.webhookMessageId} order by ${m.id} limit 1)`
    const roomsBehind = sql`from ${t.rooms} ${r} where ${r.lastMessageId} > ${r.webhookMessageId}`
    const [row] = await this.database.rows<Record<'events' | 'oldestEvent' | 'dead' | 'messages' | 'oldestMessage', number | string | null>>(sql`select
      (select count(*) from ${e} where ${e.status} = 'pending') as "events",
      (select min(${e.createdAt}) from ${e} where ${e.status} = 'pending') as "oldestEvent",
      (select count(*) from ${e} where ${e.status} = 'dead') as "dead",
      (select coalesce(sum(${r.lastSeq} - ${sentSeq}), 0) ${roomsBehind}) as "messages",
      (select min(${firstUnsent}) ${roomsBehind}) as "oldestMessage"`)
    const oldest = [row?.oldestEvent, row?.oldestMessage].filter((v) => v !== null && v !== undefined).map(Number)
    return { pending: Number(row?.events ?? 0) + Number(row?.messages ?? 0), oldestPendingMs: oldest.length === 0 ? 0 : now - Math.min(...oldest), dead: Number(row?.dead ?? 0) }
  }

  async dead(limit: number, afterId: number): Promise<WebhookEventRow[]> {
    const { db, t } = this.database
    const events = t.webhookEvents
    const rows = await db
      .select()
      .from(events)
      .where(and(eq(events.status, 'dead'), gt(events.id, afterId)))
      .orderBy(asc(events.id))
      .limit(limit)
    return rows.map(toEventRow)
  }

  async requeue(ids: readonly number[] | 'all', now: number): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const { db, t } = this.database
    const events = t.webhookEvents
    const which = ids === 'all' ? eq(events.status, 'dead') : and(eq(events.status, 'dead'), inArray(events.id, [...ids]))
    const requeued = await db.update(events).set({ status: 'pending', nextAttemptAt: now, createdAt: now, finishedAt: null, lastError: null }).where(which).returning({ id: events.id })
    return requeued.length
  }

  async prune(before: number): Promise<number> {
    const { db, t } = this.database
    const events = t.webhookEvents
    const pruned = await db
      .delete(events)
      .where(and(eq(events.status, 'delivered'), lt(events.finishedAt, before)))
      .returning({ id: events.id })
    return pruned.length
  }

  async addReport(input: Omit<ReportRow, 'id' | 'createdAt' | 'status' | 'closedAt' | 'closedBy'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow> {
    const { t } = this.database
    const outbox = this
    return this.database.transaction(function* (tx) {
      const report = yield* inserted(
        tx
          .insert(t.reports)
          .values({ ...input, createdAt: Date.now() })
          .returning(),
      )
      yield* writeEvents(t, outbox, tx, [reportEvent(report, toData(report))])
      return report
    })
  }

  async reports(limit: number, afterId: number): Promise<ReportRow[]> {
    const { db, t } = this.database
    return db.select().from(t.reports).where(gt(t.reports.id, afterId)).orderBy(asc(t.reports.id)).limit(limit)
  }
}

/** A column as SET names it: unqualified. */
const column = (c: { name: string }) => sql.identifier(c.name)

/** Moves a room's webhook cursor forward to `message` (never back). */
function moveCursor(t: SqlDatabase['t'], tx: SqlDatabase['db'], roomId: number, message: number) {
  return tx
    .update(t.rooms)
    .set({ webhookMessageId: message })
    .where(and(eq(t.rooms.id, roomId), lt(t.rooms.webhookMessageId, message)))
}

/** An outbox row as the outbox hands it out. */
const toEventRow = (row: typeof webhookEvents.$inferSelect): WebhookEventRow => ({
  id: row.id,
  key: row.key,
  type: row.type as WebhookType,
  data: row.data,
  createdAt: row.createdAt,
  status: row.status,
  attempts: row.attempts,
  nextAttemptAt: row.nextAttemptAt,
  lastError: row.lastError,
  finishedAt: row.finishedAt,
  position: row.position,
})
