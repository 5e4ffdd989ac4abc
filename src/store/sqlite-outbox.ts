import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import { reports, webhookEvents, webhookLanes } from '../db/schema.ts'
import type { SqliteDb } from '../db/sqlite.ts'
import { eventRows, laneOf, leaseQuery, toEventRow, type NewWebhookEvent, type Outbox, type ReportRow, type WebhookEventRow } from './outbox.ts'

type Tx = Parameters<Parameters<SqliteDb['transaction']>[0]>[0]

/** Writes events in the caller's transaction, if the outbox is on. */
export function writeSqliteEvents(outbox: Outbox, tx: SqliteDb | Tx, events: readonly NewWebhookEvent[]): void {
  if (!outbox.enabled || events.length === 0) return
  tx.insert(webhookEvents).values(eventRows(events, Date.now())).run()
}

/** The outbox on SQLite: one process writes, so a claim is a plain update. */
export class SqliteOutbox implements Outbox {
  enabled = false

  /** Statements run for every pass: prepared once. */
  private readonly pending

  constructor(private readonly db: SqliteDb) {
    this.pending = db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.lane, sql.placeholder('lane')), eq(webhookEvents.status, 'pending')))
      .orderBy(asc(webhookEvents.id))
      .limit(sql.placeholder('limit'))
      .prepare()
  }

  async leaseLanes(instance: string, now: number, leaseMs: number, most: number): Promise<number[]> {
    return this.db.all<{ lane: number }>(leaseQuery(instance, now, leaseMs, most)).map((r) => Number(r.lane))
  }

  async releaseLanes(instance: string): Promise<void> {
    this.db.update(webhookLanes).set({ owner: null, until: null }).where(eq(webhookLanes.owner, instance)).run()
  }

  async pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]> {
    return this.pending.all({ lane, limit }).map((row) => toEventRow(row))
  }

  async delivered(ids: readonly number[], now: number): Promise<void> {
    if (ids.length === 0) return
    this.db
      .update(webhookEvents)
      .set({ status: 'delivered', finishedAt: now, attempts: sql`${webhookEvents.attempts} + 1` })
      .where(and(inArray(webhookEvents.id, [...ids]), eq(webhookEvents.status, 'pending')))
      .run()
  }

  async failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void> {
    const next = retryAt === null ? { status: 'dead' as const, finishedAt: now } : { nextAttemptAt: retryAt }
    this.db
      .update(webhookEvents)
      .set({ ...next, data, lastError: error.slice(0, 500), attempts: sql`${webhookEvents.attempts} + 1` })
      .where(and(eq(webhookEvents.id, id), eq(webhookEvents.status, 'pending')))
      .run()
  }

  async stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }> {
    const [row] = this.db.all<{ pending: number; oldest: number | null; dead: number }>(
      sql`select (select count(*) from webhook_events where status = 'pending') as pending, (select min(created_at) from webhook_events where status = 'pending') as oldest, (select count(*) from webhook_events where status = 'dead') as dead`,
    )
    return { pending: Number(row?.pending ?? 0), oldestPendingMs: row?.oldest == null ? 0 : now - Number(row.oldest), dead: Number(row?.dead ?? 0) }
  }

  async dead(limit: number, afterId: number): Promise<WebhookEventRow[]> {
    return this.db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.status, 'dead'), gt(webhookEvents.id, afterId)))
      .orderBy(asc(webhookEvents.id))
      .limit(limit)
      .all()
      .map((row) => toEventRow(row))
  }

  async requeue(ids: readonly number[] | 'all', now: number): Promise<number> {
    const which = ids === 'all' ? eq(webhookEvents.status, 'dead') : and(eq(webhookEvents.status, 'dead'), inArray(webhookEvents.id, [...ids]))
    return this.db.update(webhookEvents).set({ status: 'pending', nextAttemptAt: now, createdAt: now, finishedAt: null, lastError: null }).where(which).returning({ id: webhookEvents.id }).all().length
  }

  async prune(before: number): Promise<number> {
    return this.db
      .delete(webhookEvents)
      .where(and(eq(webhookEvents.status, 'delivered'), lt(webhookEvents.finishedAt, before)))
      .returning({ id: webhookEvents.id })
      .all().length
  }

  async addReport(input: Omit<ReportRow, 'id' | 'createdAt'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow> {
    return this.db.transaction((tx) => {
      const [report] = tx.insert(reports).values({ ...input, createdAt: Date.now() }).returning().all()
      if (!report) throw new Error('insert into reports returned no row')
      writeSqliteEvents(this, tx, [{ key: report.roomId === null ? `user:${report.userId}` : `room:${report.roomId}`, type: 'report.created', data: toData(report) }])
      return report
    })
  }

  async reports(limit: number, afterId: number): Promise<ReportRow[]> {
    return this.db.select().from(reports).where(gt(reports.id, afterId)).orderBy(asc(reports.id)).limit(limit).all()
  }
}
