import { sql, type SQL } from 'drizzle-orm'
import { eventColumns, LANES, laneOf, listOf, toEventRow, toReportRow, reportEvent, type Deliveries, type NewWebhookEvent, type Outbox, type ReportRow, type RoomBehind, type WebhookEventRow } from './outbox.ts'

/** What the outbox needs of its database; the statements below read the same on SQLite and Postgres. */
export interface OutboxDatabase {
  /** Runs a query; its rows, with the columns as named (Postgres gives bigints as strings). */
  rows(query: SQL): Promise<Record<string, unknown>[]>
  /** Runs statements in one transaction. */
  transaction(queries: readonly SQL[]): Promise<void>
  /** Stores a report and, in the same transaction, the event it makes. */
  insertReport(input: Omit<ReportRow, 'id' | 'createdAt'>, event: (report: ReportRow) => NewWebhookEvent): Promise<ReportRow>
}

/** The lane expression, written as the rooms' index is, so the index serves it. */
const roomLane = sql.raw(`(id % ${LANES})`)

/** The rooms whose messages are not all sent (the predicate of that index). */
const behind = sql.raw('last_message_id > webhook_message_id')

/**
 * Takes this instance's lanes back and free or expired ones, in one statement. The condition is
 * repeated outside the subquery: on Postgres, a row another instance leased meanwhile is checked
 * again as it is now, and left to it.
 */
function leaseQuery(instance: string, now: number, leaseMs: number, most: number) {
  const takeable = sql`(owner = ${instance} or owner is null or until < ${now})`
  return sql`update webhook_lanes set owner = ${instance}, until = ${now + leaseMs}
    where ${takeable} and lane in (select lane from webhook_lanes where ${takeable} order by case when owner = ${instance} then 0 else 1 end, lane limit ${most})
    returning lane`
}

/** The outbox (see `Outbox`), in SQL both databases run. */
export class SqlOutbox implements Outbox {
  enabled = false

  constructor(private readonly db: OutboxDatabase) {}

  async follow(on: boolean): Promise<void> {
    const [row] = await this.db.rows(sql`select webhooks_on as "on" from meta`)
    const wasOn = Number(row?.on ?? 0) === 1
    if (on === wasOn) return
    if (!on) return this.db.transaction([sql`update meta set webhooks_on = 0`])
    await this.db.transaction([sql`update rooms set webhook_message_id = coalesce(last_message_id, 0) where ${behind}`, sql`update meta set webhooks_on = 1`])
  }

  async leaseLanes(instance: string, now: number, leaseMs: number, most: number): Promise<number[]> {
    return (await this.db.rows(leaseQuery(instance, now, leaseMs, most))).map((r) => Number(r.lane))
  }

  async releaseLanes(instance: string): Promise<void> {
    await this.db.transaction([sql`update webhook_lanes set owner = null, until = null where owner = ${instance}`])
  }

  async pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]> {
    const rows = await this.db.rows(sql`select ${eventColumns} from webhook_events where lane = ${lane} and status = 'pending' order by lane, "position", id limit ${limit}`)
    return rows.map(toEventRow)
  }

  async roomsBehind(lane: number, limit: number, afterRoom = 0): Promise<RoomBehind[]> {
    const rows = await this.db.rows(sql`select id, webhook_message_id as "after" from rooms where ${roomLane} = ${lane} and ${behind} and id > ${afterRoom} order by id limit ${limit}`)
    return rows.map((r) => ({ roomId: Number(r.id), after: Number(r.after) }))
  }

  async delivered(done: Deliveries, now: number): Promise<void> {
    const statements: SQL[] = []
    if (done.events.length > 0) statements.push(sql`update webhook_events set status = 'delivered', finished_at = ${now}, attempts = attempts + 1 where id in (${listOf(done.events)}) and status = 'pending'`)
    // A cursor only moves forward (a retried message's row may be recorded after later ones).
    for (const [room, message] of done.rooms) statements.push(sql`update rooms set webhook_message_id = ${message} where id = ${room} and webhook_message_id < ${message}`)
    if (statements.length > 0) await this.db.transaction(statements)
  }

  async failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void> {
    const next = retryAt === null ? sql`status = 'dead', finished_at = ${now}` : sql`next_attempt_at = ${retryAt}`
    await this.db.transaction([sql`update webhook_events set ${next}, data = ${data}, last_error = ${error.slice(0, 500)}, attempts = attempts + 1 where id = ${id} and status = 'pending'`])
  }

  async messageFailed(message: { id: number; roomId: number; createdAt: number }, data: string, error: string, retryAt: number | null, now: number): Promise<void> {
    const key = `room:${message.roomId}`
    const [status, next, finished] = retryAt === null ? ['dead', now, now] : ['pending', retryAt, null]
    // Just before the message's own place: after everything of the room that was already sent.
    const position = message.id - 1
    await this.db.transaction([
      sql`insert into webhook_events ("key", lane, type, data, created_at, status, attempts, next_attempt_at, last_error, finished_at, "position")
        values (${key}, ${laneOf(key)}, 'message.created', ${data}, ${message.createdAt}, ${status}, 1, ${next}, ${error.slice(0, 500)}, ${finished}, ${position})`,
      sql`update rooms set webhook_message_id = ${message.id} where id = ${message.roomId} and webhook_message_id < ${message.id}`,
    ])
  }

  async stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }> {
    // A room's pending messages: its count less the position of the newest one sent (one seek each).
    const [row] = await this.db.rows(sql`select
      (select count(*) from webhook_events where status = 'pending') as "events",
      (select min(created_at) from webhook_events where status = 'pending') as "oldestEvent",
      (select count(*) from webhook_events where status = 'dead') as "dead",
      (select coalesce(sum(r.last_seq - coalesce((select m.seq from messages m where m.id = r.webhook_message_id), 0)), 0) from rooms r where r.last_message_id > r.webhook_message_id) as "messages",
      (select min((select m.created_at from messages m where m.room_id = r.id and m.id > r.webhook_message_id order by m.id limit 1)) from rooms r where r.last_message_id > r.webhook_message_id) as "oldestMessage"`)
    const oldest = [row?.oldestEvent, row?.oldestMessage].filter((v) => v !== null && v !== undefined).map(Number)
    return { pending: Number(row?.events ?? 0) + Number(row?.messages ?? 0), oldestPendingMs: oldest.length === 0 ? 0 : now - Math.min(...oldest), dead: Number(row?.dead ?? 0) }
  }

  async dead(limit: number, afterId: number): Promise<WebhookEventRow[]> {
    return (await this.db.rows(sql`select ${eventColumns} from webhook_events where status = 'dead' and id > ${afterId} order by id limit ${limit}`)).map(toEventRow)
  }

  async requeue(ids: readonly number[] | 'all', now: number): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0
    const which = ids === 'all' ? sql`status = 'dead'` : sql`status = 'dead' and id in (${listOf(ids)})`
    return (await this.db.rows(sql`update webhook_events set status = 'pending', next_attempt_at = ${now}, created_at = ${now}, finished_at = null, last_error = null where ${which} returning id`)).length
  }

  async prune(before: number): Promise<number> {
    return (await this.db.rows(sql`delete from webhook_events where status = 'delivered' and finished_at < ${before} returning id`)).length
  }

  addReport(input: Omit<ReportRow, 'id' | 'createdAt'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow> {
    return this.db.insertReport(input, (report) => reportEvent(report, toData(report)))
  }

  async reports(limit: number, afterId: number): Promise<ReportRow[]> {
    const rows = await this.db.rows(
      sql`select id, reporter_id as "reporterId", message_id as "messageId", room_id as "roomId", user_id as "userId", reason, created_at as "createdAt" from reports where id > ${afterId} order by id limit ${limit}`,
    )
    return rows.map(toReportRow)
  }
}
