import { reports, webhookEvents } from '../db/pg-schema.ts'
import type { PgDb } from '../db/postgres.ts'
import { eventRows, toReportRow, type NewWebhookEvent, type Outbox } from './outbox.ts'
import { SqlOutbox, type OutboxDatabase } from './sql-outbox.ts'

type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

/** Writes events in the caller's transaction, if the outbox is on. */
export async function writePgEvents(outbox: Outbox, tx: PgDb | Tx, events: readonly NewWebhookEvent[]): Promise<void> {
  if (!outbox.enabled || events.length === 0) return
  await tx.insert(webhookEvents).values(eventRows(events, Date.now()))
}

/** The outbox on Postgres: lanes are leased with a re-checked update, so two instances never share one. */
export function postgresOutbox(db: PgDb): SqlOutbox {
  const database: OutboxDatabase = {
    rows: async (query) => [...(await db.execute(query))] as Record<string, unknown>[],
    async transaction(queries) {
      await db.transaction(async (tx) => {
        for (const query of queries) await tx.execute(query)
      })
    },
    async insertReport(input, event) {
      return db.transaction(async (tx) => {
        const [report] = await tx
          .insert(reports)
          .values({ ...input, createdAt: Date.now() })
          .returning()
        if (!report) throw new Error('insert into reports returned no row')
        await writePgEvents(outbox, tx, [event(toReportRow(report))])
        return toReportRow(report)
      })
    },
  }
  const outbox = new SqlOutbox(database)
  return outbox
}
