import type { SQL } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import { reports, webhookEvents } from '../db/schema.ts'
import type { SqliteDb } from '../db/sqlite.ts'
import { eventRows, type NewWebhookEvent, type Outbox } from './outbox.ts'
import { SqlOutbox, type OutboxDatabase } from './sql-outbox.ts'

type Tx = Parameters<Parameters<SqliteDb['transaction']>[0]>[0]

/** Writes events in the caller's transaction, if the outbox is on. */
export function writeSqliteEvents(outbox: Outbox, tx: SqliteDb | Tx, events: readonly NewWebhookEvent[]): void {
  if (!outbox.enabled || events.length === 0) return
  tx.insert(webhookEvents).values(eventRows(events, Date.now())).run()
}

/** The outbox on SQLite: one process writes, so a claim is a plain update. */
export function sqliteOutbox(db: SqliteDb): SqlOutbox {
  // Statements go through bun:sqlite's cache by their text: a pass runs the same few again and again.
  const dialect = new SQLiteSyncDialect()
  const statement = (query: SQL) => {
    const { sql, params } = dialect.sqlToQuery(query)
    return { statement: db.$client.query<Record<string, unknown>, never[]>(sql), params: params as never[] }
  }
  const database: OutboxDatabase = {
    async rows(query) {
      const { statement: s, params } = statement(query)
      return s.all(...params)
    },
    async transaction(queries) {
      const prepared = queries.map(statement)
      db.$client.transaction(() => {
        for (const { statement: s, params } of prepared) s.run(...params)
      })()
    },
    async insertReport(input, event) {
      return db.transaction((tx) => {
        const [report] = tx
          .insert(reports)
          .values({ ...input, createdAt: Date.now() })
          .returning()
          .all()
        if (!report) throw new Error('insert into reports returned no row')
        writeSqliteEvents(outbox, tx, [event(report)])
        return report
      })
    },
  }
  const outbox = new SqlOutbox(database)
  return outbox
}
