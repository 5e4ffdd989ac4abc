import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import { reports, webhookEvents, webhookLanes } from '../db/pg-schema.ts'
import type { PgDb } from '../db/postgres.ts'
import { eventRows, laneOf, leaseQuery, toEventRow, type NewWebhookEvent, type Outbox, type ReportRow, type WebhookEventRow } from './outbox.ts'

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

/** Writes events in the caller's transaction, if the outbox is on. */
export async function writePgEvents(outbox: Outbox, tx: PgDb | Tx, events: readonly NewWebhookEvent[]): Promise<void> {
  if (!outbox.enabled || events.length === 0) return
  await tx.insert(webhookEvents).values(eventRows(events, Date.now()))
}

/** The outbox on Postgres: instances claim with FOR UPDATE SKIP LOCKED, for a lease. */
export class PostgresOutbox implements Outbox {
  enabled = false

  constructor(private readonly db: PgDb) {}

  async leaseLanes(instance: string, now: number, leaseMs: number, most: number): Promise<number[]> {
    return [...(await this.db.execute(leaseQuery(instance, now, leaseMs, most)))].map((r) => Number((r as { lane: number }).lane))
  }

  async releaseLanes(instance: string): Promise<void> {
    await this.db.update(webhookLanes).set({ owner: null, until: null }).where(eq(webhookLanes.owner, instance))
  }

  async pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]> {
    const rows = await this.db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.lane, lane), eq(webhookEvents.status, 'pending')))
      .orderBy(asc(webhookEvents.id))
      .limit(limit)
    return rows.map((row) => toEventRow(row))
  }

  async delivered(ids: readonly number[], now: number): Promise<void> {
    if (ids.length === 0) return
    await this.db
      .update(webhookEvents)
      .set({ status: 'delivered', finishedAt: now, attempts: sql`${webhookEvents.attempts} + 1` })
      .where(and(inArray(webhookEvents.id, [...ids]), eq(webhookEvents.status, 'pending')))
  }

  async failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void> {
    const next = retryAt === null ? { status: 'dead' as const, finishedAt: now } : { nextAttemptAt: retryAt }
    await this.db
      .update(webhookEvents)
      .set({ ...next, data, lastError: error.slice(0, 500), attempts: sql`${webhookEvents.attempts} + 1` })
      .where(and(eq(webhookEvents.id, id), eq(webhookEvents.status, 'pending')))
  }

  async stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }> {
    const [row] = [
      ...(await this.db.execute(
        sql`select (select count(*) from webhook_events where status = 'pending') as pending, (select min(created_at) from webhook_events where status = 'pending') as oldest, (select count(*) from webhook_events where status = 'dead') as dead`,
      )),
    ] as { pending: string; oldest: string | null; dead: string }[]
    return { pending: Number(row?.pending ?? 0), oldestPendingMs: row?.oldest == null ? 0 : now - Number(row.oldest), dead: Number(row?.dead ?? 0) }
  }

  async dead(limit: number, afterId: number): Promise<WebhookEventRow[]> {
    const rows = await this.db
      .select()
      .from(webhookEvents)
      .where(and(eq(webhookEvents.status, 'dead'), gt(webhookEvents.id, afterId)))
      .orderBy(asc(webhookEvents.id))
      .limit(limit)
    return rows.map((row) => toEventRow(row))
  }

  async requeue(ids: readonly number[] | 'all', now: number): Promise<number> {
    const which = ids === 'all' ? eq(webhookEvents.status, 'dead') : and(eq(webhookEvents.status, 'dead'), inArray(webhookEvents.id, [...ids]))
    const rows = await this.db.update(webhookEvents).set({ status: 'pending', nextAttemptAt: now, createdAt: now, finishedAt: null, lastError: null }).where(which).returning({ id: webhookEvents.id })
    return rows.length
  }

  async prune(before: number): Promise<number> {
    const rows = await this.db
      .delete(webhookEvents)
      .where(and(eq(webhookEvents.status, 'delivered'), lt(webhookEvents.finishedAt, before)))
      .returning({ id: webhookEvents.id })
    return rows.length
  }

  async addReport(input: Omit<ReportRow, 'id' | 'createdAt'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow> {
    return this.db.transaction(async (tx) => {
      const [report] = await tx.insert(reports).values({ ...input, createdAt: Date.now() }).returning()
      if (!report) throw new Error('insert into reports returned no row')
      await writePgEvents(this, tx, [{ key: report.roomId === null ? `user:${report.userId}` : `room:${report.roomId}`, type: 'report.created', data: toData(report) }])
      return report
    })
  }

  async reports(limit: number, afterId: number): Promise<ReportRow[]> {
    return this.db.select().from(reports).where(gt(reports.id, afterId)).orderBy(asc(reports.id)).limit(limit)
  }
}
